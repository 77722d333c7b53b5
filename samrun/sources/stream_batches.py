"""Delivering one stream batch as Lambda does: until it succeeds or is given up on.

- ParallelizationFactor: the batch splits into lanes by partition key (DynamoDB: item keys);
  lanes run at once, records of one key stay in order in one lane.
- A function error retries the batch; with BisectBatchOnFunctionError a failing batch splits in
  two first (splitting uses no retry); MaximumRetryAttempts (-1: until the record expires) and
  MaximumRecordAgeInSeconds (-1: no limit) decide when a batch is given up on.
- ReportBatchItemFailures: the lowest sequence number reported is the checkpoint; the batch is
  retried from there.
- A batch given up on goes to the OnFailure destination as Lambda's record (shard, sequence
  numbers), then the shard moves on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from samrun.invoke.destinations import invocation_record
from samrun.invoke.models import InvokeResult
from samrun.model import Destination
from samrun.sources.base import Context, LiveMapping, fitted, item_failures
from samrun.sources.records import arrival_of, batch_info, sequence_of

logger = logging.getLogger(__name__)

RETRY_PAUSE_S = 0.5
RETRIES_EXHAUSTED, RECORD_AGE_EXCEEDED = "RetryAttemptsExhausted", "RecordAgeExceeded"
Record = dict[str, Any]


def lanes(records: Sequence[Record], factor: int) -> list[list[Record]]:
    """The batch split by partition key into at most `factor` ordered lanes."""
    if factor <= 1:
        return [list(records)]
    split: dict[int, list[Record]] = {}
    for record in records:
        if "kinesis" in record:
            key = record["kinesis"]["partitionKey"]
        else:
            key = json.dumps(record["dynamodb"].get("Keys", {}), sort_keys=True)
        split.setdefault(zlib.crc32(key.encode()) % factor, []).append(record)
    return list(split.values())


class BatchDelivery:
    """Runs the batches of one shard of one mapping."""

    def __init__(self, context: Context, mapping: LiveMapping, shard_id: str) -> None:
        self.context = context
        self.mapping = mapping
        self.shard_id = shard_id

    def number(self, key: str, default: int) -> int:
        value = self.mapping.setting(key, default)
        try:
            return int(value)
        except (TypeError, ValueError):
            return default

    async def deliver(self, records: Sequence[Record], extra: Mapping[str, Any]) -> None:
        """Every record of the batch processed, or given up on; lanes run at once."""
        factor = max(1, min(10, self.number("ParallelizationFactor", 1)))
        for part in fitted(records):  # Lambda's 6 MB invocation payload
            await asyncio.gather(*(self._lane(lane, extra) for lane in lanes(part, factor)))

    async def _lane(self, records: list[Record], extra: Mapping[str, Any]) -> None:
        max_retries = self.number("MaximumRetryAttempts", -1)
        max_age = self.number("MaximumRecordAgeInSeconds", -1)
        bisect = bool(self.mapping.setting("BisectBatchOnFunctionError", False))
        pending: list[tuple[list[Record], int]] = [(records, 0)]  # (part, failed attempts)
        while pending:
            part, failed = pending.pop(0)
            if max_age >= 0:
                part = await self.drop_expired(part, max_age, failed)
                if not part:
                    continue
            result = await self.context.invoke(self.mapping, part, extra)
            self.mapping.stats.batches += 1
            retry_from = self.outcome(result, part)
            if retry_from is None:
                continue
            self.mapping.stats.failures += 1
            if retry_from == 0 and result.function_error and bisect and len(part) > 1:
                half = len(part) // 2
                pending[0:0] = [(part[:half], 0), (part[half:], 0)]
                continue
            part, failed = part[retry_from:], failed + 1
            if 0 <= max_retries < failed:
                await self.give_up(part, RETRIES_EXHAUSTED, failed, result)
                continue
            pending.insert(0, (part, failed))
            await asyncio.sleep(RETRY_PAUSE_S / self.context.time_scale)

    def outcome(self, result: InvokeResult, part: list[Record]) -> int | None:
        """None when the whole part succeeded; else the index to retry from."""
        if result.function_error:
            return 0
        if "ReportBatchItemFailures" not in self.mapping.esm.function_response_types:
            return None
        sequences = [sequence_of(r) for r in part]
        failed = item_failures(result, set(sequences))
        if failed is None:
            return 0
        if not failed:
            return None
        return min(sequences.index(s) for s in failed)

    async def drop_expired(self, part: list[Record], max_age: int, failed: int) -> list[Record]:
        now = time.time()
        limit = max_age / self.context.time_scale
        expired = [r for r in part if now - arrival_of(r) > limit]
        if expired:
            await self.give_up(expired, RECORD_AGE_EXCEEDED, failed, None)
        return [r for r in part if now - arrival_of(r) <= limit]

    async def give_up(
        self, part: list[Record], condition: str, attempts: int, result: InvokeResult | None
    ) -> None:
        mapping = self.mapping
        logger.warning(
            "%s: %d record(s) of %s (%s) given up on: %s",
            mapping.uuid,
            len(part),
            self.shard_id,
            mapping.esm.source,
            condition,
        )
        destination = self._destination()
        if destination is None or self.context.destinations is None:
            return
        record = self.failure_record(part, condition, attempts, result)
        if await self.context.destinations.send_record(destination, record, None):
            mapping.stats.to_destination += 1  # a failed delivery is logged, not counted

    def failure_record(
        self, part: list[Record], condition: str, attempts: int, result: InvokeResult | None
    ) -> dict[str, Any]:
        """Lambda's on-failure record for a stream batch: no payloads, the batch's position."""
        function = self.context.invoker.directory.graph.function(self.mapping.esm.function)
        version = result.executed_version if result else "$LATEST"
        record = invocation_record(
            request_id=result.request_id if result else "",
            function_arn=f"{function.arn if function else self.mapping.esm.function}",
            condition=condition,
            attempts=attempts,
            request_payload=b"{}",
            result=result,
        )
        record.pop("requestPayload", None)
        record.pop("responsePayload", None)
        if "responseContext" in record:
            record["responseContext"]["executedVersion"] = version
        key, info = batch_info(
            self.mapping.esm.source_type, self.shard_id, self.mapping.esm.source, part
        )
        record[key] = info
        return record

    def _destination(self) -> Destination | None:
        config = self.mapping.setting("DestinationConfig") or {}
        arn = ((config.get("OnFailure") or {}) if isinstance(config, Mapping) else {}).get(
            "Destination"
        )
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            return None
        service = arn.split(":")[2]
        if service not in ("sqs", "sns"):
            logger.warning("%s: on-failure destination %s is not supported", self.mapping.uuid, arn)
            return None
        return Destination(type=service, arn=arn)
