"""A streamed response on its way from the runtime to the caller, with Lambda's stream limits.

A runtime streams with `Lambda-Runtime-Function-Response-Mode: streaming` (HTTP, chunked) or the
lane's stream frames; the session writes what arrives here, and the caller
(InvokeWithResponseStream, a RESPONSE_STREAM function URL) reads it as it comes. A caller that
wants one payload (Invoke on a streaming function) gets no stream: the session buffers, under
the buffered 6 MB limit.

The invocation ends when the stream does; whatever ends the instance (a timeout, a crash) ends
the stream too, so a reader never waits on a dead runtime.

Limits (Lambda's documented ones): a streamed response may be 200 MB; the first 6 MB go out
uncapped, the rest at 2 MB/s.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

MAX_STREAM_BYTES = 200 * 1024 * 1024
UNCAPPED_BYTES = 6 * 1024 * 1024
CAPPED_BYTES_PER_S = 2 * 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class ResponseStream:
    """One invocation's streamed response: written by the session, read by the caller.

    `bind` (the invoker) says which request it belongs to; `begin` / `write` / `finish` come from
    the runtime's side; `opened` and `chunks` are the caller's."""

    def __init__(self, *, limit: int = MAX_STREAM_BYTES, paced: bool = True) -> None:
        self.limit = limit
        self.paced = paced  # the bandwidth cap after the first 6 MB
        self.request_id = ""
        self.executed_version = ""
        self.content_type = DEFAULT_CONTENT_TYPE
        self.size = 0
        self.began = False
        self.ended = False
        self.error_type: str | None = None  # a mid-stream error (the runtime's trailer)
        self.error_body = b""
        self._pieces: deque[bytes] = deque()
        self._changed = asyncio.Event()

    # -- the invoker's and the session's side ----------------------------------------------

    def bind(self, request_id: str, executed_version: str) -> None:
        self.request_id = request_id
        self.executed_version = executed_version

    def begin(self, content_type: str | None) -> None:
        self.began = True
        self.content_type = content_type or DEFAULT_CONTENT_TYPE

    def write(self, data: bytes) -> bool:
        """Queue `data`; False (and nothing queued) when it would pass the stream's limit."""
        if self.ended or not data:
            return not self.ended
        if self.size + len(data) > self.limit:
            return False
        self.size += len(data)
        self._pieces.append(data)
        self._changed.set()
        return True

    def finish(self, error_type: str | None = None, error_body: bytes = b"") -> None:
        """The end of the stream: clean, or with the error the runtime (or samrun) reports."""
        if self.ended:
            return
        self.ended = True
        self.error_type = error_type
        self.error_body = error_body
        self._changed.set()

    def buffered(self) -> bytes:
        """Everything written and not read: the payload of a stream nobody reads as it comes."""
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data

    # -- the caller's side -----------------------------------------------------------------

    async def opened(self, invocation: asyncio.Future[Any]) -> bool:
        """Until the stream has its first byte or its end (True), or the invocation ended
        without streaming at all (False: a buffered function, or an error before any output)."""
        while not (self._pieces or self.ended):
            if invocation.done():
                return False
            waiter = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({waiter, invocation}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            self._changed.clear()
        return True

    async def chunks(self) -> AsyncIterator[bytes]:
        """The pieces as they arrive, paced by the bandwidth cap past the first 6 MB."""
        sent = 0
        capped_since: float | None = None
        while True:
            while self._pieces:
                piece = self._pieces.popleft()
                if self.paced and sent + len(piece) > UNCAPPED_BYTES:
                    if capped_since is None:
                        capped_since = time.monotonic()
                    capped = sent + len(piece) - UNCAPPED_BYTES  # past the uncapped burst
                    due = capped_since + capped / CAPPED_BYTES_PER_S
                    delay = due - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)  # pacing, Lambda's 2 MB/s
                sent += len(piece)
                yield piece
            if self.ended:
                return
            self._changed.clear()
            if not self._pieces and not self.ended:
                await self._changed.wait()


_detached: set[asyncio.Future[Any]] = set()


def detach(invocation: asyncio.Future[Any]) -> None:
    """Keep an invocation whose caller left running to its end, as Lambda does (it is not
    interrupted when the client goes); its outcome is logged as any other's."""
    if invocation.done():
        return
    _detached.add(invocation)
    invocation.add_done_callback(_detached.discard)
    invocation.add_done_callback(lambda done: done.cancelled() or done.exception())
