"""The pure parts of the push sources: EventBridge target input (Input, InputPath,
InputTransformer), SNS filter policies on typed attributes and on the body, S3 key filters."""

from __future__ import annotations

import json
from typing import Any

from samrun.model import PushSource
from samrun.sources import eventbridge, s3, sns

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
RULE = "arn:aws:events:us-east-1:123456789012:rule/my-rule"


def push(kind: str, **details: Any) -> PushSource:
    return PushSource(function="f", type=kind, source="src", details=details, logical_id="L")


def run(p: PushSource) -> Any:
    out = eventbridge.target_input(p, EVENT, RULE)
    return None if out is None else json.loads(out)


def test_pattern_input_and_input_path() -> None:
    assert run(push("eventbridge", pattern={"source": ["aws.ec2"]})) == EVENT
    assert run(push("eventbridge", pattern={"source": ["aws.s3"]})) is None
    assert run(push("eventbridge", pattern={"source": ["aws.ec2"]}, input='{"a": 1}')) == {"a": 1}
    assert run(push("eventbridge", inputPath="$.detail")) == EVENT["detail"]
    assert run(push("eventbridge", inputPath="$.resources[0]")) == EVENT["resources"][0]
    assert eventbridge.json_path(EVENT, "$.detail['instance-id']") == "i-0123456789"


def test_input_transformer_examples_from_the_eventbridge_guide() -> None:
    paths = {"instance": "$.detail.instance-id", "state": "$.detail.state"}
    text = push(
        "eventbridge",
        inputTransformer={
            "InputPathsMap": paths,
            "InputTemplate": '"<instance> is in state <state>"',
        },
    )
    assert run(text) == "i-0123456789 is in state RUNNING"
    as_json = push(
        "eventbridge",
        inputTransformer={
            "InputPathsMap": {**paths, "res": "$.resources", "nope": "$.detail.absent"},
            "InputTemplate": '{"instance": <instance>, "state": [9, <state>, true], '
            '"all": <res>, "rule": "<aws.events.rule-name>", "missing": <nope>}',
        },
    )
    assert run(as_json) == {
        "instance": "i-0123456789",
        "state": [9, "RUNNING", True],
        "all": EVENT["resources"],
        "rule": "my-rule",
        "missing": None,
    }


def test_sns_filter_policy_on_typed_attributes() -> None:
    p = push(
        "sns",
        FilterPolicy={
            "store": ["example_corp"],
            "price_usd": [{"numeric": [">=", 100]}],
            "colors": ["red"],
        },
    )

    def envelope(price: str, colors: str, store: str = "example_corp") -> dict[str, Any]:
        return {
            "MessageAttributes": {
                "store": {"Type": "String", "Value": store},
                "price_usd": {"Type": "Number", "Value": price},
                "colors": {"Type": "String.Array", "Value": colors},
            }
        }

    assert sns.passes(p, envelope("210.75", '["red", "green"]'))
    assert not sns.passes(p, envelope("99.9", '["red"]'))
    assert not sns.passes(p, envelope("210", '["blue"]'))
    assert not sns.passes(p, envelope("210", '["red"]', store="other"))
    # A Number attribute is not the string "210": a string value never matches it.
    strict = push("sns", FilterPolicy={"price_usd": ["210"]})
    assert not sns.passes(strict, envelope("210", "[]"))
    assert sns.passes(push("sns"), {"MessageAttributes": {}})


def test_sns_filter_policy_on_the_body() -> None:
    p = push(
        "sns",
        FilterPolicyScope="MessageBody",
        FilterPolicy=json.dumps({"order": {"status": ["paid"]}}),
    )
    assert sns.passes(p, {"Message": json.dumps({"order": {"status": "paid", "id": 1}})})
    assert not sns.passes(p, {"Message": json.dumps({"order": {"status": "open"}})})
    assert not sns.passes(p, {"Message": "not json"})


def test_s3_events_and_key_filters() -> None:
    p = push(
        "s3",
        event="s3:ObjectCreated:*",
        filter={
            "S3Key": {
                "Rules": [{"Name": "prefix", "Value": "in/"}, {"Name": "Suffix", "Value": ".csv"}]
            }
        },
    )

    def record(name: str, key: str) -> dict[str, Any]:
        return {"eventName": name, "s3": {"object": {"key": key}}}

    assert s3.wanted(p, record("ObjectCreated:Put", "in/a+b.csv"))
    assert s3.wanted(p, record("ObjectCreated:CompleteMultipartUpload", "in/x.csv"))
    assert not s3.wanted(p, record("ObjectRemoved:Delete", "in/x.csv"))
    assert not s3.wanted(p, record("ObjectCreated:Put", "out/x.csv"))
    assert not s3.wanted(p, record("ObjectCreated:Put", "in/x.txt"))
    exact = push("s3", event=["s3:ObjectRemoved:Delete"])
    assert s3.wanted(exact, record("ObjectRemoved:Delete", "k"))
    assert not s3.wanted(exact, record("ObjectRemoved:DeleteMarkerCreated", "k"))
    assert s3.records(p, json.dumps({"Event": "s3:TestEvent", "Bucket": "b"})) == []


def test_an_invalid_pattern_or_policy_is_named() -> None:
    from samrun.sources.relays import invalid_filter as _invalid_filter

    assert _invalid_filter(push("eventbridge", pattern={"source": ["a"]})) is None
    bad = _invalid_filter(push("eventbridge", pattern={"source": "aws.ec2"}))
    assert bad is not None and bad.startswith("invalid EventPattern: source: ")
    bad = _invalid_filter(push("sns", FilterPolicy='{"price": [{"numeric": [">", "x"]}]}'))
    assert bad is not None and bad.startswith("invalid FilterPolicy: ")
    assert _invalid_filter(push("s3")) is None
