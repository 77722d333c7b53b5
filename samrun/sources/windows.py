"""TumblingWindowInSeconds: stream records grouped into fixed windows, with state carried over.

Each invocation gets the window's `state` (what the previous invocation returned as `state`),
`window` {start, end}, `shardId`, `eventSourceARN`, `isFinalInvokeForWindow` and
`isWindowTerminatedEarly`; when a window ends, one last invocation with no records and
`isFinalInvokeForWindow: true` hands the aggregate over, and the state starts empty for the next
window. Windows are aligned on multiples of their length, by each record's arrival time.

What AWS's guide says (docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html and
services-ddb-windows.html), and samrun does:
- "the Lambda function response must contain a state property. If the response does not contain
  a state property, Lambda considers this a failed invocation": retried as a failure.
- "Your state can be a maximum of 1 MB per shard. If it exceeds that size, Lambda terminates the
  window early": the final invocation comes at once, with `isWindowTerminatedEarly: true` (and
  the state returned, so the aggregate is not lost: the guide does not say which state it
  carries), and the same window goes on with a fresh state, as `isWindowTerminatedEarly` is
  documented ("Subsequent invoke will continue the same window with a fresh state").
- "Tumbling windows fully support the existing retry policies maxRetryAttempts and
  maxRecordAge": records past MaximumRecordAgeInSeconds, and a batch failing more than
  MaximumRetryAttempts times, are given up on (to the OnFailure destination, as without
  windows); ReportBatchItemFailures retries from the first failed record. The guide names no
  bisection for windows: BisectBatchOnFunctionError is not applied inside them.
- the final invocation: "If the invocation is unsuccessful, your Lambda function suspends
  further processing until a successful invocation": it is retried until it succeeds.
- "When the shard ends, Lambda considers the window closed, and the child shards start their own
  window in a fresh state": the stream poller calls `close` at a shard's end.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from samrun.invoke.models import InvokeResult
from samrun.sources.base import Context, LiveMapping
from samrun.sources.records import arrival_of, iso
from samrun.sources.stream_batches import RETRIES_EXHAUSTED, BatchDelivery

logger = logging.getLogger(__name__)

RETRY_PAUSE_S = 0.5
STATE_LIMIT = 1024 * 1024  # bytes of JSON, per shard
Record = dict[str, Any]


class TumblingWindows:
    def __init__(self, context: Context, mapping: LiveMapping, shard_id: str) -> None:
        self.context = context
        self.mapping = mapping
        self.shard_id = shard_id
        self.start: float | None = None
        self.state: dict[str, Any] = {}
        self._batches = BatchDelivery(context, mapping, shard_id)  # retry policies, give-up

    @property
    def length_s(self) -> float:
        try:
            seconds = int(self.mapping.setting("TumblingWindowInSeconds", 0) or 0)
        except (TypeError, ValueError):
            return 0.0
        return seconds / self.context.time_scale if seconds > 0 else 0.0

    @property
    def enabled(self) -> bool:
        return self.length_s > 0

    async def deliver(self, records: list[Record]) -> None:
        """Invoke for these records, window by window; close windows that have ended."""
        if not self.enabled:
            return
        length = self.length_s
        groups: dict[float, list[Record]] = {}
        for record in records:
            groups.setdefault(arrival_of(record) // length * length, []).append(record)
        for start in sorted(groups):
            if self.start is not None and start != self.start:
                await self.close()
            self.start = start
            await self._aggregate(groups[start])
        if self.start is not None and time.time() >= self.start + length:
            await self.close()

    async def close(self, *, early: bool = False) -> None:
        """The window's final invocation; the next one starts with an empty state."""
        if self.start is None:
            return
        while True:  # "suspends further processing until a successful invocation"
            result = await self._invoke([], final=True, early=early)
            if self._state_of(result) is not None:
                break
            self.mapping.stats.failures += 1
            await asyncio.sleep(RETRY_PAUSE_S / self.context.time_scale)
        self.state = {}
        if not early:
            self.start = None

    async def _aggregate(self, records: list[Record]) -> None:
        """One batch of the open window, under the mapping's retry policies."""
        batches = self._batches
        max_retries = batches.number("MaximumRetryAttempts", -1)
        max_age = batches.number("MaximumRecordAgeInSeconds", -1)
        failed = 0
        while records:
            if max_age >= 0:
                records = await batches.drop_expired(records, max_age, failed)
                if not records:
                    return
            result = await self._invoke(records, final=False)
            state = self._state_of(result)
            retry_from = 0 if state is None else batches.outcome(result, records)
            if state is not None:
                self.state = state
                if len(json.dumps(state).encode()) > STATE_LIMIT:
                    logger.warning(
                        "%s: the window's state of %s is over 1 MB: window terminated early",
                        self.mapping.uuid,
                        self.shard_id,
                    )
                    await self.close(early=True)
            if retry_from is None:
                return
            self.mapping.stats.failures += 1
            records, failed = records[retry_from:], failed + 1
            if 0 <= max_retries < failed:
                await batches.give_up(records, RETRIES_EXHAUSTED, failed, result)
                return
            await asyncio.sleep(RETRY_PAUSE_S / self.context.time_scale)

    async def _invoke(
        self, records: list[Record], *, final: bool, early: bool = False
    ) -> InvokeResult:
        assert self.start is not None
        extra = {
            "window": {"start": iso(self.start), "end": iso(self.start + self.length_s)},
            "state": self.state,
            "shardId": self.shard_id,
            "eventSourceARN": self.mapping.esm.source,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }
        result = await self.context.invoke(self.mapping, records, extra)
        self.mapping.stats.batches += 1
        return result

    def _state_of(self, result: InvokeResult) -> dict[str, Any] | None:
        """The state the function returned; None for a failed invocation (an error, or a
        response without a `state` object)."""
        if result.function_error:
            return None
        try:
            body = json.loads(result.payload or b"{}")
        except ValueError:
            body = None
        state = body.get("state") if isinstance(body, dict) else None
        if not isinstance(state, dict):
            logger.warning(
                "%s: %s returned no state for a tumbling window: a failed invocation",
                self.mapping.uuid,
                self.mapping.esm.function,
            )
            return None
        return state
