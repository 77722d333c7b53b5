"""The Kinesis and DynamoDB Streams poller: one reader per shard, checkpoints on disk.

Each shard is read in order from its checkpoint (the last sequence number whose batch was
processed or given up on, kept in the state folder so a restart resumes there), else from the
mapping's StartingPosition (TRIM_HORIZON, LATEST, AT_TIMESTAMP). Records are gathered until
BatchSize or MaximumBatchingWindowInSeconds, filtered, handed to `stream_batches`, and only
then is the checkpoint advanced: a kill -9 mid-batch runs that batch again on the next start.
An idle shard is read once a second (Kinesis) or four times a second (DynamoDB), as Lambda does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from samrun.sources import blocking
from samrun.sources.base import Context, LiveMapping
from samrun.sources.records import dynamodb_record, filter_view, kinesis_record, sequence_of
from samrun.sources.stream_batches import BatchDelivery
from samrun.sources.windows import TumblingWindows

logger = logging.getLogger(__name__)

IDLE_S = {"kinesis": 1.0, "dynamodb": 0.25}
DEFAULT_BATCH = 100
MAX_FETCH = {"kinesis": 10000, "dynamodb": 1000}
DISCOVER_S = 10.0
ERROR_PAUSE_S = 1.0
Record = dict[str, Any]


class Checkpoints:
    """{shard id: last sequence number done} of one mapping, as a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.done: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.done = {}

    def advance(self, shard_id: str, sequence: str) -> None:
        self.done[shard_id] = sequence
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.done))
        os.replace(temporary, self.path)


class StreamPoller:
    def __init__(self, context: Context, mapping: LiveMapping) -> None:
        self.context = context
        self.mapping = mapping
        self.kind = mapping.esm.source_type
        self.arn = mapping.esm.source
        self.checkpoints = Checkpoints(context.state_dir / "sources" / f"{mapping.uuid}.json")
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._ages: dict[str, int] = {}
        self._stopping = False
        self._wake = asyncio.Event()
        self._discovery: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open every shard before returning, so LATEST means 'after `up` said ready'."""
        try:
            await self._discover()
        except Exception as exc:  # the endpoint's errors: keep trying in the background
            self.mapping.state_reason = f"PROBLEM: {exc}"
            logger.warning("%s: stream %s is not reachable: %s", self.mapping.uuid, self.arn, exc)
        self._discovery = asyncio.create_task(self._rediscover())

    def stop_taking(self) -> None:
        """Read no more: long polls are abandoned, batches in flight finish."""
        self._stopping = True
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, drain_s: float) -> None:
        self._stopping = True
        self.wake()
        if self._discovery:
            self._discovery.cancel()
        readers = list(self._readers.values())
        if readers:
            await asyncio.wait(readers, timeout=drain_s)
        for task in readers:
            task.cancel()

    # -- shards --

    async def _rediscover(self) -> None:
        while not self._stopping:
            await asyncio.sleep(DISCOVER_S)
            with contextlib.suppress(Exception):  # logged when it first failed
                await self._discover()

    async def _discover(self) -> None:
        for shard_id in await blocking.call(self._shard_ids):
            if shard_id not in self._readers:
                iterator = await blocking.call(functools.partial(self._iterator, shard_id))
                task = asyncio.create_task(self._read(shard_id, iterator))
                self._readers[shard_id] = task

    def _shard_ids(self) -> list[str]:
        if self.kind == "kinesis":
            shards = self.context.aws.client("kinesis").list_shards(StreamName=self._stream())
            return [s["ShardId"] for s in shards.get("Shards", [])]
        stream = self.context.aws.client("dynamodbstreams").describe_stream(StreamArn=self.arn)
        return [s["ShardId"] for s in stream["StreamDescription"].get("Shards", [])]

    def _stream(self) -> str:
        return self.arn.split(":", 5)[5].split("/")[1]

    def _iterator(self, shard_id: str) -> str | None:
        """A shard iterator after the checkpoint, else at the mapping's StartingPosition."""
        kwargs: dict[str, Any] = {"ShardId": shard_id}
        done = self.checkpoints.done.get(shard_id)
        position = (self.mapping.esm.starting_position or "LATEST").upper()
        if done:  # the two APIs name the same thing differently
            key = "StartingSequenceNumber" if self.kind == "kinesis" else "SequenceNumber"
            kwargs |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", key: done}
        elif position == "AT_TIMESTAMP":
            stamp = self.mapping.setting("StartingPositionTimestamp", time.time())
            kwargs |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": _timestamp(stamp)}
        else:
            kwargs["ShardIteratorType"] = position
        if self.kind == "kinesis":
            client = self.context.aws.client("kinesis")
            iterator = client.get_shard_iterator(StreamName=self._stream(), **kwargs)
        else:
            client = self.context.aws.client("dynamodbstreams")
            iterator = client.get_shard_iterator(StreamArn=self.arn, **kwargs)
        found: str | None = iterator.get("ShardIterator")
        return found

    # -- reading --

    async def _read(self, shard_id: str, iterator: str | None) -> None:
        delivery = BatchDelivery(self.context, self.mapping, shard_id)
        windows = TumblingWindows(self.context, self.mapping, shard_id)
        while not self._stopping and iterator is not None:
            if self.mapping.state != "Enabled":
                await self._pause(IDLE_S[self.kind])
                continue
            try:
                batch, iterator = await self._gather(shard_id, iterator)
            except Exception as exc:  # expired iterator, endpoint down: reopen at the checkpoint
                logger.warning("%s: reading %s failed: %s", self.mapping.uuid, shard_id, exc)
                await asyncio.sleep(ERROR_PAUSE_S)
                with contextlib.suppress(Exception):
                    iterator = await blocking.call(lambda: self._iterator(shard_id))
                continue
            if not batch:
                await windows.deliver([])  # a window that ended with no new records closes
                continue
            self.mapping.stats.seen += len(batch)
            kept = [r for r in batch if self.mapping.keep(filter_view(r))]
            self.mapping.stats.filtered += len(batch) - len(kept)
            while not await self._delivered(delivery, windows, kept):
                if self._stopping:
                    return  # not checkpointed: the next run reads the batch again
            await asyncio.to_thread(self.checkpoints.advance, shard_id, sequence_of(batch[-1]))
        if iterator is None:
            logger.info("%s: shard %s is closed and fully read", self.mapping.uuid, shard_id)

    async def _delivered(
        self, delivery: BatchDelivery, windows: TumblingWindows, records: list[Record]
    ) -> bool:
        """Deliver a batch; False (after a pause) when something unexpected stopped it, such as
        a function that is gone: the shard waits rather than skip it."""
        try:
            if windows.enabled:
                await windows.deliver(records)
            elif records:
                await delivery.deliver(records, {})
        except Exception:  # the edge's catch-all: log it, keep the records
            logger.exception("%s: a batch of %s failed", self.mapping.uuid, delivery.shard_id)
            await asyncio.sleep(ERROR_PAUSE_S)
            return False
        return True

    async def _gather(self, shard_id: str, iterator: str) -> tuple[list[Record], str | None]:
        """Records until BatchSize, or the batching window after the first, or an idle poll."""
        size = self.mapping.esm.batch_size or DEFAULT_BATCH
        window = (self.mapping.esm.maximum_batching_window_s or 0) / self.context.time_scale
        batch: list[Record] = []
        first = 0.0
        next_iterator: str | None = iterator
        while next_iterator is not None and not self._stopping:
            limit = min(MAX_FETCH[self.kind], size - len(batch))
            got, next_iterator, age = await blocking.call(
                functools.partial(self._get, shard_id, next_iterator, limit)
            )
            self._ages[shard_id] = age
            self.mapping.stats.iterator_age_ms = max(self._ages.values(), default=0)
            if got:
                self.context.iterator_age(self.mapping, age)
            if got and not batch:
                first = time.monotonic()
            batch.extend(got)
            if len(batch) >= size or (batch and time.monotonic() - first >= window):
                break
            if not got:
                wait = IDLE_S[self.kind]
                if batch:
                    wait = min(wait, max(0.0, window - (time.monotonic() - first)))
                await self._pause(wait)
                if not batch:
                    break
        return batch, next_iterator

    def _get(
        self, shard_id: str, iterator: str, limit: int
    ) -> tuple[list[Record], str | None, int]:
        """(records, next iterator, iterator age in ms) of one GetRecords call."""
        region = self.context.region
        if self.kind == "kinesis":
            response = self.context.aws.client("kinesis").get_records(
                ShardIterator=iterator, Limit=limit
            )
            age = int(response.get("MillisBehindLatest", 0))
            records = [
                kinesis_record(r, shard_id, self.arn, region) for r in response.get("Records", [])
            ]
        else:
            response = self.context.aws.client("dynamodbstreams").get_records(
                ShardIterator=iterator, Limit=limit
            )
            records = [dynamodb_record(r, self.arn, region) for r in response.get("Records", [])]
            age = 0
            if records:
                created = records[-1]["dynamodb"].get("ApproximateCreationDateTime", time.time())
                age = max(0, int((time.time() - created) * 1000))
        next_iterator: str | None = response.get("NextShardIterator")
        return records, next_iterator, age

    async def _pause(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()


def _timestamp(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromtimestamp(float(value), UTC)
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.now(UTC)
