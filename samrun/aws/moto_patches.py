"""Speed and safety for the embedded moto server's SQS, applied in its own process only (the
trace header it keeps as AWSTraceHeader is moto_child's).

- moto's SQS deletes a message by rebuilding the queue's list outside its lock, so a message sent
  at the same moment can vanish (and each delete scans the queue twice): here a delete removes
  the one message in place, under the lock that sends append under.
- moto's SQS asks a datetime-based clock for the time once per message per call (every receive
  scans the whole queue, every send computes the queue's attributes); `time.time()` gives the
  same value at a tenth of the cost, which is most of a backlog's per-message overhead; and the
  scans for visible, delayed and in-flight messages read the clock once per call instead of
  twice per message, and a received message's retention is checked without computing every
  attribute of its queue (three scans of it) each time.
- moto's Kinesis writes a record to the first shard whose hash range holds its key, open or
  closed: after split_shard or merge_shards every record still lands in the closed parent and
  the children stay empty. AWS writes to open shards only; so does this.
- moto's server lists its own package folder (a stat per entry) on every request to tell a
  service's name from a host name: listed once here (a seventh of a CreateQueue's CPU).
"""

from __future__ import annotations

import time
from typing import Any


def apply() -> None:
    safe_sqs_delete()
    fast_sqs_clock()
    fast_sqs_scan()
    kinesis_open_shards()
    listed_modules_once()


def listed_modules_once() -> None:
    import moto.backends

    modules = frozenset(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules


def fast_sqs_clock() -> None:
    import moto.sqs.models

    models: Any = moto.sqs.models
    slow_millis, slow_seconds = models.unix_time_millis, models.unix_time

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(slow_millis(dt))

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(slow_seconds(dt))

    models.unix_time_millis = unix_time_millis
    models.unix_time = unix_time


def safe_sqs_delete() -> None:
    from moto.sqs.exceptions import ReceiptHandleIsInvalid
    from moto.sqs.models import Queue

    def delete_message(self: Any, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return  # deleting twice is fine, as SQS says
        with self._messages_lock:
            for index, message in enumerate(self._messages):
                if message.had_receipt_handle(receipt_handle):
                    del self._messages[index]
                    self.pending_messages.discard(message)
                    self.deleted_messages.update(message.all_receipt_handles)
                    return
        raise ReceiptHandleIsInvalid()

    Queue.delete_message = delete_message  # type: ignore[method-assign]


def fast_sqs_scan() -> None:
    from moto.sqs.models import Queue, SQSBackend

    def messages(self: Any) -> list[Any]:
        now = time.time() * 1000.0
        return [m for m in self._messages if m.visible_at < now and m.delayed_until <= now]

    def delayed(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if now < m.delayed_until)

    def not_visible(self: Any) -> int:
        now = time.time() * 1000.0
        return sum(1 for m in self._messages if now <= m.visible_at)

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        """moto computes every attribute of the queue (three scans) for each message it
        returns, to read one of them."""
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > time.time())

    Queue.messages = property(messages)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_delayed = property(delayed)  # type: ignore[method-assign,assignment]
    Queue.approximate_number_of_messages_not_visible = property(not_visible)  # type: ignore[method-assign,assignment]
    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]


def kinesis_open_shards() -> None:
    import hashlib

    from moto.kinesis.models import Stream

    original = Stream.get_shard_for_key

    def get_shard_for_key(self: Any, partition_key: str, explicit_hash_key: str) -> Any:
        found = original(self, partition_key, explicit_hash_key)  # validates the key
        if found is None or found.is_open:
            return found
        digest = hashlib.md5(partition_key.encode(), usedforsecurity=False).hexdigest()
        key = int(explicit_hash_key) if explicit_hash_key else int(digest, 16)
        shards = self.shards.values()
        open_ = (s for s in shards if s.is_open and s.starting_hash <= key <= s.ending_hash)
        return next(open_, found)

    Stream.get_shard_for_key = get_shard_for_key  # type: ignore[method-assign]
