"""Parameter values: overrides, defaults, CloudFormation's constraints, pseudo parameters.

Values are checked the way CloudFormation checks them at create time, so a template that would
fail to deploy fails here with the parameter's location. A NoEcho parameter's value never appears
in a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from samrun.errors import Location, TemplateError
from samrun.model import UNRESOLVED_PREFIX, is_unresolved
from samrun.template.cdk import asset_parameter

ParamValue = str | list[str]

_LIST_TYPES = ("CommaDelimitedList", "List<")
_SERVERLESS = "AWS::Serverless::"


@dataclass(frozen=True, slots=True)
class Pseudo:
    """The values of CloudFormation's pseudo parameters for one local stack."""

    region: str
    account_id: str
    stack_name: str

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    def values(self) -> dict[str, ParamValue]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::NotificationARNs": [],
        }


def _is_list_type(kind: str) -> bool:
    return kind.startswith(_LIST_TYPES) or kind.startswith("AWS::SSM::Parameter::Value<List<")


def _text(value: Any) -> str:
    """A default or override as CloudFormation sees it: text (true/false lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _check(name: str, spec: Mapping[str, Any], value: str) -> str | None:
    """The first constraint `value` breaks, as a message, or None."""
    shown = "(NoEcho value)" if str(spec.get("NoEcho", "")).lower() == "true" else repr(value)
    kind = str(spec.get("Type", "String"))
    items = [v.strip() for v in value.split(",")] if _is_list_type(kind) else [value]
    allowed = spec.get("AllowedValues")
    pattern = spec.get("AllowedPattern")
    for item in items:
        if isinstance(allowed, list) and item not in [_text(a) for a in allowed]:
            return f"parameter {name}: {shown} is not one of the AllowedValues"
        if isinstance(pattern, str) and not re.fullmatch(pattern, item):
            return f"parameter {name}: {shown} does not match AllowedPattern {pattern!r}"
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                return f"parameter {name}: {shown} is not a Number"
            if "MinValue" in spec and number < float(spec["MinValue"]):
                return f"parameter {name}: {shown} is below MinValue {spec['MinValue']}"
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                return f"parameter {name}: {shown} is above MaxValue {spec['MaxValue']}"
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return f"parameter {name}: value is shorter than MinLength {spec['MinLength']}"
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return f"parameter {name}: value is longer than MaxLength {spec['MaxLength']}"
    return None


def placeholder(name: str) -> str:
    """The visible value of a parameter that has none: `${unresolved:Ref NAME}`."""
    return f"{UNRESOLVED_PREFIX}Ref {name}}}"


def resolve_parameters(
    declared: Mapping[str, Any],
    overrides: Mapping[str, str],
    locate: Callable[[tuple[str | int, ...]], Location],
    missing: list[str] | None = None,
) -> dict[str, ParamValue]:
    """Each declared parameter's value: the override, else the Default; checked, list-split.

    A parameter with neither raises TemplateError, unless `missing` is given: then its name is
    added there and its value is a visible placeholder (SAM CLI starts such apps too). A value
    breaking its constraints raises. Overrides naming undeclared parameters are ignored, as SAM
    CLI ignores them.
    """
    if not isinstance(declared, Mapping):
        raise TemplateError("Parameters must be a mapping", locate(("Parameters",)), "parameters")
    values: dict[str, ParamValue] = {}
    for name, spec in declared.items():
        where = locate(("Parameters", name))
        if not isinstance(spec, Mapping):
            raise TemplateError(f"parameter {name} must be a mapping", where, "parameters")
        if name in overrides:
            text = str(overrides[name])
        elif "Default" in spec:
            text = _text(spec["Default"])
        elif (stand_in := asset_parameter(name)) is not None:  # CDK v1: `cdk deploy` sets it
            text = stand_in
        elif missing is not None:
            missing.append(name)
            kind = str(spec.get("Type", "String"))
            values[name] = [placeholder(name)] if _is_list_type(kind) else placeholder(name)
            continue
        else:
            raise TemplateError(
                f"parameter {name} has no Default and no --parameter-overrides value",
                where,
                rule="parameters",
            )
        problem = _check(name, spec, text)
        if problem:
            raise TemplateError(problem, where, rule="parameters")
        kind = str(spec.get("Type", "String"))
        values[name] = [v.strip() for v in text.split(",")] if _is_list_type(kind) else text
    return values


def no_echo_names(declared: Mapping[str, Any]) -> frozenset[str]:
    """Parameters whose values must not be shown."""
    return frozenset(
        name
        for name, spec in declared.items()
        if isinstance(spec, Mapping) and str(spec.get("NoEcho", "")).lower() == "true"
    )


def inline_parameter_refs(data: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with each `Ref` to a template parameter in Globals and the AWS::Serverless::*
    resources replaced by the parameter's value, as SAM CLI resolves them before the SAM
    transform: the translator insists on literal values in places (an event's `Authorizer`,
    `StageName`, ...) where a deployed stack may use a parameter."""
    declared = data.get("Parameters")
    names = (
        {n for n in declared if not is_unresolved(values.get(n))}
        if isinstance(declared, dict)
        else set()
    )
    if not names:
        return data

    def inline(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and value.get("Ref") in names:
                return values[value["Ref"]]
            return {k: inline(v) for k, v in value.items()}
        if isinstance(value, list):
            return [inline(v) for v in value]
        return value

    resources = data.get("Resources") or {}
    serverless = {
        lid: inline(r)
        if isinstance(r, dict) and str(r.get("Type", "")).startswith(_SERVERLESS)
        else r
        for lid, r in resources.items()
    }
    inlined = {**data, "Resources": serverless}
    if isinstance(data.get("Globals"), dict):
        inlined["Globals"] = inline(data["Globals"])
    return inlined
