"""InvocationType Event: accept durably, then run with Lambda's retries, expiry and destinations.

`accept` answers once the event is committed to SQLite (`event_store`), so a 202 is a promise
that survives `kill -9`; on start, every event left in the file is queued again (at least once).
Events due now are run by `Invoker.run`, at most `max_inflight` at a time. As Lambda does:
- a function error is retried `MaximumRetryAttempts` times (0-2, default 2), after 1 then 2
  minutes;
- an event of a function at its concurrency limit waits, off the workers, for a slot of that
  function (the gate tells of each released one), as Lambda's internal pollers scale to the
  reserved concurrency: a backlog drains at the limit. Only a throttle waiting cannot cure (a
  reservation of 0, a limit from outside samrun's gate) is retried with exponential backoff from
  1 s to 5 min; neither uses up attempts;
- an event older than `MaximumEventAgeInSeconds` (default 6 h) is not run again;
- the end of the line: on success the OnSuccess destination gets the invocation record; on
  failure the dead-letter queue gets the event and the OnFailure destination the record.
Every delay and age limit is divided by `time_scale` (`--time-scale`, default 1), so tests can
see an hour of Lambda's behaviour in seconds.

Recursive loops: each event carries `Lineage=<hash>:<hop>` in its trace header, which the
runtime exposes as `_X_AMZN_TRACE_ID` and the AWS SDK sends back as `X-Amzn-Trace-Id`; the hop
after the 16th is not run, as Lambda's recursive loop detection does.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import re
import sqlite3
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from samrun.errors import ResourceNotFound, ServiceError, TooManyRequests
from samrun.invoke.destinations import (
    EVENT_AGE_EXCEEDED,
    RECURSIVE_LOOP,
    RETRIES_EXHAUSTED,
    SUCCESS,
    Destinations,
    invocation_record,
)
from samrun.invoke.event_store import EventStore, Op, QueuedEvent
from samrun.invoke.invoker import Invoker, new_trace_id
from samrun.invoke.models import InvocationType, InvokeRequest, InvokeResult
from samrun.invoke.resolve import Target
from samrun.invoke.slot_wait import SlotWaiters
from samrun.invoke.telemetry import (
    ASYNC_AGE,
    ASYNC_DROPPED,
    ASYNC_RECEIVED,
    DEAD_LETTER_ERRORS,
    DESTINATION_FAILURES,
)
from samrun.model import LATEST

logger = logging.getLogger(__name__)

DEFAULT_RETRIES = 2
DEFAULT_MAX_AGE_S = 21600
RETRY_DELAYS_S = (60.0, 120.0)  # before the 2nd and the 3rd attempt
THROTTLE_FIRST_S, THROTTLE_MAX_S = 1.0, 300.0
MAX_HOPS = 16
ASYNC_WORKERS = 8  # events run at once: more starves accepting on 2 cores (bench/async_bench.py)
LINEAGE = re.compile(r";?\s*Lineage=([^;]*)")


def lineage(trace_id: str | None) -> tuple[str, int] | None:
    """(hash, hop) from a trace header's `Lineage=hash:hop` (or `version:hash:hop`)."""
    match = LINEAGE.search(trace_id or "")
    if not match:
        return None
    parts = match.group(1).split(":")
    try:
        return parts[-2] if len(parts) > 1 else "", int(parts[-1])
    except ValueError:
        return None


def with_lineage(trace_id: str, origin: str, hop: int) -> str:
    return f"{LINEAGE.sub('', trace_id)};Lineage={origin}:{hop}"


class AsyncQueue:
    def __init__(
        self,
        invoker: Invoker,
        destinations: Destinations | None,
        state_dir: Path,
        *,
        time_scale: float = 1.0,
        max_inflight: int = 32,
    ) -> None:
        self.invoker = invoker
        self.destinations = destinations
        self.store = EventStore(state_dir)
        self.time_scale = time_scale if time_scale > 0 else 1.0
        self.max_inflight = max(1, max_inflight)
        self._due: list[tuple[float, int, QueuedEvent]] = []  # heap by due time
        self._inflight: set[asyncio.Task[None]] = set()
        self._ops: list[tuple[Op, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None
        self._ids = random.Random()
        self._waiting = SlotWaiters(invoker.gate, self._push)  # events awaiting a slot
        self.accepted = self.delivered = self.throttled = 0
        # told of each event that ends failed (condition, error): the dashboard's dead letters
        self.on_dropped: Callable[[QueuedEvent, str, str], None] | None = None
        self._store_failing = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        left = await loop.run_in_executor(self.store.executor, self.store.open)
        if left:
            logger.info("async queue: %d event(s) left from the last run, queued again", len(left))
        for event in left:
            self._push(event)
        self._dispatcher = asyncio.create_task(self._dispatch())

    async def accept(self, target: Target, request: InvokeRequest, request_id: str) -> None:
        """Returns once the event is on disk: the Lambda API may then answer 202."""
        now = time.time()
        event = QueuedEvent(
            request_id=request_id,
            function=target.function.name,
            qualifier=target.qualifier or LATEST,
            payload=request.payload,
            # sampled once, at accept: every attempt belongs to one trace
            trace_id=self.invoker.tracer.decide(request.trace_id, target.config.tracing),
            client_context=request.client_context,
            enqueued_at=now,
            due_at=now,
            tenant_id=request.tenant_id,
            source=request.source,
        )
        try:
            await self._write(("insert", event))
        except sqlite3.Error as exc:  # a full disk: the caller hears of it, the log once
            if not self._store_failing:
                logger.error("async queue: cannot store events in %s: %s", self.store.path, exc)
            self._store_failing = True
            raise ServiceError(f"The event could not be stored: {exc}") from None
        if self._store_failing:
            logger.info("async queue: storing events again")
            self._store_failing = False
        self.accepted += 1
        self.invoker.telemetry.signal(ASYNC_RECEIVED, event.function, _resource(event))
        self._push(event)

    async def accept_named(self, function: str, payload: bytes, trace_id: str | None) -> None:
        """An asynchronous invocation samrun makes itself (a function destination)."""
        request = InvokeRequest(
            function=function,
            payload=payload,
            invocation_type=InvocationType.EVENT,
            trace_id=trace_id,
        )
        await self.invoker.invoke(request)

    def stop_taking(self) -> None:
        """Run no more events (a graceful stop): those running finish, the rest stay on disk."""
        if self._dispatcher:
            self._dispatcher.cancel()

    async def stop(self, drain_s: float = 5.0) -> None:
        """Stop taking events off the queue; what is not finished stays queued on disk."""
        if self._dispatcher:
            self._dispatcher.cancel()
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=drain_s)
        for task in list(self._inflight):
            task.cancel()
        if self._flushing:
            await asyncio.gather(self._flushing, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.store.executor, self.store.close)
        self.store.executor.shutdown(wait=False)

    def pending(self) -> int:
        return len(self._due) + len(self._inflight) + len(self._waiting)

    def waiting(self, limit: int) -> list[QueuedEvent]:
        """Up to `limit` events waiting for their turn (new, or retrying later), soonest first."""
        return [entry[2] for entry in heapq.nsmallest(limit, self._due)]

    # -- durability: every change is one op, many ops share one transaction --

    async def _write(self, op: Op) -> None:
        future = asyncio.get_running_loop().create_future()
        self._ops.append((op, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._ops:
                batch, self._ops = self._ops, []
                try:
                    ops = [op for op, _ in batch]
                    await loop.run_in_executor(self.store.executor, self.store.apply, ops)
                except Exception as exc:  # disk full, file gone: every waiter hears of it
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._flushing = None

    # -- dispatch --

    def _push(self, event: QueuedEvent) -> None:
        heapq.heappush(self._due, (event.due_at, event.id, event))
        self._wake.set()

    async def _dispatch(self) -> None:
        while True:
            self._wake.clear()
            now = time.time()
            starting: dict[str, int] = {}  # started in this pass, not leased yet
            while self._due and self._due[0][0] <= now and len(self._inflight) < self.max_inflight:
                event = heapq.heappop(self._due)[2]
                if self._waiting.must_wait(event.function, starting.get(event.function, 0)):
                    self._waiting.park(event)
                    continue
                starting[event.function] = starting.get(event.function, 0) + 1
                task = asyncio.create_task(self._run_guarded(event))
                self._inflight.add(task)
                task.add_done_callback(self._finished)
            wait = None
            if self._due and len(self._inflight) < self.max_inflight:
                wait = max(0.0, self._due[0][0] - now)
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def _run_guarded(self, event: QueuedEvent) -> None:
        try:
            await self._run(event)
        except asyncio.CancelledError:
            raise
        except sqlite3.Error as exc:  # a full disk: the event stays as it was on disk
            logger.error("async event %s: cannot update the queue: %s", event.request_id, exc)
            event.due_at = time.time() + THROTTLE_MAX_S / self.time_scale
            self._push(event)
        except Exception:  # a bug must not lose the event: it stays on disk, retried later
            logger.exception("async event %s: failed to process; retrying", event.request_id)
            event.due_at = time.time() + THROTTLE_MAX_S / self.time_scale
            self._push(event)

    async def _run(self, event: QueuedEvent) -> None:
        try:
            target = self.invoker.directory.resolve(event.function, event.qualifier)
        except ResourceNotFound:
            logger.warning("async event %s: %s is gone; dropped", event.request_id, event.function)
            await self._write(("delete", event))
            return
        config = self.invoker.directory.invoke_config(target)
        retries = DEFAULT_RETRIES
        max_age = DEFAULT_MAX_AGE_S
        if config is not None and config.maximum_retry_attempts is not None:
            retries = config.maximum_retry_attempts
        if config is not None and config.maximum_event_age_s is not None:
            max_age = config.maximum_event_age_s
        age_s = time.time() - event.enqueued_at
        self.invoker.telemetry.signal(ASYNC_AGE, event.function, _resource(event), age_s * 1000)
        if age_s > max_age / self.time_scale:
            await self._fail(event, target, EVENT_AGE_EXCEEDED, None, "Event age exceeded")
            return
        found = lineage(event.trace_id)
        origin, hop = found if found else (f"{zlib.crc32(target.function.arn.encode()):08x}", 0)
        if hop >= MAX_HOPS:
            logger.warning(
                "recursive loop detected: %s was invoked %d times from one original event; "
                "stopped the next invocation (request %s), as Lambda does",
                target.function.name,
                hop,
                event.request_id,
            )
            await self._fail(event, target, RECURSIVE_LOOP, None, "Recursive loop detected")
            return
        trace = with_lineage(event.trace_id or new_trace_id(self._ids), origin, hop + 1)
        request = InvokeRequest(
            function=event.function,
            qualifier=event.qualifier,
            payload=event.payload,
            invocation_type=InvocationType.EVENT,
            client_context=event.client_context,
            trace_id=trace,
            queued_at=event.enqueued_at,
            attempt=event.attempts + 1,
            tenant_id=event.tenant_id,
            source=event.source,
        )
        try:
            result = await self.invoker.run(target, request, event.request_id)
        except TooManyRequests:
            if self._waiting.must_wait(event.function):  # another caller took the slot
                self._waiting.park(event)
                return
            self.throttled += 1
            event.throttles += 1
            delay = min(THROTTLE_MAX_S, THROTTLE_FIRST_S * 2 ** (event.throttles - 1))
            await self._retry_later(event, delay)
            return
        event.attempts += 1
        if not result.function_error:
            await self._succeed(event, target, result)
        elif event.attempts <= retries:
            await self._retry_later(event, RETRY_DELAYS_S[min(event.attempts, 2) - 1])
        else:
            await self._fail(event, target, RETRIES_EXHAUSTED, result, result.error_type or "")

    async def _retry_later(self, event: QueuedEvent, delay_s: float) -> None:
        event.due_at = time.time() + delay_s / self.time_scale
        await self._write(("update", event))
        self._push(event)

    async def _succeed(self, event: QueuedEvent, target: Target, result: InvokeResult) -> None:
        config = self.invoker.directory.invoke_config(target)
        if config is not None and config.on_success is not None and self.destinations:
            record = self._record(event, target, SUCCESS, result)
            if not await self.destinations.send_record(config.on_success, record, event.trace_id):
                self.invoker.telemetry.signal(
                    DESTINATION_FAILURES, event.function, _resource(event)
                )
        await self._done(event)

    async def _fail(
        self,
        event: QueuedEvent,
        target: Target,
        condition: str,
        result: InvokeResult | None,
        error: str,
    ) -> None:
        logger.info(
            "async event %s of %s: %s after %d attempt(s)",
            event.request_id,
            target.function.name,
            condition,
            event.attempts,
        )
        config = self.invoker.directory.invoke_config(target)
        telemetry, resource = self.invoker.telemetry, _resource(event)
        telemetry.signal(ASYNC_DROPPED, event.function, resource)
        if self.on_dropped is not None:
            self.on_dropped(event, condition, error)
        if self.destinations is not None:
            if target.function.dead_letter is not None and not await self.destinations.dead_letter(
                target.function.dead_letter, event.payload, event.request_id, error
            ):
                telemetry.signal(DEAD_LETTER_ERRORS, event.function, resource)
            if config is not None and config.on_failure is not None:
                record = self._record(event, target, condition, result)
                if not await self.destinations.send_record(
                    config.on_failure, record, event.trace_id
                ):
                    telemetry.signal(DESTINATION_FAILURES, event.function, resource)
        await self._done(event)

    async def _done(self, event: QueuedEvent) -> None:
        await self._write(("delete", event))
        self.delivered += 1

    def _record(
        self, event: QueuedEvent, target: Target, condition: str, result: InvokeResult | None
    ) -> dict[str, object]:
        version = result.executed_version if result else target.version
        return invocation_record(
            request_id=event.request_id,
            function_arn=f"{target.function.arn}:{version}",
            condition=condition,
            attempts=event.attempts,
            request_payload=event.payload,
            result=result,
        )


def _resource(event: QueuedEvent) -> str | None:
    """The `Resource` dimension of an event: the qualifier it was sent to, None for $LATEST."""
    return None if event.qualifier == LATEST else event.qualifier
