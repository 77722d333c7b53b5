"""Intrinsic functions against local values: pure functions, no template files."""

from __future__ import annotations

from typing import Any

import pytest

from samrun.model import is_unresolved
from samrun.template.cycles import find_cycle
from samrun.template.intrinsics import (
    NO_VALUE,
    Context,
    IntrinsicError,
    Resolver,
)

RESOURCES = {"Queue": ("https://sqs/q", {"Arn": "arn:aws:sqs:us-east-1:1:q", "QueueName": "q"})}


def resolver(**conditions: Any) -> Resolver:
    return Resolver(
        Context(
            parameters={
                "Env": "dev",
                "List": ["a", "b"],
                "AWS::Region": "eu-west-1",
                "Dotted.Name": "d",
            },
            conditions={"IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]}, **conditions},
            mappings={"M": {"dev": {"Size": 3, "Names": ["x", "y"]}}},
            ref=lambda name: RESOURCES[name][0] if name in RESOURCES else None,
            get_att=lambda name, attr: RESOURCES.get(name, (None, {}))[1].get(attr),
        )
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Env"}, "dev"),
        ({"Ref": "Queue"}, "https://sqs/q"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:us-east-1:1:q"),
        ({"Fn::GetAtt": "Queue.QueueName"}, "q"),
        (
            {"Fn::Sub": "${Env}-${Queue.QueueName}-${AWS::Region}-${!Literal}"},
            "dev-q-eu-west-1-${Literal}",
        ),
        ({"Fn::Sub": ["${A}/${Env}", {"A": {"Ref": "Queue"}}]}, "https://sqs/q/dev"),
        ({"Fn::Sub": "${Dotted.Name}"}, "d"),
        ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 3, True]]}, "a-dev-3-true"),
        ({"Fn::Join": [",", {"Ref": "List"}]}, "a,b"),
        ({"Fn::Select": ["1", {"Ref": "List"}]}, "b"),
        ({"Fn::Split": ["/", "a/b/c"]}, ["a", "b", "c"]),
        ({"Fn::FindInMap": ["M", {"Ref": "Env"}, "Size"]}, 3),
        ({"Fn::FindInMap": ["M", "prod", "Size", {"DefaultValue": 1}]}, 1),
        ({"Fn::If": ["IsDev", "yes", "no"]}, "yes"),
        ({"Fn::Base64": "hello"}, "aGVsbG8="),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
        ({"Fn::Cidr": ["10.0.0.0/16", 3, 8]}, ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]),
        ({"Fn::Length": [1, 2, 3]}, 3),
        ({"Fn::ToJsonString": {"a": {"Ref": "Env"}}}, '{"a":"dev"}'),
        ({"Fn::Equals": ["a", "a"]}, True),
        ({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}]}, {"B": [1]}),
        ({"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, 1]}, NO_VALUE),
    ],
)
def test_resolves_to_local_values(value: Any, expected: Any) -> None:
    r = resolver()
    assert r.resolve(value) == expected
    assert r.warnings == []


@pytest.mark.parametrize(
    ("value", "marker"),
    [
        ({"Fn::ImportValue": "shared-vpc"}, "${unresolved:Fn::ImportValue shared-vpc}"),
        ({"Fn::GetAtt": ["Queue", "Nope"]}, "${unresolved:Fn::GetAtt Queue.Nope}"),
        ({"Fn::Sub": "x-${Queue.Nope}"}, "${unresolved:Fn::GetAtt Queue.Nope}"),
        ({"Fn::Join": ["", ["a", {"Fn::ImportValue": "v"}]]}, "${unresolved:Fn::ImportValue v}"),
        ("{{resolve:ssm:/app/key}}", "${unresolved:{{resolve:ssm:/app/key}}}"),
    ],
)
def test_unresolvable_values_are_marked_and_warned(value: Any, marker: str) -> None:
    r = resolver()
    result = r.resolve(value, "Fn.Environment")
    assert result == marker
    assert is_unresolved(result)
    assert r.warnings and r.warnings[0].startswith("Fn.Environment: cannot resolve")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Missing"}, "neither a parameter nor a resource"),
        ({"Fn::GetAtt": ["Missing", "Arn"]}, "not a resource"),
        ({"Fn::Select": [5, ["a"]]}, "out of range"),
        ({"Fn::FindInMap": ["M", "x", "y"]}, "no M/x/y"),
        ({"Fn::If": ["Undefined", 1, 2]}, "not defined"),
        ({"Fn::Join": "oops"}, "takes a list"),
        ({"Ref": "AWS::Bogus"}, "unknown pseudo parameter"),
    ],
)
def test_templates_cloudformation_rejects_raise(value: Any, message: str) -> None:
    with pytest.raises(IntrinsicError, match=message):
        resolver().resolve(value)


def test_conditions_combine_and_circular_conditions_are_caught() -> None:
    r = resolver(
        NotDev={"Fn::Not": [{"Condition": "IsDev"}]},
        Both={"Fn::And": [{"Condition": "IsDev"}, {"Fn::Or": [{"Condition": "NotDev"}, True]}]},
        Loop1={"Condition": "Loop2"},
        Loop2={"Fn::Not": [{"Condition": "Loop1"}]},
    )
    assert r.condition("IsDev") is True
    assert r.condition("NotDev") is False
    assert r.condition("Both") is True
    with pytest.raises(IntrinsicError, match="circular condition: Loop1 -> Loop2 -> Loop1"):
        r.condition("Loop1")


def test_find_cycle_reports_the_loop_with_paths() -> None:
    resources = {
        "A": {"Properties": {"X": {"Ref": "B"}}},
        "B": {"Properties": {"Y": {"Fn::Sub": "${C.Arn}"}}},
        "C": {"Properties": {}, "DependsOn": ["A"]},
        "D": {"Properties": {"Z": {"Ref": "A"}}},
    }
    cycle = find_cycle(resources)
    assert cycle is not None
    assert [name for name, _ in cycle] == ["A", "B", "C"]
    assert cycle[0][1] == ("Properties", "X")
    assert cycle[2][1] == ("DependsOn", 0)
    del resources["C"]["DependsOn"]
    assert find_cycle(resources) is None


def test_sub_variables_shadow_resources_in_cycle_search() -> None:
    resources = {"A": {"Properties": {"X": {"Fn::Sub": ["${A}", {"A": "x"}]}}}}
    assert find_cycle(resources) is None
    assert find_cycle({"A": {"Properties": {"X": {"Ref": "A"}}}}) == [("A", ("Properties", "X"))]
