"""The EventBridge pattern matcher, with the examples of AWS's "Content filtering in Amazon
EventBridge event patterns" and "Arrays in EventBridge event patterns" pages."""

from __future__ import annotations

from typing import Any

import pytest

from samrun.sources.patterns import check_pattern, matches

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": [
        "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0",
        "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef1",
    ],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def check(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    check_pattern(pattern)
    return matches(pattern, event)


def test_exact_values_and_or_within_an_array() -> None:
    assert check({"source": ["aws.ec2"]}, EC2_EVENT)
    assert check({"source": ["aws.s3", "aws.ec2"]}, EC2_EVENT)
    assert not check({"source": ["aws.s3"]}, EC2_EVENT)
    assert check({"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}, EC2_EVENT)
    assert not check({"source": ["aws.ec2"], "detail": {"state": ["running"]}}, EC2_EVENT)
    assert not check({"detail": {"missing": ["x"]}}, EC2_EVENT)


def test_event_arrays_match_when_any_element_does() -> None:
    pattern = {
        "resources": [
            "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0",
            "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
        ]
    }
    assert check(pattern, EC2_EVENT)
    assert not check({"resources": ["arn:aws:ec2:us-east-1:1:instance/i-x"]}, EC2_EVENT)
    event = {"detail": {"items": [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}]}}
    assert check({"detail": {"items": {"tag": ["b"]}}}, event)
    assert not check({"detail": {"items": {"tag": ["c"]}}}, event)


def test_null_empty_string_and_type_strictness() -> None:
    event = {"detail": {"responseElements": None, "eventVersion": "", "n": 5, "flag": True}}
    assert check({"detail": {"responseElements": [None]}}, event)
    assert check({"detail": {"eventVersion": [""]}}, event)
    assert check({"detail": {"n": [5.0]}}, event)
    assert not check({"detail": {"n": ["5"]}}, event)
    assert check({"detail": {"flag": [True]}}, event)
    assert not check({"detail": {"flag": [1]}}, event)
    assert not check({"detail": {"missing": [None]}}, event)


def test_prefix_and_suffix_with_and_without_case() -> None:
    assert check({"time": [{"prefix": "2017-12-22"}]}, EC2_EVENT)
    assert not check({"time": [{"prefix": "2017-10-02"}]}, EC2_EVENT)
    event = {"detail": {"service": "EVENTBRIDGE", "FileName": "photo.PNG"}}
    assert check({"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}, event)
    assert not check({"detail": {"service": [{"prefix": "EventB"}]}}, event)
    assert check({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, event)
    assert not check({"detail": {"FileName": [{"suffix": ".png"}]}}, event)


def test_anything_but() -> None:
    assert check({"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT)
    assert not check({"detail": {"state": [{"anything-but": "terminated"}]}}, EC2_EVENT)
    assert not check(
        {"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, EC2_EVENT
    )
    assert check({"x-limit": [{"anything-but": 123}]}, {"x-limit": 124})
    assert not check({"x-limit": [{"anything-but": [100, 123]}]}, {"x-limit": 123})
    assert check({"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, EC2_EVENT)
    assert not check({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, EC2_EVENT)
    assert not check({"FileName": [{"anything-but": {"suffix": ".txt"}}]}, {"FileName": "a.txt"})
    assert check({"FileName": [{"anything-but": {"suffix": ".txt"}}]}, {"FileName": "a.png"})
    wildcard = {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}
    assert not check(wildcard, {"FilePath": "/usr/lib/x"})
    assert check(wildcard, {"FilePath": "/usr/bin/x"})
    fold = {"state": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]}
    assert not check(fold, {"state": "STOPPED"})
    assert check(fold, {"state": "running"})
    assert not check({"detail": {"absent": [{"anything-but": "x"}]}}, EC2_EVENT)


def test_numeric_ranges() -> None:
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    }
    assert check(pattern, {"detail": {"c-count": 5, "d-count": 7, "x-limit": 301.8}})
    assert not check(pattern, {"detail": {"c-count": 0, "d-count": 7, "x-limit": 301.8}})
    assert not check(pattern, {"detail": {"c-count": 5, "d-count": 10, "x-limit": 301.8}})
    assert not check(pattern, {"detail": {"c-count": "5", "d-count": 7, "x-limit": 301.8}})


def test_exists() -> None:
    assert check({"detail": {"state": [{"exists": True}]}}, EC2_EVENT)
    assert not check({"detail": {"state": [{"exists": False}]}}, EC2_EVENT)
    assert check({"detail": {"nope": [{"exists": False}]}}, EC2_EVENT)
    assert check({"nothing": {"deeper": [{"exists": False}]}}, EC2_EVENT)
    # exists only applies to leaves: an object is not a leaf.
    assert not check({"detail": [{"exists": True}]}, EC2_EVENT)


def test_equals_ignore_case_wildcard_and_cidr() -> None:
    ignore = {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}
    assert check(ignore, EC2_EVENT)
    bus = {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}
    assert check(bus, {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"})
    assert not check(bus, {"EventBusArn": "arn:aws:events:eu-west-1:1:event-bus/default"})
    literal = {"name": [{"wildcard": "a\\*b"}]}
    assert check(literal, {"name": "a*b"})
    assert not check(literal, {"name": "axxb"})
    cidr = {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}
    assert check(cidr, {"detail": {"sourceIPAddress": "10.0.0.255"}})
    assert not check(cidr, {"detail": {"sourceIPAddress": "10.0.1.1"}})
    assert not check(cidr, {"detail": {"sourceIPAddress": "not-an-ip"}})
    assert check({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"})


def test_or() -> None:
    pattern = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    }
    assert check(pattern, {"detail": {"c-count": 99, "d-count": 3}})
    assert check(pattern, {"detail": {"x-limit": 301.8}})
    assert not check(pattern, {"detail": {"c-count": 99, "d-count": 30}})
    top = {"source": ["aws.ec2"], "$or": [{"region": ["us-west-1"]}, {"account": ["1"]}]}
    assert check(top, EC2_EVENT)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({}, "must not be empty"),
        ({"source": "aws.ec2"}, "must be in an array"),
        ({"source": []}, "must not be empty"),
        ({"a": [{"prefix": 1}]}, "takes a string"),
        ({"a": [{"contains": "x"}]}, "unknown operator"),
        ({"a": [{"prefix": "x", "suffix": "y"}]}, "exactly one operator"),
        ({"a": [{"numeric": [">", "x"]}]}, "needs a number"),
        ({"a": [{"numeric": ["<", 5, ">", 1]}]}, "lower bound"),
        ({"a": [{"numeric": [">", 9, "<", 1]}]}, "exceeds"),
        ({"a": [{"exists": "yes"}]}, "true or false"),
        ({"a": [{"cidr": "10.0.0.300/8"}]}, "cidr"),
        ({"a": [{"wildcard": "a**b"}]}, "consecutive"),
        ({"a": [{"anything-but": ["x", 1]}]}, "only strings or numbers"),
        ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "cannot be used"),
        ({"$or": [{"a": ["x"]}]}, "at least two"),
        ({"a": [["x"]]}, "nested arrays"),
    ],
)
def test_invalid_patterns_name_the_problem(pattern: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_pattern(pattern)
