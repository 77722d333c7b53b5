"""Sample events, in the shapes AWS documents (`samrun events generate`, `samrun trigger`).

Field values are the documentation's placeholders, with the ones users change as options
(bucket, key, body, region, ...), as SAM CLI's `sam local generate-event` offers them.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from samrun.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, PushSource

Options = dict[str, Any]
SEQUENCE = "49590338271490256608559692538361571095921575989136588898"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(ms: bool = True) -> str:
    text = _now().strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if ms else text[:-7]) + "Z"


def _region(o: Options) -> str:
    return str(o.get("region") or DEFAULT_REGION)


def _account(o: Options) -> str:
    return str(o.get("account_id") or DEFAULT_ACCOUNT_ID)


def s3_record(o: Options, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    bucket = str(o.get("bucket") or "example-bucket")
    obj: dict[str, Any] = {
        "key": quote_plus(str(o.get("key") or "test/key"), safe="/"),  # as S3 sends it
        "sequencer": "0A1B2C3D4E5F678901",
    }
    if not event_name.startswith("ObjectRemoved"):
        obj = {
            "key": obj["key"],
            "size": int(o.get("size") or 1024),
            "eTag": "0123456789abcdef0123456789abcdef",
            "sequencer": obj["sequencer"],
        }
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": _region(o),
        "eventTime": _iso(),
        "eventName": event_name,
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "EXAMPLE123456789",
            "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def sqs_event(o: Options) -> dict[str, Any]:
    queue = str(o.get("queue") or "my-queue")
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "MessageReceiptHandle",
                "body": str(o.get("body") or "Hello from SQS!"),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(int(_now().timestamp() * 1000)),
                    "SenderId": "123456789012",
                    "ApproximateFirstReceiveTimestamp": str(int(_now().timestamp() * 1000)),
                },
                "messageAttributes": {},
                "md5OfBody": "7b270e59b47ff90a553787216d55d91d",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{_region(o)}:{_account(o)}:{queue}",
                "awsRegion": _region(o),
            }
        ]
    }


def sns_event(o: Options) -> dict[str, Any]:
    topic = str(o.get("topic") or f"arn:aws:sns:{_region(o)}:{_account(o)}:sns-topic")
    if not topic.startswith("arn:"):
        topic = f"arn:aws:sns:{_region(o)}:{_account(o)}:{topic}"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": topic,
                    "Subject": o.get("subject"),
                    "Message": str(o.get("body") or "Hello from SNS!"),
                    "Timestamp": _iso(),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "EXAMPLE",
                    "UnsubscribeUrl": "EXAMPLE",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def kinesis_event(o: Options) -> dict[str, Any]:
    stream = str(o.get("stream") or "example-stream")
    data = str(o.get("body") or "Hello, this is a test.")
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": str(o.get("partition_key") or "1"),
                    "sequenceNumber": SEQUENCE,
                    "data": base64.b64encode(data.encode()).decode(),
                    "approximateArrivalTimestamp": round(_now().timestamp(), 3),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000006:{SEQUENCE}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{_account(o)}:role/lambda-role",
                "awsRegion": _region(o),
                "eventSourceARN": f"arn:aws:kinesis:{_region(o)}:{_account(o)}:stream/{stream}",
            }
        ]
    }


def dynamodb_event(o: Options) -> dict[str, Any]:
    table = str(o.get("table") or "ExampleTableWithStream")
    return {
        "Records": [
            {
                "eventID": "1",
                "eventVersion": "1.1",
                "dynamodb": {
                    "Keys": {"Id": {"N": "101"}},
                    "NewImage": {"Message": {"S": "New item!"}, "Id": {"N": "101"}},
                    "ApproximateCreationDateTime": int(_now().timestamp()),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                    "SequenceNumber": "111",
                    "SizeBytes": 26,
                },
                "awsRegion": _region(o),
                "eventName": "INSERT",
                "eventSourceARN": f"arn:aws:dynamodb:{_region(o)}:{_account(o)}:table/{table}"
                "/stream/2015-06-27T00:48:05.899",
                "eventSource": "aws:dynamodb",
            }
        ]
    }


def eventbridge_event(o: Options, scheduled: bool = False) -> dict[str, Any]:
    detail: dict[str, Any]
    if scheduled:
        rule = str(o.get("rule") or "my-schedule")
        source, kind, detail = "aws.events", "Scheduled Event", {}
        resources = [f"arn:aws:events:{_region(o)}:{_account(o)}:rule/{rule}"]
    else:
        source = str(o.get("source") or "com.example.app")
        kind = str(o.get("detail_type") or "Example Event")
        try:
            detail = json.loads(o["body"]) if o.get("body") else {"key": "value"}
        except ValueError as exc:
            raise ValueError(f"--body: an EventBridge detail is JSON ({exc})") from None
        resources = []
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": kind,
        "source": source,
        "account": _account(o),
        "time": _iso(ms=False),
        "region": _region(o),
        "resources": resources,
        "detail": detail,
    }


GENERATORS: dict[str, dict[str, Callable[[Options], dict[str, Any]]]] = {
    "s3": {
        "put": lambda o: {"Records": [s3_record(o)]},
        "delete": lambda o: {"Records": [s3_record(o, "ObjectRemoved:Delete")]},
    },
    "sqs": {"receive-message": sqs_event},
    "sns": {"notification": sns_event},
    "kinesis": {"get-records": kinesis_event},
    "dynamodb": {"update": dynamodb_event},
    "eventbridge": {
        "event": eventbridge_event,
        "scheduled-event": lambda o: eventbridge_event(o, scheduled=True),
    },
    "cloudwatch": {"scheduled-event": lambda o: eventbridge_event(o, scheduled=True)},
}


def generate(source: str, kind: str, options: Options) -> dict[str, Any]:
    """The sample event for SOURCE KIND; ValueError names the known ones."""
    kinds = GENERATORS.get(source)
    if kinds is None:
        raise ValueError(f"unknown source {source!r} (known: {', '.join(GENERATORS)})")
    build = kinds.get(kind)
    if build is None:
        raise ValueError(f"unknown {source} event {kind!r} (known: {', '.join(kinds)})")
    return build(options)


def for_push(push: PushSource, region: str, account_id: str) -> bytes:
    """A sample event for a push source, as its service would send it to the function."""
    o: Options = {"region": region, "account_id": account_id}
    if push.type == "s3":
        from samrun.sources.s3 import events_of, rules_of

        rules = {r["Name"]: r["Value"] for r in rules_of(push)}
        o |= {
            "bucket": push.source,
            "key": f"{rules.get('prefix', '')}sample{rules.get('suffix', '')}",
        }
        name = events_of(push)[0].removeprefix("s3:").replace("*", "Put")
        if name.startswith("ObjectRemoved"):
            name = name.replace("Put", "Delete")
        return json.dumps({"Records": [s3_record(o, name)]}).encode()
    if push.type == "sns":
        return json.dumps(sns_event(o | {"topic": push.source})).encode()
    if push.type == "eventbridge":
        from samrun.sources import eventbridge

        event = eventbridge_event(o)
        pattern = push.details.get("pattern")
        if isinstance(pattern, dict):
            for key in ("source", "detail-type"):
                first = (pattern.get(key) or [None])[0]
                if isinstance(first, str):
                    event[key] = first
        rule = eventbridge.rule_arn(push, region, account_id)
        details = {**push.details, "pattern": None}
        found = eventbridge.target_input(
            PushSource(**{**_fields(push), "details": details}), event, rule
        )
        return found or json.dumps(event).encode()
    raise ValueError(f"samrun has no sample event for {push.type} triggers")


def _fields(push: PushSource) -> dict[str, Any]:
    return {name: getattr(push, name) for name in PushSource.__dataclass_fields__}
