"""TumblingWindowInSeconds: stream records grouped into fixed windows, with state carried over.

Each invocation gets the window's `state` (what the previous invocation returned as `state`),
`window` {start, end}, `shardId`, `eventSourceARN` and `isFinalInvokeForWindow`; when a window
ends, one last invocation with no records and `isFinalInvokeForWindow: true` hands the
aggregate over, and the state starts empty for the next window. Windows are aligned on
multiples of their length, by each record's arrival time. A failing invocation is retried
(MaximumRetryAttempts) without bisection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from samrun.sources.base import Context, LiveMapping
from samrun.sources.records import arrival_of, iso

logger = logging.getLogger(__name__)

RETRY_PAUSE_S = 0.5
Record = dict[str, Any]


class TumblingWindows:
    def __init__(self, context: Context, mapping: LiveMapping, shard_id: str) -> None:
        self.context = context
        self.mapping = mapping
        self.shard_id = shard_id
        self.start: float | None = None
        self.state: dict[str, Any] = {}

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
                await self._close()
            self.start = start
            await self._invoke(groups[start], final=False)
        if self.start is not None and time.time() >= self.start + length:
            await self._close()

    async def _close(self) -> None:
        await self._invoke([], final=True)
        self.start, self.state = None, {}

    async def _invoke(self, records: list[Record], *, final: bool) -> None:
        assert self.start is not None
        extra = {
            "window": {"start": iso(self.start), "end": iso(self.start + self.length_s)},
            "state": self.state,
            "shardId": self.shard_id,
            "eventSourceARN": self.mapping.esm.source,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": False,
        }
        setting = self.mapping.setting("MaximumRetryAttempts")
        retries = int(setting) if isinstance(setting, int) else -1
        failed = 0
        while True:
            result = await self.context.invoke(self.mapping, records, extra)
            self.mapping.stats.batches += 1
            if not result.function_error:
                break
            self.mapping.stats.failures += 1
            failed += 1
            if 0 <= retries < failed:
                logger.warning("%s: a window's invocation was given up on", self.mapping.uuid)
                return
            await asyncio.sleep(RETRY_PAUSE_S / self.context.time_scale)
        try:
            body = json.loads(result.payload or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict) and isinstance(body.get("state"), dict):
            self.state = body["state"]
