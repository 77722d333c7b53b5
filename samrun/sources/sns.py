"""SNS subscriptions of functions: wiring on the endpoint, filter policies, and the Lambda event.

The relay queue is subscribed to the topic (protocol sqs, not raw, so each message is SNS's
JSON envelope with its attributes); samrun applies the subscription's `FilterPolicy` on the
message attributes (or, with `FilterPolicyScope: MessageBody`, on the message's JSON) with
`sources.patterns`, and hands the function SNS's Lambda event: one record per message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from samrun.model import PushSource
from samrun.sources.patterns import matches

logger = logging.getLogger(__name__)


def wire(aws: Any, push: PushSource, queue_arn: str) -> str:
    """Blocking: subscribe the relay queue to the topic (or find its subscription, left by a
    run that died); returns the subscription ARN."""
    sns = aws.client("sns")
    for found in _subscriptions(sns, push.source):
        arn = str(found.get("SubscriptionArn", ""))  # "PendingConfirmation" is no ARN
        if found.get("Endpoint") == queue_arn and arn.startswith("arn:"):
            return arn
    reply = sns.subscribe(
        TopicArn=push.source, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True
    )
    return str(reply["SubscriptionArn"])


def unwire(aws: Any, topic: str, relay: str, subscription_arn: str = "") -> int:
    """Blocking: unsubscribe every subscription of `topic` that delivers to the relay queue
    named `relay` (and `subscription_arn`); how many there were."""
    sns = aws.client("sns")
    arns = {subscription_arn} - {""}
    for found in _subscriptions(sns, topic):
        if str(found.get("Endpoint", "")).rsplit(":", 1)[-1] == relay:
            arns.add(str(found.get("SubscriptionArn", "")))
    done = 0
    for arn in sorted(a for a in arns if a.startswith("arn:")):
        try:
            sns.unsubscribe(SubscriptionArn=arn)
            done += 1
        except sns.exceptions.NotFoundException:
            continue
    return done


def _subscriptions(sns: Any, topic: str) -> list[dict[str, Any]]:
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic)
    return [s for page in pages for s in page.get("Subscriptions", [])]


def attribute_values(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SNS message attributes as the values a filter policy matches: String as text, Number as
    a number, String.Array as the array; Binary attributes are not matched."""
    out: dict[str, Any] = {}
    for name, attr in attributes.items():
        kind, value = str(attr.get("Type", "String")), attr.get("Value")
        if kind.startswith("Number"):
            try:
                out[name] = float(value) if "." in str(value) or "e" in str(value) else int(value)
            except (TypeError, ValueError):
                continue
        elif kind == "String.Array":
            try:
                out[name] = json.loads(str(value))
            except ValueError:
                out[name] = value
        elif kind.startswith("String"):
            out[name] = value
    return out


def passes(push: PushSource, envelope: Mapping[str, Any]) -> bool:
    policy = push.details.get("FilterPolicy")
    if isinstance(policy, str):
        policy = json.loads(policy)
    if not isinstance(policy, Mapping) or not policy:
        return True
    if push.details.get("FilterPolicyScope") == "MessageBody":
        try:
            body = json.loads(str(envelope.get("Message", "")))
        except ValueError:
            return False
        return isinstance(body, Mapping) and matches(policy, body)
    return matches(policy, attribute_values(envelope.get("MessageAttributes") or {}))


def lambda_event(envelope: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """SNS's event for Lambda, from the envelope SNS sends to SQS."""
    sns = {
        "Type": envelope.get("Type", "Notification"),
        "MessageId": envelope.get("MessageId"),
        "TopicArn": envelope.get("TopicArn"),
        "Subject": envelope.get("Subject"),
        "Message": envelope.get("Message"),
        "Timestamp": envelope.get("Timestamp"),
        "SignatureVersion": envelope.get("SignatureVersion", "1"),
        "Signature": envelope.get("Signature", ""),
        "SigningCertUrl": envelope.get("SigningCertURL", envelope.get("SigningCertUrl", "")),
        "UnsubscribeUrl": envelope.get("UnsubscribeURL", envelope.get("UnsubscribeUrl", "")),
        "MessageAttributes": {
            name: {"Type": attr.get("Type"), "Value": attr.get("Value")}
            for name, attr in (envelope.get("MessageAttributes") or {}).items()
        },
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": sns,
            }
        ]
    }
