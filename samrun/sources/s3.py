"""S3 bucket notifications to functions: wiring on the endpoint, filters, and the Lambda event.

The bucket gets a QueueConfiguration per function notification (same `Events` and key
`Filter`), pointing at the relay queue; samrun checks the event name and key filter again (the
endpoint may be lax) and completes each record to the shape S3 sends (moto leaves out
`userIdentity`, `requestParameters`, `responseElements` and the object's `sequencer`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from samrun.model import PushSource


def config_hash(push: PushSource) -> str:
    text = json.dumps([_events(push), _rules(push)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def config_id(push: PushSource) -> str:
    return f"samrun-{push.logical_id}-{push.function}-{config_hash(push)}"[:128]


def _rules(push: PushSource) -> list[dict[str, str]]:
    filt = push.details.get("filter") or {}
    key = filt.get("S3Key") or filt.get("Key") or {}
    rules = key.get("Rules") or key.get("FilterRules") or []
    return [{"Name": str(r["Name"]).lower(), "Value": str(r["Value"])} for r in rules]


def _events(push: PushSource) -> list[str]:
    event = push.details.get("event")
    events = event if isinstance(event, list) else [event or "s3:ObjectCreated:*"]
    return [str(e) for e in events]


def events_of(push: PushSource) -> list[str]:
    return _events(push)


def rules_of(push: PushSource) -> list[dict[str, str]]:
    return _rules(push)


def _others(current: Mapping[str, Any], drop: Any) -> dict[str, Any]:
    """The bucket's configuration without the queue configurations `drop` selects: every other
    configuration, and every other key (EventBridgeConfiguration, ones S3 may add), kept as is."""
    body = {k: v for k, v in current.items() if k != "ResponseMetadata"}
    kept = [c for c in body.get("QueueConfigurations", []) if not drop(c)]
    body["QueueConfigurations"] = kept
    return {k: v for k, v in body.items() if v or k == "EventBridgeConfiguration"}


def _relay_of(config: Mapping[str, Any], relay: str) -> bool:
    return str(config.get("QueueArn", "")).rsplit(":", 1)[-1] == relay


def wire(aws: Any, push: PushSource, queue_arn: str) -> None:
    """Blocking: add (or replace) this notification's queue configuration on the bucket,
    keeping every other configuration the bucket has (read, merged, written back)."""
    s3 = aws.client("s3")
    current = s3.get_bucket_notification_configuration(Bucket=push.source)
    relay = queue_arn.rsplit(":", 1)[-1]
    body = _others(current, lambda c: c.get("Id") == config_id(push) or _relay_of(c, relay))
    entry: dict[str, Any] = {"Id": config_id(push), "QueueArn": queue_arn, "Events": _events(push)}
    if _rules(push):
        entry["Filter"] = {"Key": {"FilterRules": _rules(push)}}
    body.setdefault("QueueConfigurations", []).append(entry)
    s3.put_bucket_notification_configuration(Bucket=push.source, NotificationConfiguration=body)


def unwire(aws: Any, bucket: str, relay: str) -> bool:
    """Blocking: remove the queue configurations that deliver to the relay queue named `relay`
    (only those: a configuration with the same Id pointing at a newer relay stays). False when
    there was none."""
    s3 = aws.client("s3")
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    if not any(_relay_of(c, relay) for c in current.get("QueueConfigurations", [])):
        return False
    body = _others(current, lambda c: _relay_of(c, relay))
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=body)
    return True


def _event_matches(pattern: str, name: str) -> bool:
    pattern = pattern.removeprefix("s3:")
    if pattern.endswith(":*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def wanted(push: PushSource, record: Mapping[str, Any]) -> bool:
    """The record's event is one the notification asks for, and its key passes the filter."""
    name = str(record.get("eventName", ""))
    if not any(_event_matches(e, name) for e in _events(push)):
        return False
    key = unquote_plus(str(record.get("s3", {}).get("object", {}).get("key", "")))
    for rule in _rules(push):
        if rule["Name"] == "prefix" and not key.startswith(rule["Value"]):
            return False
        if rule["Name"] == "suffix" and not key.endswith(rule["Value"]):
            return False
    return True


def complete(push: PushSource, record: Mapping[str, Any]) -> dict[str, Any]:
    """One record in S3's documented shape, keeping what the endpoint sent."""
    s3 = dict(record.get("s3") or {})
    bucket = dict(s3.get("bucket") or {})
    bucket.setdefault("ownerIdentity", {"principalId": "EXAMPLE"})
    bucket.setdefault("arn", f"arn:aws:s3:::{bucket.get('name', push.source)}")
    obj = dict(s3.get("object") or {})
    # S3 URL-encodes the key as a form value but keeps its slashes (moto encodes them too).
    obj["key"] = quote_plus(unquote_plus(str(obj.get("key", ""))), safe="/")
    obj.setdefault("sequencer", f"{time.time_ns():X}")
    return {
        "eventVersion": record.get("eventVersion", "2.1"),
        "eventSource": "aws:s3",
        "awsRegion": record.get("awsRegion"),
        "eventTime": record.get("eventTime"),
        "eventName": record.get("eventName"),
        "userIdentity": record.get("userIdentity") or {"principalId": "EXAMPLE"},
        "requestParameters": record.get("requestParameters") or {"sourceIPAddress": "127.0.0.1"},
        "responseElements": record.get("responseElements")
        or {"x-amz-request-id": secrets.token_hex(8).upper(), "x-amz-id-2": secrets.token_hex(32)},
        "s3": {
            "s3SchemaVersion": s3.get("s3SchemaVersion", "1.0"),
            "configurationId": str(push.logical_id or s3.get("configurationId", "")),
            "bucket": bucket,
            "object": obj,
        },
    }


def records(push: PushSource, body: str) -> list[dict[str, Any]]:
    """The records of one relayed message meant for this notification (S3's test event and
    other events are dropped)."""
    message = json.loads(body)
    if not isinstance(message, Mapping) or "Records" not in message:
        return []  # e.g. {"Event": "s3:TestEvent", ...}
    return [complete(push, r) for r in message["Records"] if wanted(push, r)]
