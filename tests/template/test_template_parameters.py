"""Parameter values: overrides over defaults, CloudFormation's constraints, pseudo parameters."""

from __future__ import annotations

import pytest

from samrun.errors import Location, TemplateError
from samrun.template.parameters import Pseudo, no_echo_names, resolve_parameters


def locate(path: tuple[str | int, ...]) -> Location:
    return Location("t.yaml", len(path), 1)


def resolve(declared: dict, overrides: dict | None = None) -> dict:
    return resolve_parameters(declared, overrides or {}, locate)


def test_override_wins_over_default_and_lists_are_split() -> None:
    values = resolve(
        {
            "A": {"Type": "String", "Default": "x"},
            "B": {"Type": "CommaDelimitedList", "Default": "1, 2"},
            "C": {"Type": "Number", "Default": 5},
            "D": {"Type": "String", "Default": True},
        },
        {"A": "y", "Unknown": "ignored"},
    )
    assert values == {"A": "y", "B": ["1", "2"], "C": "5", "D": "true"}


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ({"AllowedValues": ["a", "b"]}, "c", "AllowedValues"),
        ({"AllowedPattern": "[a-z]+"}, "A1", "AllowedPattern"),
        ({"MinLength": 3}, "ab", "MinLength"),
        ({"MaxLength": 2}, "abc", "MaxLength"),
        ({"Type": "Number", "MinValue": 10}, "9", "MinValue"),
        ({"Type": "Number", "MaxValue": 10}, "11", "MaxValue"),
        ({"Type": "Number"}, "ten", "not a Number"),
        ({"Type": "List<Number>"}, "1,x", "not a Number"),
    ],
)
def test_constraints_are_checked(spec: dict, value: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message) as caught:
        resolve({"P": {"Type": "String", **spec}}, {"P": value})
    assert caught.value.location == Location("t.yaml", 2, 1)
    assert caught.value.rule == "parameters"


def test_missing_value_names_the_parameter() -> None:
    with pytest.raises(TemplateError, match="parameter Needed has no Default"):
        resolve({"Needed": {"Type": "String"}})


def test_no_echo_values_never_appear_in_messages() -> None:
    declared = {"Secret": {"Type": "String", "NoEcho": True, "AllowedPattern": "[0-9]+"}}
    with pytest.raises(TemplateError) as caught:
        resolve(declared, {"Secret": "hunter2"})
    assert "hunter2" not in str(caught.value)
    assert no_echo_names(declared) == {"Secret"}


def test_pseudo_parameters_follow_region_and_account() -> None:
    values = Pseudo(region="cn-north-1", account_id="111122223333", stack_name="s").values()
    assert values["AWS::Partition"] == "aws-cn"
    assert values["AWS::URLSuffix"] == "amazonaws.com.cn"
    assert values["AWS::StackId"].startswith(
        "arn:aws-cn:cloudformation:cn-north-1:111122223333:stack/s/"
    )
    assert Pseudo(region="us-gov-west-1", account_id="1", stack_name="s").partition == "aws-us-gov"
