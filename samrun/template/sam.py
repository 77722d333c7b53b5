"""The SAM transform, by the official translator (aws-sam-translator), run offline.

samtranslator gives SAM's exact semantics (Globals, every event type, AutoPublishAlias, ...), but
it expects deployable S3 URIs and a boto session. So: local `CodeUri`/`ContentUri`/`Location`
paths are swapped for `s3://samrun-local/<n>` placeholders before and mapped back after
(`Placeholders`); local `DefinitionUri` files are inlined as `DefinitionBody` (APIs) or
`Definition` (state machines), as SAM CLI does;
the region comes from a stand-in session; managed policy ARNs come from the translator's own
bundled map. samtranslator is imported only here, only when a template uses the transform
(it costs about a second to import).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from samrun.errors import Location, TemplateError
from samrun.template import transform_cache

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
SERVERLESS = "AWS::Serverless::"
PLACEHOLDER_BUCKET = "samrun-local"

_LOCAL_URI_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Application": "Location",
}
_INLINED_AS = {  # a local DefinitionUri becomes this property
    "AWS::Serverless::Api": "DefinitionBody",
    "AWS::Serverless::HttpApi": "DefinitionBody",
    "AWS::Serverless::StateMachine": "Definition",
}
_QUIET = logging.NullHandler()
_ID_IN_MESSAGE = re.compile(r"\[([A-Za-z0-9]+)\]")
_UNSUPPORTED_GLOBAL = re.compile(
    r"'Globals' section is invalid\. '(\w+)' is not a supported property of '(\w+)'"
)
_REJECTED = re.compile(
    r"Resource with id \[([A-Za-z0-9]+)\] is invalid\."
    r"(?: Event with id \[([A-Za-z0-9]+)\] is invalid\.)?(.*)",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A part of a SAM template the translator rejected: the app runs without it."""

    logical_id: str
    part: str  # resource | event | property | global
    name: str | None  # the event's or the property's name (`Function.Prop` of Globals)
    message: str


@dataclass(frozen=True, slots=True)
class Transformed:
    """The SAM transform's result: CloudFormation, the SAM template with Globals merged, the
    local paths behind placeholders, and what was left out because SAM rejected it."""

    cfn: dict[str, Any]
    sam: dict[str, Any]
    placeholders: Placeholders
    rejected: list[Rejected]


@dataclass
class Placeholders:
    """Local paths stood in for by s3://samrun-local/<key> during the transform."""

    base_dir: Path
    paths: dict[str, Path] = field(default_factory=dict)

    def add(self, local: str) -> str:
        key = str(len(self.paths) + 1)
        self.paths[key] = (self.base_dir / local).resolve()
        return f"s3://{PLACEHOLDER_BUCKET}/{key}"

    def local_path(self, bucket: Any, key: Any) -> Path | None:
        """The local path an S3 location stands for, or None for a real S3 location."""
        if bucket == PLACEHOLDER_BUCKET and isinstance(key, str):
            return self.paths.get(key)
        return None


class _Session:
    """Just enough of a boto3 Session for samtranslator: a region, and no network."""

    def __init__(self, region: str) -> None:
        self.region_name = region


def has_sam_transform(data: dict[str, Any]) -> bool:
    declared = data.get("Transform", [])
    names = declared if isinstance(declared, list) else [declared]
    return SAM_TRANSFORM in names


def _is_local(uri: Any) -> bool:
    return isinstance(uri, str) and "://" not in uri


def _swap_local_paths(
    template: dict[str, Any],
    placeholders: Placeholders,
    load_definition: Callable[[Path], Any],
    locate: Callable[[tuple[str | int, ...]], Location],
) -> None:
    """Replace local code paths by placeholders and inline local API definitions, in place."""
    globals_function = template.get("Globals", {}).get("Function", {})
    if isinstance(globals_function, dict) and _is_local(globals_function.get("CodeUri")):
        globals_function["CodeUri"] = placeholders.add(globals_function["CodeUri"])
    has_global_code = isinstance(globals_function, dict) and "CodeUri" in globals_function
    for lid, resource in template.get("Resources", {}).items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Properties"), dict):
            if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
                resource["Properties"] = (
                    {} if has_global_code else {"CodeUri": placeholders.add(".")}
                )
            continue
        kind, props = resource.get("Type"), resource["Properties"]
        if kind == "AWS::Serverless::Function":
            _tag_image_to_build(lid, resource)
        location = props.get("Location")
        if kind == "AWS::Serverless::Application" and isinstance(location, dict):
            # a SAR application: the translator would call the SAR API; samrun names it instead
            app, version = location.get("ApplicationId"), location.get("SemanticVersion")
            props["Location"] = f"sar://{app}@{version}"
        prop = _LOCAL_URI_PROPERTIES.get(str(kind))
        if prop and _is_local(props.get(prop)):
            props[prop] = placeholders.add(props[prop])
        elif (
            kind == "AWS::Serverless::Function"
            and prop not in props
            and not has_global_code
            and "InlineCode" not in props
            and props.get("PackageType") != "Image"
            and "ImageUri" not in props
        ):
            props["CodeUri"] = placeholders.add(".")  # SAM CLI's default: the template folder
        if _is_local(props.get("DefinitionUri")) and kind in _INLINED_AS:
            local = placeholders.base_dir / props["DefinitionUri"]
            if not local.is_file():
                where = locate(("Resources", lid, "Properties", "DefinitionUri"))
                raise TemplateError(f"DefinitionUri {local} does not exist", where, "sam")
            del props["DefinitionUri"]
            props[_INLINED_AS[str(kind)]] = load_definition(local)  # as SAM CLI inlines it


def image_tag(logical_id: str, metadata: Any) -> str | None:
    """The tag `sam build` gives an image built from `Metadata.Dockerfile`: `<id>:<DockerTag>`."""
    if not isinstance(metadata, dict) or not metadata.get("Dockerfile"):
        return None
    return f"{logical_id.lower()}:{metadata.get('DockerTag') or 'latest'}"


def _tag_image_to_build(logical_id: str, resource: dict[str, Any]) -> None:
    """An image function built from a Dockerfile has no ImageUri yet; the transform needs one,
    so it gets the tag the build will give it (as `sam build` writes into its output template)."""
    props = resource["Properties"]
    tag = image_tag(logical_id, resource.get("Metadata"))
    if tag and props.get("PackageType") == "Image" and "ImageUri" not in props:
        props["ImageUri"] = tag


def run_transform(
    template: dict[str, Any],
    parameters: dict[str, Any],
    *,
    region: str,
    base_dir: Path,
    locate: Callable[[tuple[str | int, ...]], Location],
    load_definition: Callable[[Path], Any],
    cache_dir: Path | None = None,
) -> Transformed:
    """The SAM transform of `template`, run without whatever part of it SAM rejects.

    A template whose errors SAM pins on no resource raises TemplateError. With `cache_dir`, an
    unchanged template's transform is read back instead of run.
    """
    sam = copy.deepcopy(template)
    placeholders = Placeholders(base_dir)
    _swap_local_paths(sam, placeholders, load_definition, locate)
    key = None
    if cache_dir is not None:
        key = transform_cache.cache_key(sam, parameters, region, placeholders.paths)
        cached = transform_cache.read(cache_dir, key)
        if cached is not None:
            cfn, merged, kept = cached
            return Transformed(cfn, merged, placeholders, [Rejected(**r) for r in kept])
    cfn, merged, rejected = _translate_what_can_be(sam, parameters, region, locate)
    if cache_dir is not None and key is not None:
        transform_cache.write(cache_dir, key, cfn, merged, [asdict(r) for r in rejected])
    return Transformed(cfn, merged, placeholders, rejected)


def _translate_what_can_be(
    sam: dict[str, Any],
    parameters: dict[str, Any],
    region: str,
    locate: Callable[[tuple[str | int, ...]], Location],
) -> tuple[dict[str, Any], dict[str, Any], list[Rejected]]:
    """(CloudFormation, the SAM template with Globals merged, what SAM rejected): each
    resource, event or property SAM rejects is taken out and the transform run again, as
    SAM CLI runs the rest of a template with one broken function."""
    rejected: list[Rejected] = []
    first: TemplateError | None = None
    while True:
        attempt = copy.deepcopy(sam)  # the translator merges Globals into what it is given
        try:
            return _translate(attempt, parameters, region, locate), attempt, rejected
        except _Rejections as exc:
            first = first or exc.error
            found = [_rejection(sam, message) for message in exc.messages]
            if not all(found) or not all(_take_out(sam, r) for r in found if r):
                raise exc.error from None
            if not sam.get("Resources"):  # nothing left to run: the template's own error
                raise first from None
            rejected.extend(r for r in found if r)


def _rejection(sam: dict[str, Any], message: str) -> Rejected | None:
    """What one message of the translator rejects, or None when it names no resource."""
    unsupported = _UNSUPPORTED_GLOBAL.match(message)
    if unsupported:  # a property Globals may not set: the rest of Globals stands
        prop, section = unsupported.group(1), unsupported.group(2)
        detail = f"{message.split(' Must be one of')[0]} (the property is left out)"
        return Rejected("Globals", "global", f"{section}.{prop}", detail)
    match = _REJECTED.match(message)
    resource = (sam.get("Resources") or {}).get(match.group(1)) if match else None
    if match is None or not isinstance(resource, dict):
        return None
    lid, event, detail = match.group(1), match.group(2), match.group(3).strip()
    if event is not None:
        return Rejected(lid, "event", event, _first_definition(sam, lid, event, detail))
    props = resource.get("Properties")
    # the one property the message is about (`Cors`, `Auth` of `DefaultAuthorizer`), if any
    named = [p for p in props if p in detail] if isinstance(props, dict) else []
    if resource.get("Type") != "AWS::Serverless::Function" and len(named) == 1:
        return Rejected(lid, "property", named[0], f"{detail} (the property is left out)")
    return Rejected(lid, "resource", None, detail)


def _take_out(sam: dict[str, Any], rejected: Rejected) -> bool:
    """Remove what `rejected` names from `sam`; False when it is not there any more."""
    resources = sam.get("Resources") or {}
    if rejected.part == "global":
        section, _, prop = str(rejected.name).partition(".")
        settings = (sam.get("Globals") or {}).get(section)
        return isinstance(settings, dict) and settings.pop(prop, None) is not None
    if rejected.part == "resource":
        return resources.pop(rejected.logical_id, None) is not None
    props = resources[rejected.logical_id].get("Properties") or {}
    if rejected.part == "property":
        return props.pop(rejected.name, None) is not None
    events = props.get("Events")
    return isinstance(events, dict) and events.pop(rejected.name, None) is not None


def _first_definition(sam: dict[str, Any], lid: str, event: str, detail: str) -> str:
    """An API method defined twice: API Gateway keeps one; say which (the first, as SAM CLI
    serves it) beside the translator's message."""
    if "defined multiple times" not in detail:
        return detail
    events = (sam["Resources"][lid].get("Properties") or {}).get("Events") or {}
    mine = events.get(event, {}).get("Properties") or {}
    for other_id, other in (sam.get("Resources") or {}).items():
        if not isinstance(other, dict):
            continue
        for name, other_event in ((other.get("Properties") or {}).get("Events") or {}).items():
            theirs = other_event.get("Properties") if isinstance(other_event, dict) else None
            if (
                (other_id, name) != (lid, event)
                and isinstance(theirs, dict)
                and _same_route(mine, theirs)
            ):
                return f"{detail} {other_id}.Events.{name} serves it; this definition is not run"
    return detail


def _same_route(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        str(a.get("Path")) == str(b.get("Path"))
        and str(a.get("Method")).lower() == str(b.get("Method")).lower()
        and a.get("RestApiId") == b.get("RestApiId")
        and a.get("ApiId") == b.get("ApiId")
    )


class _Rejections(Exception):
    """The translator's messages, and the error to raise when they cannot all be set aside."""

    def __init__(self, messages: list[str], error: TemplateError) -> None:
        super().__init__(error.message)
        self.messages, self.error = messages, error


def _translate(
    sam: dict[str, Any],
    parameters: dict[str, Any],
    region: str,
    locate: Callable[[tuple[str | int, ...]], Location],
) -> dict[str, Any]:
    """samtranslator itself (it merges Globals into `sam` as it goes)."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    # samtranslator logs warnings (feature toggles) that mean nothing to a samrun user.
    logging.getLogger("samtranslator").addHandler(_QUIET)
    translator = Translator(None, Parser(), boto_session=_Session(region))
    try:
        cfn: dict[str, Any] = translator.translate(
            sam, parameter_values=dict(parameters), get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        messages = sorted(cause.message for cause in exc.causes)
        match = _ID_IN_MESSAGE.search(messages[0]) if messages else None
        where = locate(("Resources", match.group(1))) if match else locate(("Transform",))
        error = TemplateError(" | ".join(messages) or exc.message, where, rule="sam")
        raise _Rejections(messages, error) from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TemplateError(
            f"SAM transform failed: {exc!r}", locate(("Transform",)), "sam"
        ) from None
    return cfn
