"""Read a YAML or JSON template into plain dicts, keeping where each key came from.

CloudFormation short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...) become their long form
(`{"Ref": ...}`), so everything after this module sees one spelling. The loader is a
`yaml.SafeLoader` subclass (libyaml's parser when available, for speed) and refuses the inputs
that would make it hang or blow up: files over `MAX_TEMPLATE_BYTES`, alias bombs (a document
whose aliases expand past `MAX_EXPANDED_NODES`), documents nested too deeply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from samrun.errors import Location, TemplateError

MAX_TEMPLATE_BYTES = 10 * 1024 * 1024
"""Largest template read (10 MB): CloudFormation itself accepts 1 MB from S3, 51 KB inline."""

MAX_EXPANDED_NODES = 1_000_000
"""Most YAML nodes a document may have once its aliases are expanded (billion-laughs guard)."""

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists read: real templates stay under 20, and every later
stage (the transform, cfn-lint, intrinsics) recurses over the document."""

PathKey = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Tags whose scalar form is a list in long form, or that need special handling.
_FN_TAGS = (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Transform",
    "Length",
    "ToJsonString",
    "ForEach",
)


@dataclass(frozen=True, slots=True)
class LoadedTemplate:
    """A template's data, with the line/column of every key and list item (1-based)."""

    path: Path
    data: dict[str, Any]
    marks: Mapping[PathKey, tuple[int, int]] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Location:
        """The location of `path`, or of its nearest marked ancestor."""
        key = tuple(path)
        while key:
            mark = self.marks.get(key)
            if mark:
                return Location(str(self.path), *mark)
            key = key[:-1]
        return Location(str(self.path), 1, 1)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with CloudFormation tags; dates stay strings, duplicate keys are errors."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen and key_node.value != "<<":
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark
                    )
                seen.add(key_node.value)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=True)
        return mapping


def _construct_any(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


def _fn(name: str) -> Any:
    def construct(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
        return {f"Fn::{name}": _construct_any(loader, node)}

    return construct


def _ref(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    return {"Ref": _construct_any(loader, node)}


def _condition(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": _construct_any(loader, node)}


def _get_att(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    value = _construct_any(loader, node)
    if isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


def _unknown_tag(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(None, None, f"unknown tag !{suffix}", node.start_mark)


def _timestamp_as_text(loader: _Loader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


for _name in _FN_TAGS:
    _Loader.add_constructor(f"!{_name}", _fn(_name))
_Loader.add_constructor("!Ref", _ref)
_Loader.add_constructor("!GetAtt", _get_att)
_Loader.add_constructor("!Condition", _condition)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_Loader.add_multi_constructor("!", _unknown_tag)


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document once aliases are expanded; memoised, so a bomb costs nothing."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        cached = sizes.get(id(node))
        if cached is not None:
            return cached
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        sizes[id(node)] = total
        return total

    return size(root)


def _too_deep(where: Location) -> TemplateError:
    return TemplateError(f"the template is nested deeper than {MAX_DEPTH} levels", where, "yaml")


def _collect_marks(path: Path, root: yaml.Node) -> dict[PathKey, tuple[int, int]]:
    """Path -> (line, column) of each mapping key and list item; aliased nodes walked once.
    Iterative, so it can refuse a document nested past `MAX_DEPTH` before anything recurses."""
    marks: dict[PathKey, tuple[int, int]] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, PathKey]] = [(root, ())]
    while stack:
        node, path_key = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if len(path_key) > MAX_DEPTH:
            mark = node.start_mark
            raise _too_deep(Location(str(path), mark.line + 1, mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    child = (*path_key, key_node.value)
                    mark = key_node.start_mark
                    marks[child] = (mark.line + 1, mark.column + 1)
                    stack.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path_key, index)
                marks[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((item, child))
    return marks


def _yaml_error(path: Path, exc: yaml.YAMLError) -> TemplateError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"{context}: {problem}" if context and "unknown tag" not in problem else problem
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    where = Location(str(path), line, column)
    return TemplateError(f"invalid YAML: {message}", where, rule="yaml")


def parse_text(text: str, path: Path) -> LoadedTemplate:
    """Parse template text (YAML or JSON) into a `LoadedTemplate`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise TemplateError("the template is empty", Location(str(path), 1, 1), rule="yaml")
        marks = _collect_marks(path, node)
        if _expanded_size(node) > MAX_EXPANDED_NODES:
            raise TemplateError(
                f"YAML aliases expand past {MAX_EXPANDED_NODES} nodes (an alias bomb?)",
                Location(str(path), 1, 1),
                rule="yaml",
            )
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "")):
            raise _too_deep(_yaml_error(path, exc).location or Location(str(path), 1, 1)) from None
        if text.lstrip().startswith("{"):
            return _parse_json(text, path)
        raise _yaml_error(path, exc) from None
    except RecursionError:
        raise _too_deep(Location(str(path), 1, 1)) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise TemplateError("a template must be a mapping", Location(str(path), 1, 1), "yaml")
    return LoadedTemplate(path=path, data=data, marks=marks)


def _parse_json(text: str, path: Path) -> LoadedTemplate:
    """JSON that YAML 1.1 cannot read (tabs, escapes): plain json, without key marks."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
        where = Location(str(path), line, col)
        raise TemplateError(f"invalid JSON: {exc}", where, "json") from None
    except RecursionError:
        raise _too_deep(Location(str(path), 1, 1)) from None
    if not isinstance(data, dict):
        raise TemplateError("a template must be an object", Location(str(path), 1, 1), "json")
    if _depth(data) > MAX_DEPTH:
        raise _too_deep(Location(str(path), 1, 1))
    return LoadedTemplate(path=path, data=data)


def _depth(value: Any) -> int:
    """How deep mappings and lists nest in `value` (iterative: `value` may be very deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def load_template(path: Path) -> LoadedTemplate:
    """Read and parse the template at `path`; every failure is a located `TemplateError`."""
    where = Location(str(path), 1, 1)
    try:
        size = path.stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                f"template is {size // (1024 * 1024)} MB; samrun reads templates up to "
                f"{MAX_TEMPLATE_BYTES // (1024 * 1024)} MB",
                where,
                rule="size",
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TemplateError("template not found", where, rule="io") from None
    except IsADirectoryError:
        raise TemplateError("template is a folder, not a file", where, rule="io") from None
    except OSError as exc:
        raise TemplateError(f"cannot read template: {exc.strerror}", where, rule="io") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"template is not UTF-8 text: {exc.reason}", where, "io") from None
    return parse_text(text, path)
