"""The state every converter shares: resolved resources, the resolver, and how to locate things.

Converters (build_*.py) read CloudFormation resources through `BuildContext` only, so the
spelling of the template and the way errors are located live in one place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samrun.errors import Location, TemplateError
from samrun.model import Code, NotRun, Unavailable, is_unresolved
from samrun.template.cdk import asset_path
from samrun.template.intrinsics import NO_VALUE, IntrinsicError, Resolver, as_text
from samrun.template.refs import ResourceTable
from samrun.template.sam import Placeholders

_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:/]+)(?::([^:/]+))?$")
_INVOCATION_URI = re.compile(r"functions/(.+?)/invocations")


@dataclass(frozen=True, slots=True)
class Notice:
    """A located warning about the template (samrun goes on, `validate` reports it)."""

    location: Location
    rule: str
    message: str
    error_in_validate: bool = False  # `up` goes on; `validate` counts it as an error

    def render(self) -> str:
        return f"{self.location}: {self.message}"


def source_logical_id(original_ids: frozenset[str], logical_id: str) -> str | None:
    """The logical id as written in the template that produced `logical_id` (SAM renames)."""
    if logical_id in original_ids:
        return logical_id
    prefixes = [o for o in original_ids if logical_id.startswith(o)]
    return max(prefixes, key=len) if prefixes else None


@dataclass
class BuildContext:
    resources: Mapping[str, dict[str, Any]]  # active CloudFormation resources, post-transform
    resolver: Resolver
    table: ResourceTable
    base_dir: Path
    locate: Callable[[tuple[str | int, ...]], Location]
    original_ids: frozenset[str] = frozenset()  # logical ids of the template as written
    sam_resources: Mapping[str, Any] = field(default_factory=dict)  # SAM, Globals merged
    placeholders: Placeholders | None = None
    function_names: dict[str, str] = field(default_factory=dict)  # name -> logical id
    notices: list[Notice] = field(default_factory=list)  # located warnings
    not_run: list[NotRun] = field(default_factory=list)  # what samrun does not realise
    layer_map: Mapping[str, str] = field(default_factory=dict)  # --layer-map: ARN -> path
    children: list[Any] = field(default_factory=list)  # nested.Child: local nested stacks
    errors: list[TemplateError] = field(default_factory=list)  # of resources left out (validate)
    unavailable: list[Unavailable] = field(default_factory=list)  # names that answer an error

    def reject(
        self,
        what: str,
        name: str,
        type_: str,
        error: TemplateError,
        *,
        answers: tuple[str, ...] = (),
        runtime_problem: bool = False,
    ) -> None:
        """Leave out what a template error is in (a resource, an event, a property) and run the
        rest: the error is named in the not-run list, `validate` reports it, and the function
        names in `answers` answer Lambda's error for it instead of running."""
        self.errors.append(error)
        where = str(error.location) if error.location else None
        entry = NotRun(what=what, name=name, type=type_, reason=error.message, location=where)
        if entry not in self.not_run:
            self.not_run.append(entry)
        message = f"{name} could not be built from the template: {where}: {error.message}"
        kind = "InvalidRuntimeException" if runtime_problem else "ResourceNotFoundException"
        for answer in dict.fromkeys(answers):
            self.unavailable.append(Unavailable(name=answer, error=kind, message=message))

    def checkpoint(self) -> tuple[int, ...]:
        """How much each list converters add to holds: `rollback` undoes a failed build."""
        lists = self._appended()
        return (*map(len, lists), len(self.function_names))

    def rollback(self, checkpoint: tuple[int, ...]) -> None:
        for items, length in zip(self._appended(), checkpoint, strict=False):
            del items[length:]
        for name in list(self.function_names)[checkpoint[-1] :]:
            del self.function_names[name]

    def _appended(self) -> tuple[list[Any], ...]:
        return (self.notices, self.not_run, self.resolver.warnings, self.errors, self.unavailable)

    def skip(self, what: str, name: str, type_: str, reason: str) -> None:
        """Name something samrun does not realise (once), for startup, `plan` and state."""
        entry = NotRun(what=what, name=name, type=type_, reason=reason)
        if entry not in self.not_run:
            self.not_run.append(entry)

    def of_type(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, raw Properties) of each resource of the given types, in template order."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types:
                yield logical_id, resource.get("Properties") or {}

    def source_id(self, logical_id: str) -> str | None:
        """The logical id as written in the template that produced `logical_id` (SAM renames)."""
        return source_logical_id(self.original_ids, logical_id)

    def where(self, logical_id: str, *path: str | int) -> Location:
        source = self.source_id(logical_id)
        if source is None:
            return self.locate(("Resources",))
        if source != logical_id:
            return self.locate(("Resources", source))
        return self.locate(("Resources", source, "Properties", *path))

    def resolve(self, value: Any, logical_id: str, *path: str | int) -> Any:
        """`value` resolved; an intrinsic CloudFormation would reject raises a located error."""
        try:
            return self.resolver.resolve(value, ".".join([logical_id, *map(str, path)]))
        except IntrinsicError as exc:
            where = self.where(logical_id, *path)
            raise TemplateError(str(exc), where, "intrinsics", logical_id) from None

    def prop(
        self, logical_id: str, props: Mapping[str, Any], name: str, default: Any = None
    ) -> Any:
        value = self.resolve(props[name], logical_id, name) if name in props else NO_VALUE
        return default if value is NO_VALUE else value  # AWS::NoValue: as if not set

    def integer(
        self, logical_id: str, props: Mapping[str, Any], name: str, default: int | None = None
    ) -> int | None:
        value = self.prop(logical_id, props, name)
        if value is None or is_unresolved(value):
            return default
        try:
            return int(float(as_text(value)))
        except ValueError:
            raise TemplateError(
                f"{name} must be a number, not {value!r}",
                self.where(logical_id, name),
                "types",
                logical_id,
            ) from None

    def number(self, logical_id: str, props: Mapping[str, Any], name: str, default: int) -> int:
        """An integer property, `default` when absent or unresolved (0 stays 0)."""
        value = self.integer(logical_id, props, name)
        return default if value is None else value

    def function_target(self, value: Any) -> tuple[str, str | None] | None:
        """(function name, qualifier) from a resolved name, ARN, or API Gateway invocation URI."""
        if not isinstance(value, str) or is_unresolved(value):
            return None
        match = _INVOCATION_URI.search(value)
        if match:
            value = match.group(1)
        match = _FUNCTION_ARN.match(value)
        if match:
            name, qualifier = match.group(1), match.group(2)
        else:
            name, _, rest = value.partition(":")
            qualifier = rest or None
        return (name, qualifier) if name in self.function_names else None

    def code(self, value: Any, logical_id: str, prop: str = "Code") -> Code:
        """A function's Code / a layer's Content, with placeholders mapped back to local paths;
        a CDK asset's local copy (`aws:asset:path`) wins over its bootstrap-bucket address."""
        asset = asset_path(self.resources.get(logical_id), prop, self.base_dir)
        if asset is not None:
            return Code(path=str(asset))
        if isinstance(value, str):  # `aws cloudformation package` input: a local path
            return Code(path=str((self.base_dir / value).resolve()))
        if not isinstance(value, dict):
            return Code(remote=json.dumps(value, default=str))
        if "ZipFile" in value:
            return Code(inline=as_text(value["ZipFile"]))
        if "ImageUri" in value:
            return Code(image_uri=as_text(value["ImageUri"]))
        bucket, key = value.get("S3Bucket"), value.get("S3Key")
        local = self.placeholders.local_path(bucket, key) if self.placeholders else None
        if local is not None:
            return Code(path=str(local))
        return Code(remote=f"s3://{as_text(bucket)}/{as_text(key)}")


def text_or_none(value: Any) -> str | None:
    return None if value is None else as_text(value)


def flag(value: Any, default: bool) -> bool:
    """A CloudFormation boolean (true / "true" / "True"), or `default` when absent."""
    if value is None:
        return default
    return as_text(value).lower() == "true"
