"""CloudFormation intrinsic functions, evaluated against local values.

`Resolver.resolve` turns `{"Ref": ...}`, `{"Fn::Sub": ...}`, ... into plain values. What has no
local value (`Fn::ImportValue`, an attribute samrun does not model, an SSM dynamic reference)
becomes `${unresolved:<intrinsic>}` (see `samrun.model.UNRESOLVED_PREFIX`) and a warning, never
an exception; a template CloudFormation itself would reject (an unknown Ref target, a circular
condition, a malformed intrinsic) raises `IntrinsicError`, which the caller locates.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from samrun.model import UNRESOLVED_PREFIX, is_unresolved


class IntrinsicError(ValueError):
    """An intrinsic CloudFormation would reject; `path` is where it sits inside the value."""


class _NoValue:
    """AWS::NoValue: the property is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()

SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def unresolved(text: str) -> str:
    return f"{UNRESOLVED_PREFIX}{text}}}"


@dataclass
class Context:
    """What intrinsics resolve against: parameter values (pseudo ones included), the template's
    Conditions and Mappings, and two lookups for resources (None: no such resource)."""

    parameters: Mapping[str, Any]
    conditions: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    ref: Callable[[str], Any | None] = lambda _name: None
    get_att: Callable[[str, str], Any | None] = lambda _name, _attr: None


class Resolver:
    """Evaluates intrinsics; collects a warning for each value left unresolved."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.warnings: list[str] = []
        self._condition_values: dict[str, bool] = {}
        self._evaluating: list[str] = []

    def resolve(self, value: Any, where: str = "") -> Any:
        """`value` with every intrinsic evaluated; NO_VALUE entries dropped from dicts/lists."""
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, arg),) = value.items()
                handler = _HANDLERS.get(key)
                if handler is not None:
                    return handler(self, arg, where)
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item, where)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            items = [self.resolve(item, where) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if isinstance(value, str) and "{{resolve:" in value:
            return self._unresolved(value, where)
        return value

    def condition(self, name: str) -> bool:
        """The value of the named condition (CloudFormation rejects unknown and circular ones)."""
        if name in self._condition_values:
            return self._condition_values[name]
        if name not in self.context.conditions:
            raise IntrinsicError(f"condition {name!r} is not defined in Conditions")
        if name in self._evaluating:
            chain = " -> ".join([*self._evaluating[self._evaluating.index(name) :], name])
            raise IntrinsicError(f"circular condition: {chain}")
        self._evaluating.append(name)
        try:
            result = self._truth(self.context.conditions[name])
        finally:
            self._evaluating.pop()
        self._condition_values[name] = result
        return result

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Condition":
                return self.condition(str(arg))
            if key == "Fn::Equals":
                left, right = _args(arg, 2, key)
                return _as_text(self.resolve(left)) == _as_text(self.resolve(right))
            if key == "Fn::Not":
                return not self._truth(_args(arg, 1, key)[0])
            if key == "Fn::And":
                return all(self._truth(item) for item in _list(arg, key))
            if key == "Fn::Or":
                return any(self._truth(item) for item in _list(arg, key))
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return resolved
        if isinstance(resolved, str) and resolved.lower() in ("true", "false"):
            return resolved.lower() == "true"
        raise IntrinsicError(f"not a condition: {json.dumps(value, default=str)[:80]}")

    def _unresolved(self, text: str, where: str) -> str:
        self.warnings.append(f"{where + ': ' if where else ''}cannot resolve {text} locally")
        return unresolved(text)

    # -- the functions ------------------------------------------------------------------------

    def _ref(self, arg: Any, where: str) -> Any:
        name = self.resolve(arg, where)
        if not isinstance(name, str):
            raise IntrinsicError("Ref takes a name")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.context.parameters:
            return self.context.parameters[name]
        value = self.context.ref(name)
        if value is None:
            if name.startswith("AWS::"):
                raise IntrinsicError(f"unknown pseudo parameter {name}")
            raise IntrinsicError(f"Ref to {name!r}, which is neither a parameter nor a resource")
        return value

    def _get_att(self, arg: Any, where: str) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        resource, attribute = _args(arg, 2, "Fn::GetAtt")
        attribute = self.resolve(attribute, where)
        if not isinstance(resource, str) or not isinstance(attribute, str):
            raise IntrinsicError("Fn::GetAtt takes [resource, attribute]")
        value = self.context.get_att(resource, attribute)
        if value is None:
            if self.context.ref(resource) is None:
                raise IntrinsicError(f"Fn::GetAtt of {resource!r}, which is not a resource")
            return self._unresolved(f"Fn::GetAtt {resource}.{attribute}", where)
        return value

    def _sub(self, arg: Any, where: str) -> Any:
        if isinstance(arg, list):
            text, variables = _args(arg, 2, "Fn::Sub")
            variables = self.resolve(variables, where)
        else:
            text, variables = arg, {}
        text = self.resolve(text, where)
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise IntrinsicError("Fn::Sub takes a string, or [string, {variables}]")
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and name not in self.context.parameters:
                value = self._get_att(name.split(".", 1), where)
            else:
                value = self._ref(name, where)
            if is_unresolved(value):
                missing.append(value)
            return _as_text(value)

        result = SUB_VAR.sub(replace, text)
        return missing[0] if missing else result

    def _join(self, arg: Any, where: str) -> Any:
        delimiter, items = _args(arg, 2, "Fn::Join")
        items = self.resolve(items, where)
        if not isinstance(items, list):
            raise IntrinsicError("Fn::Join takes [delimiter, [values]]")
        for item in items:
            if is_unresolved(item):
                return item
        return str(self.resolve(delimiter, where)).join(_as_text(item) for item in items)

    def _select(self, arg: Any, where: str) -> Any:
        index, items = (self.resolve(a, where) for a in _args(arg, 2, "Fn::Select"))
        if is_unresolved(items):
            return items
        if not isinstance(items, list):
            raise IntrinsicError("Fn::Select takes [index, [values]]")
        try:
            return items[int(index)]
        except (ValueError, IndexError):
            raise IntrinsicError(f"Fn::Select index {index!r} is out of range") from None

    def _split(self, arg: Any, where: str) -> Any:
        delimiter, text = (self.resolve(a, where) for a in _args(arg, 2, "Fn::Split"))
        if is_unresolved(text):
            return [text]
        if not isinstance(text, str) or not isinstance(delimiter, str) or not delimiter:
            raise IntrinsicError("Fn::Split takes [delimiter, string]")
        return text.split(delimiter)

    def _find_in_map(self, arg: Any, where: str) -> Any:
        items = _list(arg, "Fn::FindInMap")
        if len(items) not in (3, 4):
            raise IntrinsicError("Fn::FindInMap takes [map, top-level key, second-level key]")
        names = [_as_text(self.resolve(item, where)) for item in items[:3]]
        extra = items[3] if len(items) == 4 and isinstance(items[3], dict) else {}
        default = extra.get("DefaultValue")
        try:
            return self.resolve(self.context.mappings[names[0]][names[1]][names[2]], where)
        except (KeyError, TypeError):
            if default is not None:
                return self.resolve(default, where)
            raise IntrinsicError(f"Fn::FindInMap: no {'/'.join(names)} in Mappings") from None

    def _if(self, arg: Any, where: str) -> Any:
        name, when_true, when_false = _args(arg, 3, "Fn::If")
        return self.resolve(when_true if self.condition(str(name)) else when_false, where)

    def _base64(self, arg: Any, where: str) -> Any:
        text = self.resolve(arg, where)
        if is_unresolved(text):
            return text
        return base64.b64encode(_as_text(text).encode()).decode()

    def _get_azs(self, arg: Any, where: str) -> Any:
        region = self.resolve(arg, where) or self.context.parameters.get("AWS::Region", "")
        return [f"{region}{zone}" for zone in "abc"]

    def _cidr(self, arg: Any, where: str) -> Any:
        block, count, bits = (self.resolve(a, where) for a in _args(arg, 3, "Fn::Cidr"))
        try:
            network = ipaddress.ip_network(str(block), strict=False)
            prefix = network.max_prefixlen - int(bits)
            subnets = network.subnets(new_prefix=prefix)
            return [str(next(subnets)) for _ in range(int(count))]
        except (ValueError, StopIteration):
            raise IntrinsicError(f"Fn::Cidr cannot split {block} into {count} /{bits}s") from None

    def _length(self, arg: Any, where: str) -> Any:
        items = self.resolve(arg, where)
        if not isinstance(items, list):
            raise IntrinsicError("Fn::Length takes a list")
        return len(items)

    def _to_json(self, arg: Any, where: str) -> Any:
        return json.dumps(self.resolve(arg, where), separators=(",", ":"))


def _opaque(name: str) -> Callable[[Resolver, Any, str], Any]:
    def handler(resolver: Resolver, arg: Any, where: str) -> Any:
        shown = arg if isinstance(arg, str) else json.dumps(arg, default=str)
        return resolver._unresolved(f"{name} {shown}", where)

    return handler


def _condition_handler(key: str) -> Callable[[Resolver, Any, str], Any]:
    def handler(resolver: Resolver, arg: Any, where: str) -> Any:
        return resolver._truth({key: arg})

    return handler


def _args(arg: Any, count: int, name: str) -> list[Any]:
    if not isinstance(arg, list) or len(arg) != count:
        raise IntrinsicError(f"{name} takes a list of {count}")
    return arg


def _list(arg: Any, name: str) -> list[Any]:
    if not isinstance(arg, list):
        raise IntrinsicError(f"{name} takes a list")
    return arg


def _as_text(value: Any) -> str:
    """A value as CloudFormation stringifies it (booleans lower-case, lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


as_text = _as_text

_HANDLERS: dict[str, Callable[[Resolver, Any, str], Any]] = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::If": Resolver._if,
    "Fn::Base64": Resolver._base64,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::Cidr": Resolver._cidr,
    "Fn::Length": Resolver._length,
    "Fn::ToJsonString": Resolver._to_json,
    "Fn::ImportValue": _opaque("Fn::ImportValue"),
    "Fn::Transform": _opaque("Fn::Transform"),
    "Fn::Equals": _condition_handler("Fn::Equals"),
    "Fn::Not": _condition_handler("Fn::Not"),
    "Fn::And": _condition_handler("Fn::And"),
    "Fn::Or": _condition_handler("Fn::Or"),
}
