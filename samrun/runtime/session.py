"""The Runtime API state machine of one instance, as RAPID keeps it.

    STARTING --next--> READY --invoke--> INVOKING --response/error--> RESPONDED --next--> READY
                                 RESPONDED --invoke--> INVOKING (the event waits for `next`)
        \\--init/error--> INIT_FAILED          (any state) --exit/kill--> DEAD

A streamed response stays INVOKING from `open_stream` to `close_stream` (its chunks pass through
`stream_chunk` to the caller's ResponseStream, runtime/streaming.py): the invocation ends with it.

The server calls `next`, `respond`, `fail` and `fail_init`; the pool calls `wait_ready`,
`invoke` and `close`. A transition outside the machine raises `RuntimeProtocolError`, which the
server answers on the Runtime API; it never reaches the caller of `invoke`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from samrun.errors import RuntimeProtocolError
from samrun.runtime import protocol
from samrun.runtime.extensions import ExtensionHub
from samrun.runtime.streaming import ResponseStream
from samrun.runtime.telemetry import Telemetry


class SessionState(StrEnum):
    STARTING = "Starting"
    READY = "Ready"
    INVOKING = "Invoking"
    RESPONDED = "Responded"
    INIT_FAILED = "InitFailed"
    DEAD = "Dead"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvokeEvent:
    request_id: str
    payload: bytes
    deadline_ms: int  # epoch milliseconds; the instance sets it as the invocation starts
    invoked_arn: str
    trace_id: str
    client_context: str | None = None  # base64 JSON, as the Invoke API received it
    cognito_identity: str | None = None
    tenant_id: str | None = None  # Lambda-Runtime-Aws-Tenant-Id (TenancyConfig PER_TENANT)
    stream: ResponseStream | None = None  # a caller reading a streamed response as it comes


@dataclass(frozen=True, slots=True, kw_only=True)
class RuntimeReply:
    """What the runtime answered: a response, or an error with its type."""

    payload: bytes
    error_type: str | None = None  # None: a response; else the function's errorType


class SessionClosed(Exception):
    """The instance died (exit, kill, timeout) before it answered."""

    def __init__(self, reason: str, *, delivered: bool = True) -> None:
        super().__init__(reason)
        self.delivered = delivered  # False: the event never reached the runtime, so nothing ran


class RuntimeSession:
    """One instance's side of the Runtime API. Single event loop: no locks needed."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.state = SessionState.STARTING
        self._events: asyncio.Queue[InvokeEvent] = asyncio.Queue(maxsize=1)
        self._ready: asyncio.Future[RuntimeReply | None] = loop.create_future()
        self._reply: asyncio.Future[RuntimeReply] | None = None
        self._current: InvokeEvent | None = None
        self._delivered = False  # the current event has been handed to the runtime
        self.transport: str | None = None  # how it last asked for an event: "http" or "lane"
        self.parked = False  # the runtime waits in `next` with no event for it
        self.on_parked: Callable[[], None] | None = None  # called as it starts to wait there
        self.hub = ExtensionHub()  # its Extensions API (runtime/extensions.py)
        self.telemetry = Telemetry()  # its Telemetry and Logs APIs (runtime/telemetry.py)
        self._stream: ResponseStream | None = None  # the current event's streamed response

    # -- the pool's side -------------------------------------------------------------------

    async def wait_ready(self) -> RuntimeReply | None:
        """None when init succeeded, else the init error the runtime reported."""
        return await asyncio.shield(self._ready)

    async def invoke(self, event: InvokeEvent) -> RuntimeReply:
        """Hand `event` to the runtime's pending `next` and wait for its answer."""
        if self.state is SessionState.DEAD:
            raise SessionClosed("the instance has exited", delivered=False)
        if self.state not in (SessionState.READY, SessionState.RESPONDED):
            raise RuntimeProtocolError(f"cannot invoke an instance in state {self.state}")
        self.state = SessionState.INVOKING
        self._current = event
        self._delivered = False
        self._reply = asyncio.get_running_loop().create_future()
        self.parked = False
        self._events.put_nowait(event)
        return await self._reply

    def close(self, reason: str) -> None:
        """The instance is gone: wake whoever waits on it."""
        self.state = SessionState.DEAD
        self.hub.close()
        if not self._ready.done():
            self._ready.set_exception(SessionClosed(reason))
            self._ready.exception()  # mark retrieved: nobody may be waiting yet
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(SessionClosed(reason, delivered=self._delivered))
        stream, self._stream = self._stream, None
        if stream is not None:  # its reader stops here; the caller gets the outcome
            stream.finish(protocol.EXIT_ERROR, reason.encode())

    # -- the server's side -----------------------------------------------------------------

    async def next(self) -> InvokeEvent:
        """`GET /invocation/next`: the first call ends init; each call ends the previous turn."""
        if self.state is SessionState.STARTING:
            self.state = SessionState.READY
            self._ready.set_result(None)
        elif self.state is SessionState.RESPONDED:
            self.state = SessionState.READY
        elif self.state is not SessionState.READY and (
            self.state is not SessionState.INVOKING or self._delivered
        ):
            raise RuntimeProtocolError(f"State transition from {self.state} to Ready failed")
        if self._events.empty():  # it waits for work: the instance may freeze (freeze.py)
            self.parked = True
            if self.on_parked is not None:
                self.on_parked()
        event = await self._events.get()
        self.parked = False
        self._delivered = True
        return event

    def respond(self, request_id: str, payload: bytes) -> None:
        self._finish(request_id, RuntimeReply(payload=payload))

    def fail(self, request_id: str, payload: bytes, error_type: str) -> None:
        self._finish(request_id, RuntimeReply(payload=payload, error_type=error_type))

    def open_stream(self, request_id: str, content_type: str | None) -> ResponseStream:
        """The runtime starts a streamed response (`Lambda-Runtime-Function-Response-Mode:
        streaming`): the caller's stream, else one buffered under the 6 MB limit."""
        current = self._current
        if current is None or request_id != current.request_id or not self._delivered:
            raise RuntimeProtocolError(protocol.INVALID_REQUEST_ID)
        if self.state is not SessionState.INVOKING or self._stream is not None:
            raise RuntimeProtocolError(f"State transition from {self.state} to Streaming failed")
        stream = current.stream or ResponseStream(limit=protocol.MAX_PAYLOAD_BYTES, paced=False)
        stream.begin(content_type)
        self._stream = stream
        return stream

    def stream_chunk(self, data: bytes | None) -> bool:
        """A piece of the streamed response (None: one too large to take); False once there is
        no open stream (ended, or this piece passed the stream's limit, which ends the
        invocation with Lambda's error)."""
        stream = self._stream
        if stream is None:
            return False
        if data is not None and stream.write(data):
            return True
        message = (
            f"Response payload size exceeded maximum allowed payload size ({stream.limit} bytes)."
        )
        body = json.dumps({"errorMessage": message, "errorType": protocol.RESPONSE_TOO_LARGE})
        self.close_stream(protocol.RESPONSE_TOO_LARGE, body.encode())
        return False

    def close_stream(self, error_type: str | None = None, error_body: bytes = b"") -> None:
        """The streamed response ended (with the runtime's mid-stream error, if any): the
        invocation is answered."""
        stream = self._stream
        if stream is None or self._current is None:
            raise RuntimeProtocolError(f"State transition from {self.state} to Responded failed")
        self._stream = None
        stream.finish(error_type, error_body)
        buffered = stream is not self._current.stream
        payload = error_body if error_type else stream.buffered() if buffered else b""
        self._finish(self._current.request_id, RuntimeReply(payload=payload, error_type=error_type))

    def fail_init(self, payload: bytes, error_type: str) -> None:
        if self.state is not SessionState.STARTING:
            raise RuntimeProtocolError(f"State transition from {self.state} to InitError failed")
        self.state = SessionState.INIT_FAILED
        self._ready.set_result(RuntimeReply(payload=payload, error_type=error_type))

    def _finish(self, request_id: str, reply: RuntimeReply) -> None:
        current = self._current
        if current is None or request_id != current.request_id or not self._delivered:
            raise RuntimeProtocolError(protocol.INVALID_REQUEST_ID)
        if self.state is not SessionState.INVOKING or self._reply is None:
            raise RuntimeProtocolError(f"State transition from {self.state} to Responded failed")
        stream, self._stream = self._stream, None
        if stream is not None:  # /error after the stream began: it ends with that error
            stream.finish(reply.error_type, reply.payload)
        self.state = SessionState.RESPONDED
        self._reply.set_result(reply)
