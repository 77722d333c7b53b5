"""Connecting a push source to its relay queue, and undoing it: additive only.

samrun never changes what a bucket, topic or bus already delivers: it adds an SNS subscription
of the relay queue, a samrun-named EventBridge rule (`samrun-relay-…`) targeting it, or a queue
configuration merged into the bucket's NotificationConfiguration (every other configuration
kept), and undoing removes exactly that. The relay queue's policy lets only that bucket, topic or
rule send to it. All of it is blocking (boto3): run it off the loop.
"""

from __future__ import annotations

import logging
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.sources import eventbridge, s3, sns
from samrun.sources.relay import allow
from samrun.sources.relay_ledger import Wiring

logger = logging.getLogger(__name__)


def prepare(wiring: Wiring) -> None:
    """Fill in what is known before anything is made (so the ledger can name it)."""
    push = wiring.push
    if push.type == "eventbridge":
        wiring.rule = wiring.relay
    elif push.type == "s3":
        wiring.config_id = s3.config_id(push)


def connect(aws: AwsEndpoint, wiring: Wiring, url: str, arn: str) -> None:
    """Let the source send to the relay queue (`url`, `arn`), then make it send there."""
    push, real = wiring.push, bool(aws.profile)
    prepare(wiring)
    if push.type == "eventbridge":
        rule_arn = eventbridge.put_rule(aws, push, wiring.relay, own_pattern=real)
        allow(aws, url, arn, rule_arn)
        eventbridge.put_target(aws, push, wiring.relay, arn)
    elif push.type == "sns":
        allow(aws, url, arn, push.source)
        wiring.subscription = sns.wire(aws, push, arn)
    else:
        allow(aws, url, arn, f"arn:aws:s3:::{push.source}")
        s3.wire(aws, push, arn)


def disconnect(aws: AwsEndpoint, wiring: Wiring) -> bool:
    """Undo `connect` (what of it was made: a crashed run may have stopped half way); False when
    nothing was there. A bucket, topic or bus that is gone has nothing to undo."""
    push = wiring.push
    try:
        if push.type == "eventbridge":
            return eventbridge.unwire(aws, push.source, wiring.rule or wiring.relay)
        if push.type == "sns":
            return sns.unwire(aws, push.source, wiring.relay, wiring.subscription) > 0
        return s3.unwire(aws, push.source, wiring.relay)
    except Exception as exc:  # botocore's errors: the resource went away (an edit, a delete)
        if _gone(exc):
            logger.debug("%s: %s", wiring.describe(), exc)
            return False
        raise


def _gone(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("NoSuchBucket", "NotFound", "NotFoundException", "ResourceNotFoundException")


def queue_url(aws: AwsEndpoint, name: str) -> str | None:
    """The relay queue's URL, or None when it is gone."""
    sqs: Any = aws.client("sqs")
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except sqs.exceptions.QueueDoesNotExist:
        return None
