"""The SQS poller: long polling, batches, deletion only after success, partial batch failures.

As Lambda's pollers do, it starts with one long-polling worker and adds one each time a worker
receives a full batch (a backlog), up to the mapping's limit (MaximumConcurrency, the function's
reserved concurrency, the machine's cap); a worker whose long poll comes back empty retires,
down to one. A worker waits for a concurrency slot before it receives, so a throttled function
slows its queue down instead of collecting 429s. A failed message is not deleted: the queue's
visibility timeout brings it back and its redrive policy moves it to the dead-letter queue.
Messages are received before they are processed and deleted after, so a kill -9 leaves them on
the queue. A message whose trace header carries the 16th hop of a recursive loop is not run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import time
import zlib
from collections.abc import Sequence
from typing import Any

from samrun.errors import LambdaApiError
from samrun.invoke.async_queue import MAX_HOPS, lineage, with_lineage
from samrun.invoke.invoker import new_trace_id
from samrun.sources import blocking
from samrun.sources.base import Context, LiveMapping, fitted, item_failures
from samrun.sources.records import filter_view, sqs_attributes, sqs_record

logger = logging.getLogger(__name__)

LONG_POLL_S = 20
DEFAULT_BATCH = 10
SUPERVISE_S = 0.5
ERROR_PAUSE_S = 1.0
Message = dict[str, Any]


class SqsPoller:
    def __init__(self, context: Context, mapping: LiveMapping) -> None:
        self.context = context
        self.mapping = mapping
        self.arn = mapping.esm.source
        self.url: str | None = None
        self.dead_letter_arn: str | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._receiving: set[asyncio.Future[Any]] = set()
        self._processing = 0
        self._stopping = False
        self._wake = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise())

    def stop_taking(self) -> None:
        """Read no more: long polls are abandoned, batches in flight finish."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        """Enabled, limits or configuration changed: interrupt long polls and re-plan."""
        for future in list(self._receiving):
            future.cancel()
        self._wake.set()

    async def stop(self, drain_s: float) -> None:
        """Stop receiving; batches being processed finish (bounded by `drain_s`)."""
        self._stopping = True
        self.wake()
        if self._supervisor:
            self._supervisor.cancel()
        if self._workers:
            await asyncio.wait(list(self._workers), timeout=drain_s)
        for task in list(self._workers):
            task.cancel()

    # -- scaling --

    async def _supervise(self) -> None:
        while not self._stopping:
            if self.url is None:
                await self._resolve()
            elif self._wanted() and not self._workers:
                self._spawn()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SUPERVISE_S):
                    await self._wake.wait()

    def _wanted(self) -> bool:
        return (
            not self._stopping
            and self.mapping.state == "Enabled"
            and self.context.limit(self.mapping) > 0
        )

    def _spawn(self) -> None:
        task = asyncio.create_task(self._worker())
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def _resolve(self) -> None:
        name, account = self.arn.split(":")[5], self.arn.split(":")[4]
        sqs = self.context.aws.client("sqs")
        try:
            self.url = await blocking.call(
                lambda: sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                    "QueueUrl"
                ]
            )
            attributes = await blocking.call(
                lambda: sqs.get_queue_attributes(
                    QueueUrl=self.url, AttributeNames=["RedrivePolicy"]
                ).get("Attributes", {})
            )
            policy = json.loads(attributes.get("RedrivePolicy") or "{}")
            self.dead_letter_arn = policy.get("deadLetterTargetArn")
        except Exception as exc:  # the endpoint's errors: say so, try again
            self.mapping.state_reason = f"PROBLEM: {exc}"
            logger.warning("%s: queue %s is not reachable: %s", self.mapping.uuid, name, exc)
            await asyncio.sleep(ERROR_PAUSE_S * 5)

    async def _worker(self) -> None:
        while self._wanted() and len(self._workers) <= self.context.limit(self.mapping):
            await self.context.room(self.mapping)
            try:
                messages = await self._collect()
            except asyncio.CancelledError:
                if self._stopping or asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    raise
                continue  # woken: limits or settings changed
            except Exception as exc:  # the endpoint's errors: pause, then poll again
                logger.warning("%s: receiving from %s failed: %s", self.mapping.uuid, self.arn, exc)
                await asyncio.sleep(ERROR_PAUSE_S)
                continue
            if not messages:
                if len(self._workers) > 1:
                    return
                continue
            full = len(messages) >= min(self._batch_size(), DEFAULT_BATCH)
            if full and len(self._workers) < self.context.limit(self.mapping):
                self._spawn()  # a backlog: one more worker, up to the limit
            self._processing += 1
            try:
                await self._process(messages)
            except LambdaApiError as exc:  # the function is gone: messages wait on the queue
                logger.warning("%s: %s", self.mapping.uuid, exc.message)
                await asyncio.sleep(ERROR_PAUSE_S)
            except Exception:  # a bug must not stop the queue: its messages come back anyway
                logger.exception("%s: a batch of %s failed", self.mapping.uuid, self.arn)
                await asyncio.sleep(ERROR_PAUSE_S)
            finally:
                self._processing -= 1

    def _batch_size(self) -> int:
        return self.mapping.esm.batch_size or DEFAULT_BATCH

    # -- receiving --

    async def _collect(self) -> list[Message]:
        """Up to BatchSize messages: the first long poll waits for any, then more are taken
        until the batch is full or MaximumBatchingWindowInSeconds has passed."""
        size = self._batch_size()
        window = self.mapping.esm.maximum_batching_window_s or 0
        messages: list[Message] = []
        deadline = 0.0
        while len(messages) < size and not self._stopping:
            if not messages:
                wait = LONG_POLL_S
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_S, int(remaining))
            try:
                got = await self._receive(min(DEFAULT_BATCH, size - len(messages)), wait)
            except asyncio.CancelledError:
                self._release([m["ReceiptHandle"] for m in messages])
                raise
            if got and not messages:
                deadline = time.monotonic() + window / self.context.time_scale
            messages.extend(got)
            if not messages:
                return messages
            if window <= 0 or (not got and wait == 0):
                break
        return messages

    async def _receive(self, count: int, wait: int) -> list[Message]:
        sqs = self.context.aws.client("sqs")
        url = self.url

        def receive() -> list[Message]:
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            return list(response.get("Messages", []))

        future = blocking.start(receive)
        waiter = asyncio.wrap_future(future)
        self._receiving.add(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            future.add_done_callback(self._release_late)
            raise
        finally:
            self._receiving.discard(waiter)

    def _release_late(self, future: concurrent.futures.Future[list[Message]]) -> None:
        """A long poll abandoned by a stop: what it still received goes back at once."""
        if future.cancelled() or future.exception() is not None or not future.result():
            return
        self._release([m["ReceiptHandle"] for m in future.result()])

    def _release(self, handles: list[str]) -> None:
        if handles:
            blocking.start(lambda: self._change_visibility(handles, 0))

    def _change_visibility(self, handles: Sequence[str], seconds: int) -> None:
        sqs = self.context.aws.client("sqs")
        for start in range(0, len(handles), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds}
                for i, h in enumerate(handles[start : start + 10])
            ]
            with contextlib.suppress(Exception):  # best effort: the timeout does it anyway
                sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)

    # -- processing --

    async def _process(self, messages: list[Message]) -> None:
        mapping, context = self.mapping, self.context
        mapping.stats.seen += len(messages)
        records = [sqs_record(m, self.arn, context.region) for m in messages]
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for record in records:
            keep = not mapping.esm.filters or mapping.keep(filter_view(record))
            (kept if keep else dropped).append(record)
        looping, trace = self._lineage(kept)
        if dropped:
            mapping.stats.filtered += len(dropped)
            await self._delete(dropped)  # filtered-out messages are deleted, as Lambda does
        if looping:
            await self._stop_loop(looping)
            kept = [r for r in kept if all(r is not x for x in looping)]
        for part in fitted(kept):  # Lambda's 6 MB invocation payload: a big batch is split
            await self._invoke(part, trace)

    async def _invoke(self, kept: list[dict[str, Any]], trace: str) -> None:
        """One invocation, then the deletion of what succeeded."""
        mapping, context = self.mapping, self.context
        result = await context.invoke(mapping, kept, trace_id=trace)
        mapping.stats.batches += 1
        if result.function_error:
            mapping.stats.failures += 1
            logger.info(
                "%s: %s failed a batch of %d (%s); it returns after the visibility timeout",
                mapping.uuid,
                mapping.esm.function,
                len(kept),
                result.error_type,
            )
            return
        done = kept
        if "ReportBatchItemFailures" in mapping.esm.function_response_types:
            failed = item_failures(result, {r["messageId"] for r in kept})
            if failed is None:
                mapping.stats.failures += 1
                return
            if failed:
                mapping.stats.failures += 1
            done = [r for r in kept if r["messageId"] not in failed]
        await self._delete(done)

    def _lineage(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
        """Messages at the recursive loop limit, and the trace header of the batch's invocation
        (the hop after the highest one among the messages)."""
        looping, highest, origin, header = [], 0, "", None
        for record in records:
            found = lineage(record["attributes"].get("AWSTraceHeader"))
            if found is None:  # a header without Lineage (an SDK's): the trace goes on from it
                header = header or record["attributes"].get("AWSTraceHeader")
                continue
            if found[1] >= MAX_HOPS:
                looping.append(record)
            elif found[1] >= highest:
                highest, origin, header = found[1], found[0], record["attributes"]["AWSTraceHeader"]
        if not origin:
            function = self.context.invoker.directory.graph.function(self.mapping.esm.function)
            origin = f"{zlib.crc32((function.arn if function else self.arn).encode()):08x}"
        trace = header.split(";Lineage")[0] if header else new_trace_id(self.context.ids)
        return looping, with_lineage(trace, origin, highest + 1)

    async def _stop_loop(self, records: list[dict[str, Any]]) -> None:
        """Lambda's recursive loop detection: "If a function is invoked by the same triggering
        event more than 16 times, Lambda will stop the next invocation and sends the event to a
        Dead-Letter Queue or on-failure destination, if configured" (AWS What's New, 2023-07-13,
        https://aws.amazon.com/about-aws/whats-new/2023/07/aws-lambda-detects-recursive-loops-
        lambda-functions/, and docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html).
        An SQS mapping has no on-failure destination: the message goes to the source queue's
        dead-letter queue (its RedrivePolicy), with its body and message attributes, as SQS's
        redrive moves it; without one it is deleted (dropped)."""
        logger.warning(
            "recursive loop detected: %d message(s) of %s reached %s for the %dth time; "
            "not invoked%s, as Lambda does",
            len(records),
            self.arn,
            self.mapping.esm.function,
            MAX_HOPS + 1,
            " (moved to the dead-letter queue)" if self.dead_letter_arn else " (dropped)",
        )
        if self.dead_letter_arn:
            await blocking.call(lambda: self._send_dead_letters(records))
        await self._delete(records)

    def _send_dead_letters(self, records: list[dict[str, Any]]) -> None:
        sqs = self.context.aws.client("sqs")
        parts = (self.dead_letter_arn or "").split(":")
        url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        for record in records:
            kwargs: dict[str, Any] = {"QueueUrl": url, "MessageBody": record["body"]}
            attributes = sqs_attributes(record.get("messageAttributes") or {})
            if attributes:
                kwargs["MessageAttributes"] = attributes
            if parts[5].endswith(".fifo"):
                kwargs["MessageGroupId"] = record["attributes"].get("MessageGroupId", "loop")
                kwargs["MessageDeduplicationId"] = record["messageId"]
            sqs.send_message(**kwargs)

    async def _delete(self, records: Sequence[dict[str, Any]]) -> None:
        if not records:
            return
        sqs = self.context.aws.client("sqs")
        handles = [r["receiptHandle"] for r in records]

        def delete() -> int:
            deleted = 0
            for start in range(0, len(handles), 10):
                entries = [
                    {"Id": str(i), "ReceiptHandle": h}
                    for i, h in enumerate(handles[start : start + 10])
                ]
                response = sqs.delete_message_batch(QueueUrl=self.url, Entries=entries)
                deleted += len(response.get("Successful", []))
            return deleted

        try:
            deleted = await blocking.call(delete)
            self.mapping.stats.deleted += deleted
        except Exception as exc:  # not deleted: the message comes back, at least once
            logger.warning("%s: deleting from %s failed: %s", self.mapping.uuid, self.arn, exc)
