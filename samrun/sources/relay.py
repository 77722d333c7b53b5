"""A relay: a samrun-side SQS queue on the app's endpoint that a service delivers to.

moto's server (and LocalStack, and AWS) deliver S3 notifications, SNS messages and EventBridge
rule matches to SQS, but cannot call samrun's functions. So each push source gets its own queue
`samrun-relay-<hash>`; the service is wired to it, and samrun long-polls it and turns each
message into the event AWS would have sent the function. A message is deleted only after its
invocations are on the durable async queue: a crash in between delivers it again (at least once,
after the queue's short visibility timeout), and a queue is deleted only once it is empty. Its
policy lets only its own bucket, topic or rule send to it (`allow`). What connects a service to
it is `sources.wiring`; its life (kept, retried, undone after a crash) is `sources.relays`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from samrun.aws.endpoint import AwsEndpoint

logger = logging.getLogger(__name__)

WAIT_S = 1  # long-poll wait: short, so that stopping is quick
VISIBILITY_S = 10  # a message received by a samrun that died is seen again this soon
RETIRE_TRIES = 5  # a retiring relay's message that cannot be handed over: tries before giving up
Handle = Callable[[dict[str, Any]], Awaitable[None]]


def relay_name(*parts: str) -> str:
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    return f"samrun-relay-{digest}"


def _policy(arn: str, source_arn: str | None = None) -> str:
    """Lets S3, SNS and EventBridge send to the queue (needed on AWS, harmless elsewhere); with
    `source_arn`, only that bucket, topic or rule may (on a real account, no other account's
    resource can then fill samrun's queue)."""
    principals = ["s3.amazonaws.com", "sns.amazonaws.com", "events.amazonaws.com"]
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": principals},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    if source_arn:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": source_arn}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def allow(aws: AwsEndpoint, url: str, arn: str, source_arn: str) -> None:
    """Blocking: only `source_arn` may send to the relay queue at `url`."""
    policy = _policy(arn, source_arn)
    aws.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def count(aws: AwsEndpoint, url: str) -> int:
    """Blocking: the messages a queue holds, visible or in flight (approximate, as SQS says)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    reply = aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(reply["Attributes"].get(name, 0)) for name in names)


class Relay:
    def __init__(self, aws: AwsEndpoint, name: str, executor: ThreadPoolExecutor) -> None:
        self.aws = aws
        self.name = name
        self.executor = executor
        self.url = ""
        self.arn = ""
        self.received = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def _call(self, fn: Callable[..., Any], **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(**kwargs))

    async def create(self) -> None:
        sqs = self.aws.client("sqs")
        self.url = (await self._call(sqs.create_queue, QueueName=self.name))["QueueUrl"]
        attrs = await self._call(
            sqs.get_queue_attributes, QueueUrl=self.url, AttributeNames=["QueueArn"]
        )
        self.arn = attrs["Attributes"]["QueueArn"]  # its policy: `allow`, by the wiring
        await self._call(
            sqs.set_queue_attributes,
            QueueUrl=self.url,
            Attributes={"VisibilityTimeout": str(VISIBILITY_S)},
        )

    def start(self, handle: Handle) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._drain(handle))

    async def retire(self, handle: Handle) -> bool:
        """Stop polling after the receive in progress (never mid-message, which would leave a
        received message invisible), hand over whatever is still queued, then delete the queue.
        Call it once nothing delivers here any more. Keeps the queue (False) if a message could
        not be handed over, or if one is in flight (received by a samrun that died, visible
        again after its visibility timeout): nothing is deleted that was not processed."""
        self._stopping = True
        if self._task:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if not self.url:
            return True
        sqs = self.aws.client("sqs")
        empty = failures = 0
        while empty < 2:  # twice empty: a delivery in progress when unwired has landed too
            reply = await self._call(
                sqs.receive_message,
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0 if empty == 0 else WAIT_S,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = reply.get("Messages", [])
            empty = 0 if messages else empty + 1
            for message in messages:
                self.received += 1
                try:
                    await handle(message)
                except Exception as exc:  # visible again and tried again, a few times
                    failures += 1
                    if failures >= RETIRE_TRIES:
                        logger.warning("relay %s: %s (queue kept, not deleted)", self.name, exc)
                        return False
                    await self._call(
                        sqs.change_message_visibility,
                        QueueUrl=self.url,
                        ReceiptHandle=message["ReceiptHandle"],
                        VisibilityTimeout=0,
                    )
                    await asyncio.sleep(1.0)
                    empty = 0
                    continue
                await self._call(
                    sqs.delete_message, QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]
                )
        if await self._call(lambda: count(self.aws, self.url)):
            return False  # in flight elsewhere: kept, and drained once visible again
        await self.delete()
        return True

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def delete(self) -> None:
        await self.stop()
        if self.url:
            sqs = self.aws.client("sqs")
            try:
                await self._call(sqs.delete_queue, QueueUrl=self.url)
            except Exception as exc:  # botocore's errors: the queue may be gone already
                logger.debug("relay %s: %s", self.name, exc)

    async def _drain(self, handle: Handle) -> None:
        sqs = self.aws.client("sqs")
        while not self._stopping:
            try:
                reply = await self._call(
                    sqs.receive_message,
                    QueueUrl=self.url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=WAIT_S,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the endpoint went away or hiccupped: try again soon
                logger.debug("relay %s: %s", self.name, exc)
                await asyncio.sleep(1.0)
                continue
            for message in reply.get("Messages", []):
                self.received += 1
                try:
                    await handle(message)
                except Exception as exc:  # left on the queue: delivered again later
                    logger.warning("relay %s: %s (the message stays queued)", self.name, exc)
                    continue
                await self._call(
                    sqs.delete_message, QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]
                )
