"""The local X-Ray daemon: a UDP listener that takes what the functions' SDKs send.

The daemon's wire format: each datagram is a JSON header line (`{"format": "json", "version":
1}`), a newline, then one segment document (a segment, or an independent subsegment with
`type: "subsegment"` and `parent_id`). The aws-xray-sdk, Powertools' Tracer and the ADOT layer's
X-Ray exporter send to `AWS_XRAY_DAEMON_ADDRESS`, which every instance gets. A datagram that is
not in that format is counted and dropped, never an error on the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Publish = Callable[[list[dict[str, Any]]], None]


def decode(datagram: bytes) -> dict[str, Any] | None:
    """The segment document of one daemon datagram, or None when it is not one."""
    head, sep, body = datagram.partition(b"\n")
    if not sep:
        return None
    try:
        header = json.loads(head)
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != "json":
        return None
    if not isinstance(document, dict) or not document.get("trace_id") or not document.get("id"):
        return None
    return document


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, daemon: XRayDaemon) -> None:
        self.daemon = daemon

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.daemon.received(data)


class XRayDaemon:
    def __init__(self, host: str, publish: Publish, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.publish = publish
        self.segments = 0  # documents taken
        self.dropped = 0  # datagrams that were not segment documents
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def address(self) -> str:
        """`host:port`, as AWS_XRAY_DAEMON_ADDRESS takes it."""
        return f"{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._transport is not None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def received(self, data: bytes) -> None:
        document = decode(data)
        if document is None:
            self.dropped += 1
            if self.dropped == 1:
                logger.warning("X-Ray daemon: dropped a datagram that is not a segment document")
            return
        self.segments += 1
        self.publish([document])

    def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
