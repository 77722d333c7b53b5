"""The Kinesis and DynamoDB Streams poller: one reader per shard, checkpoints on disk.

Each shard is read in order from its checkpoint (the last sequence number whose batch was
processed or given up on, kept in the state folder so a restart resumes there), else from the
mapping's StartingPosition (TRIM_HORIZON, LATEST, AT_TIMESTAMP). Records are gathered until
BatchSize or MaximumBatchingWindowInSeconds, filtered, handed to `stream_batches`, and only
then is the checkpoint advanced: a kill -9 mid-batch runs that batch again on the next start.
An idle shard is read once a second (Kinesis) or four times a second (DynamoDB), as Lambda does.

Resharding: a shard born of a split or merge (ParentShardId, AdjacentParentShardId) is read only
once its parents are finished (read to their end and checkpointed), as Lambda does, from its
start (TRIM_HORIZON). A closed shard is finished when GetRecords gives no next iterator (AWS), or
when it reads nothing new and its checkpoint has reached its EndingSequenceNumber: moto (5.x)
never ends a closed shard's iterator (its NextShardIterator is never null); on split_shard it
*moves* the parent's records into the children (the parent, emptied, ends at "0": records read
from it before the split come again from the children), on merge_shards it *copies* both
parents' records into the child (read again there). Those repeats are moto's, not AWS's. (moto
also writes new records to closed shards: `aws.moto_patches` makes it write to open ones.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from samrun.sources import blocking
from samrun.sources.base import Context, LiveMapping
from samrun.sources.records import dynamodb_record, filter_view, kinesis_record, sequence_of
from samrun.sources.state_file import write_json
from samrun.sources.stream_batches import BatchDelivery
from samrun.sources.windows import TumblingWindows

logger = logging.getLogger(__name__)

IDLE_S = {"kinesis": 1.0, "dynamodb": 0.25}
DEFAULT_BATCH = 100
MAX_FETCH = {"kinesis": 10000, "dynamodb": 1000}
DISCOVER_S = 10.0
ERROR_PAUSE_S = 1.0
PARENT_POLL_S = 0.2  # a child shard checks this often whether its parents are finished
Record = dict[str, Any]


class Checkpoints:
    """{shard id: last sequence number done} of one mapping, as a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # shards checkpoint from threads of their own
        try:
            self.done: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.done = {}

    def advance(self, shard_id: str, sequence: str) -> None:
        with self._lock:
            self.done[shard_id] = sequence
            write_json(self.path, self.done)


class StreamPoller:
    def __init__(self, context: Context, mapping: LiveMapping) -> None:
        self.context = context
        self.mapping = mapping
        self.kind = mapping.esm.source_type
        self.arn = mapping.esm.source
        self.checkpoints = Checkpoints(context.state_dir / "sources" / f"{mapping.uuid}.json")
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._shards: dict[str, dict[str, Any]] = {}  # id -> ListShards' description
        self._finished: set[str] = set()  # closed shards read to their end
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
        shards = await blocking.call(self._list_shards)
        first = not self._shards  # the shards `up` starts with
        self._shards |= {s["ShardId"]: s for s in shards}
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._readers or shard_id in self._finished:
                continue
            position = None if first else "TRIM_HORIZON"  # one born while reading: all of it
            if first and _ending(shard) is not None and self._at_latest(shard_id):
                self._finished.add(shard_id)  # closed: nothing comes after its LATEST
                continue
            opener = functools.partial(self._iterator, shard_id, position)
            iterator = await blocking.call(opener)
            reader = asyncio.create_task(self._read(shard_id, iterator))
            reader.add_done_callback(functools.partial(self._reader_ended, shard_id))
            self._readers[shard_id] = reader

    def _reader_ended(self, shard_id: str, reader: asyncio.Task[None]) -> None:
        """A reader that failed is logged and forgotten: the next discovery reopens its shard
        at the checkpoint."""
        if reader.cancelled() or reader.exception() is None:
            return
        logger.error(
            "%s: reading %s stopped; it resumes at its checkpoint within %.0f s",
            self.mapping.uuid,
            shard_id,
            DISCOVER_S,
            exc_info=reader.exception(),
        )
        if self._readers.get(shard_id) is reader:
            del self._readers[shard_id]

    def _at_latest(self, shard_id: str) -> bool:
        position = (self.mapping.esm.starting_position or "LATEST").upper()
        return position == "LATEST" and shard_id not in self.checkpoints.done

    def _list_shards(self) -> list[dict[str, Any]]:
        if self.kind == "kinesis":
            client = self.context.aws.client("kinesis")
            reply = client.list_shards(StreamName=self._stream())
            shards = list(reply.get("Shards", []))
            while reply.get("NextToken"):
                reply = client.list_shards(NextToken=reply["NextToken"])
                shards += reply.get("Shards", [])
            return shards
        stream = self.context.aws.client("dynamodbstreams").describe_stream(StreamArn=self.arn)
        return list(stream["StreamDescription"].get("Shards", []))

    async def _after_parents(self, shard_id: str) -> None:
        """Wait until the shard's parents (those the stream still lists) are finished."""
        shard = self._shards.get(shard_id, {})
        named = (shard.get("ParentShardId"), shard.get("AdjacentParentShardId"))
        parents = {str(p) for p in named if p and p in self._shards}
        if parents - self._finished:
            logger.info(
                "%s: shard %s waits for its parent(s) %s to be finished",
                self.mapping.uuid,
                shard_id,
                ", ".join(sorted(parents)),
            )
        while parents - self._finished and not self._stopping:
            await asyncio.sleep(PARENT_POLL_S)

    def _read_to_end(self, shard_id: str) -> bool:
        """A closed shard read to its end, for endpoints that, as moto, never end a closed
        shard's iterator: its checkpoint reached its EndingSequenceNumber, or (Kinesis) the last
        GetRecords was caught up with it (MillisBehindLatest 0: nothing is left, and a closed
        shard gets nothing new), as after a LATEST start that read none of its records."""
        ending = _ending(self._shards.get(shard_id, {}))
        if ending is None:
            return False
        if self.kind == "kinesis" and self._ages.get(shard_id) == 0:
            return True
        try:
            return int(self.checkpoints.done.get(shard_id, "0")) >= int(ending)
        except ValueError:
            return False

    def _stream(self) -> str:
        return self.arn.split(":", 5)[5].split("/")[1]

    def _iterator(self, shard_id: str, position: str | None = None) -> str | None:
        """A shard iterator after the checkpoint, else at `position` (by default the mapping's
        StartingPosition)."""
        kwargs: dict[str, Any] = {"ShardId": shard_id}
        done = self.checkpoints.done.get(shard_id)
        position = (position or self.mapping.esm.starting_position or "LATEST").upper()
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
        await self._after_parents(shard_id)
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
                if self._read_to_end(shard_id):
                    iterator = None
                continue
            self.mapping.stats.seen += len(batch)
            kept = [r for r in batch if self.mapping.keep(filter_view(r))]
            self.mapping.stats.filtered += len(batch) - len(kept)
            while not await self._delivered(delivery, windows, kept):
                if self._stopping:
                    return  # not checkpointed: the next run reads the batch again
            await asyncio.to_thread(self.checkpoints.advance, shard_id, sequence_of(batch[-1]))
        if iterator is None:
            try:  # a shard's end closes its window (its children start afresh)
                await windows.close()
            except Exception:  # the edge's catch-all, as in _delivered
                logger.exception("%s: closing the window of %s failed", self.mapping.uuid, shard_id)
            self._finished.add(shard_id)  # its children may start
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


def _ending(shard: dict[str, Any]) -> str | None:
    """The last sequence number of a closed shard; None while it is open."""
    found = (shard.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")
    return str(found) if found is not None else None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return datetime.fromtimestamp(float(value), UTC)
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.now(UTC)
