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
from dataclasses import dataclass, field
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
) -> tuple[dict[str, Any], dict[str, Any], Placeholders]:
    """(CloudFormation template, the SAM template with Globals merged, placeholders).

    A template SAM rejects raises TemplateError located at the first resource it names. With
    `cache_dir`, an unchanged template's transform is read back instead of run.
    """
    sam = copy.deepcopy(template)
    placeholders = Placeholders(base_dir)
    _swap_local_paths(sam, placeholders, load_definition, locate)
    key = None
    if cache_dir is not None:
        key = transform_cache.cache_key(sam, parameters, region, placeholders.paths)
        cached = transform_cache.read(cache_dir, key)
        if cached is not None:
            return cached[0], cached[1], placeholders
    cfn = _translate(sam, parameters, region, locate)
    if cache_dir is not None and key is not None:
        transform_cache.write(cache_dir, key, cfn, sam)
    return cfn, sam, placeholders


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
        raise TemplateError(" | ".join(messages) or exc.message, where, rule="sam") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TemplateError(
            f"SAM transform failed: {exc!r}", locate(("Transform",)), "sam"
        ) from None
    return cfn
