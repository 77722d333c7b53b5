"""EventBridge rules with an event pattern: wiring on the endpoint, matching, and target input.

The endpoint gets a rule `samrun-relay-…` on the rule's bus that matches every event
(`source` prefix ""), targeting the relay queue; samrun applies the rule's own pattern with
`sources.patterns` (one matcher with known semantics, whatever the endpoint implements), then the
target's `Input`, `InputPath` or `InputTransformer`, as EventBridge does before invoking.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from samrun.model import PushSource
from samrun.sources.patterns import matches

CATCH_ALL = json.dumps({"source": [{"prefix": ""}]})
_ENVELOPE = ("version", "id", "detail-type", "source", "account", "time", "region", "resources")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def rule_arn(push: PushSource, region: str, account_id: str) -> str:
    rule = str(push.details.get("rule") or push.logical_id)
    bus = "" if push.source == "default" else f"{push.source}/"
    return f"arn:aws:events:{region}:{account_id}:rule/{bus}{rule}"


def put_rule(aws: Any, push: PushSource, relay_name: str, *, own_pattern: bool) -> str:
    """Blocking: samrun's rule `relay_name` on the rule's bus; returns its ARN. It matches
    every event (samrun applies the rule's pattern itself), or, with `own_pattern` (real AWS,
    whose matcher is EventBridge's own), the rule's pattern, so that only its events are sent."""
    pattern = push.details.get("pattern") if own_pattern else None
    text = CATCH_ALL if pattern is None else pattern
    reply = aws.client("events").put_rule(
        Name=relay_name,
        EventBusName=push.source,
        EventPattern=text if isinstance(text, str) else json.dumps(text),
        State="ENABLED",
        Description="samrun: relays this bus's events to a local function; removed on stop",
    )
    return str(reply["RuleArn"])


def put_target(aws: Any, push: PushSource, relay_name: str, queue_arn: str) -> None:
    aws.client("events").put_targets(
        Rule=relay_name,
        EventBusName=push.source,
        Targets=[{"Id": "samrun-relay", "Arn": queue_arn}],
    )


def unwire(aws: Any, bus: str, relay_name: str) -> bool:
    """Blocking: remove samrun's rule `relay_name` from `bus`; False when it is not there."""
    events = aws.client("events")
    try:
        events.remove_targets(Rule=relay_name, EventBusName=bus, Ids=["samrun-relay"])
    except events.exceptions.ResourceNotFoundException:
        return False
    events.delete_rule(Name=relay_name, EventBusName=bus)
    return True


def dead_letter(aws: Any, queue_arn: str, payload: bytes, attributes: Mapping[str, str]) -> None:
    """Blocking: an event EventBridge could not deliver, onto its target's dead-letter queue,
    with the attributes EventBridge sets (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE)."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"{queue_arn} is not an SQS queue ARN")
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=payload.decode("utf-8", "replace"),
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value[:1024]}
            for name, value in attributes.items()
        },
    )


def event_of(body: str, account_id: str) -> dict[str, Any]:
    """The event as EventBridge hands it to targets (moto's SQS target leaves out `account`,
    adds `ingestion-time`, and may send `time` as a number)."""
    raw = json.loads(body)
    raw.setdefault("account", account_id)
    event = {key: raw[key] for key in _ENVELOPE if key in raw}
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"] = raw.get("detail", {})
    return event


def target_input(push: PushSource, event: Mapping[str, Any], rule: str) -> bytes | None:
    """The payload the function receives, or None when the rule's pattern does not match."""
    details = push.details
    pattern = details.get("pattern")
    if isinstance(pattern, str):
        pattern = json.loads(pattern)
    if isinstance(pattern, Mapping) and not matches(pattern, event):
        return None
    if "input" in details:
        text = details["input"]
        return (text if isinstance(text, str) else json.dumps(text)).encode()
    if "inputPath" in details:
        return json.dumps(json_path(event, str(details["inputPath"]))).encode()
    transformer = details.get("inputTransformer")
    if isinstance(transformer, Mapping):
        return transform(transformer, event, rule).encode()
    return json.dumps(event).encode()


def json_path(document: Any, path: str) -> Any:
    """EventBridge's JSONPath subset: `$`, `$.a.b`, `$.a[0]`, `$['a-b']`."""
    if not path.startswith("$"):
        raise ValueError(f"{path!r}: a JSON path starts with $")
    tokens = re.findall(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]", path[1:])
    value = document
    for name, index, quoted in tokens:
        if index:
            ok = isinstance(value, list) and int(index) < len(value)
            value = value[int(index)] if ok else None
        else:
            key = name or quoted
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def transform(transformer: Mapping[str, Any], event: Mapping[str, Any], rule: str) -> str:
    """InputTransformer: each `<name>` of InputTemplate becomes the value its InputPathsMap path
    selects: inside a JSON string, its text; elsewhere, its JSON."""
    paths = transformer.get("InputPathsMap") or {}
    values: dict[str, Any] = {name: json_path(event, str(path)) for name, path in paths.items()}
    values |= {
        "aws.events.rule-arn": rule,
        "aws.events.rule-name": rule.rsplit("/", 1)[-1],
        "aws.events.event.ingestion-time": event.get("time"),
        "aws.events.event": dict(event),
        "aws.events.event.json": dict(event),
    }
    template = str(transformer.get("InputTemplate", ""))
    out: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        out.append(template[last : match.start()])
        value = values[name]
        if _in_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1] if value is not None else "")
        else:
            out.append(json.dumps(value))
        last = match.end()
    out.append(template[last:])
    return "".join(out)


def _in_string(text: str, position: int) -> bool:
    inside, i = False, 0
    while i < position:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            inside = not inside
        i += 1
    return inside
