"""The app's X-Ray side, wired once: the local daemon, the trace store and the sinks.

Documents come from two places, Lambda's own segments (samrun.invoke.tracing, the front doors)
and the functions' SDKs through the daemon; both fan out to every sink (trace_sinks.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.config import Config
from samrun.observe.trace_sinks import TraceSink, sinks_for
from samrun.observe.trace_store import TraceStore
from samrun.observe.xray_daemon import XRayDaemon

logger = logging.getLogger(__name__)


class Traces:
    def __init__(self, config: Config, aws: AwsEndpoint, host: str) -> None:
        self.config = config
        self.aws = aws
        self.store = TraceStore(config.state_dir)
        self.daemon = XRayDaemon(host, self.publish)
        self.sinks: list[TraceSink] = []
        self.published = 0

    def publish(self, documents: list[dict[str, Any]]) -> None:
        self.published += len(documents)
        for sink in self.sinks:
            sink.publish(documents)

    async def listen(self) -> None:
        """The daemon's port, before the AWS endpoint starts: its state machines send to it."""
        if not self.daemon.listening:
            await self.daemon.start()

    async def start(self) -> None:
        """After the AWS endpoint has started (the X-Ray API sink needs its URL)."""
        self.sinks = sinks_for(self.config, self.aws, self.store)
        await self.listen()

    def describe(self) -> list[str]:
        lines = [f"X-Ray daemon on udp {self.daemon.address}; {self.store.describe()}"]
        if self.aws.url is not None:
            lines.append("traces are sent to the AWS endpoint's X-Ray API (PutTraceSegments)")
        elif self.config.xray_upload:
            lines.append("traces are uploaded to real X-Ray (--xray-upload)")
        return lines

    async def stop(self) -> None:
        self.daemon.stop()
        for sink in self.sinks:
            await asyncio.to_thread(sink.close)
        self.sinks = []
        await asyncio.to_thread(self.store.close)

    def state(self) -> dict[str, object]:
        return {
            "traces": {
                "daemon": self.daemon.address,
                "segments_received": self.daemon.segments,
                "documents_published": self.published,
                "store": str(self.store.path),
            }
        }
