"""The fast lane: samrun's own runtime clients speak the Runtime API over one socketpair.

The HTTP Runtime API costs samrun two loopback exchanges per invocation (`next`, `response`):
the TCP sends and aiohttp's parsing were ~45 % of its CPU. samrun's Python and Node.js runtimes
instead get one end of a socketpair (an inherited descriptor, named by `LANE_ENV`) and exchange
small frames on it, which drive the very same `RuntimeSession` as the HTTP server, with the
same limits and the same error types. The HTTP listener still serves every instance.

A frame is `kind` (1 byte), `flags` (1 byte), `n` (1 byte), n big-endian 4-byte field lengths,
then the fields. The runtime sends:

    N  next                         (no fields)
    R  response                     request id, body
    E  error                        request id, error type ('' : the body's errorType), body
    I  init error                   error type, body
    S  a streamed response begins   request id, content type
    C  a piece of it                body
    T  its end                      error type ('' : none, else the mid-stream error), error body

with flag `ACK` when it waits for an answer (before it exits); samrun sends `V` (an event:
request id, deadline ms, invoked ARN, trace id, client context, cognito identity, tenant id,
payload) and `A` (an answer: status, body, with HTTP's status codes and RIE's bodies).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import cast

from samrun.errors import RuntimeProtocolError
from samrun.runtime import protocol
from samrun.runtime.render import ACCEPTED
from samrun.runtime.server import error_type_from
from samrun.runtime.session import InvokeEvent, RuntimeSession

logger = logging.getLogger(__name__)

LANE_ENV = "_SAMRUN_RUNTIME_LANE"  # the descriptor's number; the bootstraps remove it
ENABLED = os.environ.get("SAMRUN_LANE", "1") != "0"  # SAMRUN_LANE=0: every runtime on HTTP
ACK = 1
MAX_FIELDS = 8
MAX_FIELD = 64 * 1024  # a request id or an error type; only the last field (a body) is larger
TRANSPORT = "lane"
NEXT, RESPONSE, ERROR, INIT_ERROR, STREAM, CHUNK, STREAM_END = (ord(kind) for kind in "NREISCT")


class LaneProtocol(asyncio.Protocol):
    """samrun's end of one instance's lane: frames in, session transitions, frames out."""

    def __init__(self, session: RuntimeSession) -> None:
        self.session = session
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._skip = 0  # bytes still to discard of a body over its limit
        self._waiting: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._waiting is not None:
            self._waiting.cancel()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._skip:
            taken = min(self._skip, len(data))
            self._skip -= taken
            data = data[taken:]
        self._buffer += data
        try:
            while self._transport is not None and self._frame():
                pass
        except RuntimeProtocolError as exc:
            logger.warning("closing a runtime's lane: %s", exc)
            self.close()

    def _frame(self) -> bool:
        """Handle the first whole frame of the buffer; False when more bytes are needed."""
        buffer = self._buffer
        if len(buffer) < 3:
            return False
        kind, flags, count = buffer[0], buffer[1], buffer[2]
        if count > MAX_FIELDS:
            raise RuntimeProtocolError(f"a frame of {count} fields")
        head = 3 + 4 * count
        if len(buffer) < head:
            return False
        sizes = struct.unpack_from(f">{count}I", buffer, 3)
        if any(size > MAX_FIELD for size in sizes[:-1]):
            raise RuntimeProtocolError("a frame field over 64 KiB")
        fields_end = head + sum(sizes[:-1])
        body_size = sizes[-1] if sizes else 0
        if body_size > body_limit(kind):
            if len(buffer) < fields_end:
                return False
            fields = split(buffer, head, sizes[:-1])
            in_buffer = len(buffer) - fields_end
            self._skip = max(0, body_size - in_buffer)  # never buffered: discarded as it comes
            del buffer[: fields_end + min(body_size, in_buffer)]
            self._dispatch(kind, flags, [*fields, None])
            return True
        end = fields_end + body_size
        if len(buffer) < end:
            return False
        fields = split(buffer, head, sizes)
        del buffer[:end]
        self._dispatch(kind, flags, fields)
        return True

    def _dispatch(self, kind: int, flags: int, fields: list[bytes | None]) -> None:
        session = self.session
        if kind == NEXT and not fields:
            session.transport = TRANSPORT
            self._waiting = asyncio.get_running_loop().create_task(self._next())
            return
        body = fields[-1] or b"" if fields else b""  # an error body over its limit: empty
        if kind == RESPONSE and len(fields) == 2:
            request_id = text(fields[0])
            if fields[1] is None:
                status, answer = self._reject_oversized(request_id)
            else:
                status, answer = transition(lambda: session.respond(request_id, body))
        elif kind == ERROR and len(fields) == 3:
            request_id = text(fields[0])
            error_type = error_type_from(text(fields[1]), body)
            status, answer = transition(lambda: session.fail(request_id, body, error_type))
        elif kind == CHUNK and len(fields) == 1:
            session.stream_chunk(fields[0])  # past its end or its limit: dropped
            return
        elif kind == STREAM and len(fields) == 2:
            request_id, content_type = text(fields[0]), text(fields[1]) or None
            status, answer = transition(lambda: _open(session, request_id, content_type))
        elif kind == STREAM_END and len(fields) == 2:
            mid_stream = text(fields[0]) or None
            status, answer = transition(lambda: session.close_stream(mid_stream, body))
        elif kind == INIT_ERROR and len(fields) == 2:
            error_type = error_type_from(text(fields[0]), body)
            status, answer = transition(lambda: session.fail_init(body, error_type))
        else:
            raise RuntimeProtocolError(f"an unknown frame {kind:#x} of {len(fields)} fields")
        if flags & ACK:
            self._send(b"A", str(status).encode(), answer)

    async def _next(self) -> None:
        try:
            event = await self.session.next()
        except RuntimeProtocolError as exc:
            self._send(b"A", b"403", error_body(protocol.INVALID_STATE, str(exc)))
            return
        self._send(b"V", *event_fields(event))

    def _reject_oversized(self, request_id: str) -> tuple[int, bytes]:
        limit = protocol.MAX_PAYLOAD_BYTES
        message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
        payload = error_body(protocol.RESPONSE_TOO_LARGE, message)
        status, answer = transition(
            lambda: self.session.fail(request_id, payload, protocol.RESPONSE_TOO_LARGE)
        )
        if status != 202:
            return status, answer
        return 413, error_body(
            protocol.PAYLOAD_TOO_LARGE, f"Exceeded maximum allowed payload size ({limit})"
        )

    def _send(self, kind: bytes, *fields: bytes) -> None:
        if self._transport is not None:
            self._transport.write(frame(kind, 0, *fields))


class Lane:
    """One instance's lane while it is set up: samrun's end serves `session`; the runtime's end
    goes to its process (`pass_fds`, named in its environment) and is closed here once it has
    started. Both ends are created non-inheritable: no other process started meanwhile gets
    one, and the runtime's process holds its end only because it is passed explicitly."""

    def __init__(self, protocol: LaneProtocol, theirs: socket.socket) -> None:
        self.protocol = protocol
        self._theirs: socket.socket | None = theirs
        self.runtime_fd = theirs.fileno()

    def environment(self) -> dict[str, str]:
        return {LANE_ENV: str(self.runtime_fd)}

    async def adopt(self, ours: socket.socket) -> None:
        """Serve the session on `ours` from now on: the runtime was started with its other end
        (a Node.js spare, runtime/node_spare.py). What it sent already waits there."""
        session = self.protocol.session
        self.close()
        loop = asyncio.get_running_loop()
        try:
            _, self.protocol = await loop.connect_accepted_socket(
                lambda: LaneProtocol(session), ours
            )
        except BaseException:
            ours.close()
            raise

    def handed_over(self) -> None:
        """The runtime's process has started (or failed to): its end is no business of ours."""
        if self._theirs is not None:
            self._theirs.close()
            self._theirs = None

    def close(self) -> None:
        self.handed_over()
        self.protocol.close()


async def open_lane(session: RuntimeSession) -> Lane:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    loop = asyncio.get_running_loop()
    try:
        _, lane = await loop.connect_accepted_socket(lambda: LaneProtocol(session), ours)
    except BaseException:
        ours.close()
        theirs.close()
        raise
    return Lane(lane, theirs)


def frame(kind: bytes, flags: int, *fields: bytes) -> bytes:
    head = struct.pack(f">cBB{len(fields)}I", kind, flags, len(fields), *map(len, fields))
    return b"".join((head, *fields))


def split(buffer: bytearray, start: int, sizes: tuple[int, ...]) -> list[bytes | None]:
    fields: list[bytes | None] = []
    for size in sizes:
        fields.append(bytes(buffer[start : start + size]))
        start += size
    return fields


def text(field: bytes | None) -> str:
    return (field or b"").decode("utf-8", "replace")


def body_limit(kind: int) -> int:
    if kind in (RESPONSE, CHUNK):
        return protocol.MAX_PAYLOAD_BYTES
    return protocol.MAX_ERROR_BODY_BYTES


def _open(session: RuntimeSession, request_id: str, content_type: str | None) -> None:
    session.open_stream(request_id, content_type)


def event_fields(event: InvokeEvent) -> tuple[bytes, ...]:
    return (
        event.request_id.encode(),
        str(event.deadline_ms).encode(),
        event.invoked_arn.encode(),
        event.trace_id.encode(),
        (event.client_context or "").encode(),
        (event.cognito_identity or "").encode(),
        (event.tenant_id or "").encode(),
        event.payload,
    )


def error_body(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def transition(change: Callable[[], None]) -> tuple[int, bytes]:
    """Apply a session transition; a broken contract gets the HTTP path's status and body."""
    try:
        change()
    except RuntimeProtocolError as exc:
        if str(exc) == protocol.INVALID_REQUEST_ID:
            return 400, error_body(protocol.INVALID_REQUEST_ID, "Invalid request ID")
        return 403, error_body(protocol.INVALID_STATE, str(exc))
    return 202, ACCEPTED
