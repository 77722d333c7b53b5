"""Function logs to the AWS endpoint's CloudWatch Logs, as Lambda writes them: group
/aws/lambda/NAME, one stream per instance (the AWS_LAMBDA_LOG_STREAM_NAME the instance sees).

Lines are buffered and sent in batches off the loop (PutLogEvents), once a second and at stop,
so `aws logs filter-log-events --endpoint-url ...` finds them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

BATCH = 5000  # PutLogEvents takes at most 10,000 events
MAX_EVENT = 256 * 1024 - 26  # an event's bytes, its 26 bytes of overhead aside


class LogShipper:
    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client  # boto3 `logs` client of the app's endpoint (blocking)
        self._buffer: list[tuple[str, str, int, str]] = []
        self._known_groups: set[str] = set()
        self._known_streams: set[tuple[str, str]] = set()
        self._failed = False

    def sink(self, group: str, stream: str) -> Callable[[str], None]:
        """Where one instance's lines go."""
        buffer = self._buffer

        def emit(line: str) -> None:
            if line:  # CloudWatch Logs refuses empty events
                buffer.append((group, stream, int(time.time() * 1000), line[:MAX_EVENT]))

        return emit

    async def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer[:] = list(self._buffer), []
        try:
            await asyncio.to_thread(self._send, batch)
        except Exception as exc:  # the endpoint's errors: this batch is lost, said once
            if not self._failed:
                logger.warning("CloudWatch Logs: cannot write function logs: %s", exc)
            self._failed = True

    def _send(self, batch: list[tuple[str, str, int, str]]) -> None:
        client = self._client()
        streams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for group, stream, at, line in batch:
            streams.setdefault((group, stream), []).append({"timestamp": at, "message": line})
        for (group, stream), events in streams.items():
            if group not in self._known_groups:
                with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                    client.create_log_group(logGroupName=group)
                self._known_groups.add(group)
            if (group, stream) not in self._known_streams:
                with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                    client.create_log_stream(logGroupName=group, logStreamName=stream)
                self._known_streams.add((group, stream))
            for start in range(0, len(events), BATCH):
                client.put_log_events(
                    logGroupName=group,
                    logStreamName=stream,
                    logEvents=events[start : start + BATCH],
                )
