"""Where finished X-Ray segment documents go: the trace store, the X-Ray API, (OTLP).

A sink's `publish` is called on the event loop with a batch of segment documents (the public
X-Ray segment document format: dicts with `id`, `trace_id`, `parent_id`, `name`, `start_time`,
`end_time`, `origin`, `error`/`fault`/`throttle`, nested `subsegments`); it must not block, so
each sink queues and sends from its own thread. `close` flushes what is queued (on shutdown).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from samrun.aws.endpoint import AwsEndpoint
from samrun.config import Config
from samrun.observe.trace_store import TraceStore

logger = logging.getLogger(__name__)

PUT_BATCH = 50  # PutTraceSegments takes at most 50 documents per call
FLUSH_S = 1.0  # as the X-Ray daemon buffers: one delivery a second, off the invoke path
CLOSE_TIMEOUT_S = 10.0


class TraceSink(Protocol):
    def publish(self, documents: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class ThreadedSink:
    """Queue on the loop, deliver from one daemon thread; `close` drains, with a deadline."""

    def __init__(self, name: str, deliver: Callable[[list[dict[str, Any]]], None]) -> None:
        self._deliver = deliver
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def publish(self, documents: list[dict[str, Any]]) -> None:
        if documents:
            self._queue.put(list(documents))  # each sink's own list: batches are extended

    def close(self) -> None:
        self._closing.set()
        self._queue.put(None)
        self._thread.join(CLOSE_TIMEOUT_S)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            self._closing.wait(FLUSH_S)  # what comes meanwhile joins this delivery
            while True:  # take what else is waiting: fewer, larger calls
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.extend(more)
            try:
                self._deliver(batch)
            except Exception as exc:  # a sink's failure must not stop the others
                logger.warning("trace sink %s: %s", self._thread.name, exc)


class StoreSink(ThreadedSink):
    """The trace store in the state folder, read by `samrun traces`."""

    def __init__(self, store: TraceStore) -> None:
        self.store = store
        super().__init__("trace-store", store.add)


class XRayApiSink(ThreadedSink):
    """PutTraceSegments to the AWS endpoint (embedded moto, --aws-endpoint, or real X-Ray)."""

    def __init__(self, aws: AwsEndpoint) -> None:
        self.aws = aws
        self.sent = 0
        super().__init__("xray-upload", self._put)

    def _put(self, documents: list[dict[str, Any]]) -> None:
        client = self.aws.client("xray", validated=False)
        for start in range(0, len(documents), PUT_BATCH):
            part = documents[start : start + PUT_BATCH]
            answer = client.put_trace_segments(
                TraceSegmentDocuments=[json.dumps(doc, separators=(",", ":")) for doc in part]
            )
            refused = answer.get("UnprocessedTraceSegments") or []
            if refused:
                logger.warning("X-Ray refused %d segments: %s", len(refused), refused[0])
            self.sent += len(part) - len(refused)


def sinks_for(
    config: Config, aws: AwsEndpoint | None = None, store: TraceStore | None = None
) -> list[TraceSink]:
    """The app's trace sinks: the store always; the endpoint's X-Ray API when it is a local one
    (embedded moto, --aws-endpoint), real X-Ray only with --aws-profile and --xray-upload."""
    sinks: list[TraceSink] = []
    if store is not None:
        sinks.append(StoreSink(store))
    if aws is not None and (aws.url is not None or config.xray_upload):
        sinks.append(XRayApiSink(aws))
    if config.otlp_endpoint:  # imported only then: the OpenTelemetry SDK is not free to load
        from samrun.observe.otlp import exporter_for

        sinks.append(exporter_for(config, config.otlp_endpoint))
    return sinks
