"""The Runtime API, served by samrun itself: one aiohttp app, one loopback listener per instance.

Runtimes read `AWS_LAMBDA_RUNTIME_API` as a bare `host:port` and add fixed paths, so each instance
gets a port of its own; the port a request arrived on says which session it speaks to.

samrun's own Python and Node.js runtimes speak to the same sessions over the lane (lane.py);
every instance still has its listener here (functions may read AWS_LAMBDA_RUNTIME_API).

The listeners bind loopback whatever `--host` says: whoever reaches one can post the response
the real caller receives. Only a container backend may need another address, and passes it.

Each connection's protocol is aiohttp's behind a `TrailerTap` (trailers.py), so a streamed
response's error trailers, which aiohttp drops, are read all the same.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable

from aiohttp import web

from samrun.errors import RuntimeProtocolError
from samrun.runtime import extensions, protocol, render, telemetry
from samrun.runtime.session import InvokeEvent, RuntimeSession
from samrun.runtime.streaming import ResponseStream
from samrun.runtime.trailers import TrailerTap, error_body

ERROR_TYPE_FALLBACK = "Runtime.Unknown"
LOOPBACK = "127.0.0.1"
TRANSPORT = "http"


class RuntimeApiServer:
    """Opens and closes per-instance listeners; routes each request to its session."""

    def __init__(self, host: str = LOOPBACK) -> None:
        self.host = host
        self._sessions: dict[int, RuntimeSession] = {}
        self._sites: dict[int, asyncio.Server] = {}
        app = web.Application(client_max_size=4 * protocol.MAX_PAYLOAD_BYTES)
        app.router.add_get(protocol.NEXT, self._next)
        app.router.add_post(protocol.RESPONSE, self._response)
        app.router.add_post(protocol.ERROR, self._error)
        app.router.add_post(protocol.INIT_ERROR, self._init_error)
        extensions.add_routes(app, self._session)
        app.router.add_put(telemetry.TELEMETRY_PATH, self._telemetry)
        app.router.add_put(telemetry.LOGS_PATH, self._logs)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.1
        )

    async def start(self) -> None:
        await self._runner.setup()

    async def stop(self) -> None:
        for site in self._sites.values():
            site.close()
        self._sites.clear()
        await self._runner.cleanup()

    async def open(self, session: RuntimeSession) -> str:
        """Listen for `session` on a fresh loopback port; returns `host:port` for the runtime."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        server = self._runner.server
        assert server is not None  # (started)
        site = await asyncio.get_running_loop().create_server(
            lambda: TrailerTap(server()), sock=sock
        )
        self._sessions[port] = session
        self._sites[port] = site
        return f"{self.host}:{port}"

    async def close(self, address: str) -> None:
        port = int(address.rsplit(":", 1)[1])
        self._sessions.pop(port, None)
        site = self._sites.pop(port, None)
        if site is not None:
            site.close()  # (its connections end with their instance, or at `stop`)

    def _session(self, request: web.Request) -> RuntimeSession | None:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        return self._sessions.get(sockname[1]) if sockname else None

    async def _next(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return render.unknown_instance()
        session.transport = TRANSPORT
        try:
            event = await session.next()
        except RuntimeProtocolError as exc:
            return render.invalid_state(str(exc))
        return web.Response(body=event.payload, headers=event_headers(event))

    async def _response(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return render.unknown_instance()
        request_id = request.match_info["request_id"]
        if request.headers.get(protocol.RESPONSE_MODE, "").lower() == protocol.STREAMING:
            return await self._stream(session, request, request_id)
        body = await read_limited(request, protocol.MAX_PAYLOAD_BYTES)
        if body is None:
            return self._reject_oversized(session, request_id)
        return answer(lambda: session.respond(request_id, body))

    async def _stream(
        self, session: RuntimeSession, request: web.Request, request_id: str
    ) -> web.StreamResponse:
        """A streamed response (chunked): each piece goes to the caller as it arrives; a
        mid-stream error comes in its `Lambda-Runtime-Function-Error-Type`/`-Body` trailers
        (read from the connection's TrailerTap: aiohttp does not hand a server trailers)."""
        content_type = request.headers.get("Content-Type")
        opened: list[ResponseStream] = []
        refused = answer(lambda: opened.append(session.open_stream(request_id, content_type)))
        if refused.status != 202:
            return refused
        async for data in request.content.iter_any():
            if not session.stream_chunk(data):
                return render.too_large(opened[0].limit)  # the invocation has ended
        tap = request.transport.get_protocol() if request.transport is not None else None
        trailers = tap.trailers() if isinstance(tap, TrailerTap) else {}
        error_type = trailers.get(protocol.FUNCTION_ERROR_TYPE.lower())
        if error_type:
            body = error_body(trailers.get(protocol.FUNCTION_ERROR_BODY.lower(), ""))
            return answer(lambda: session.close_stream(error_type, body))
        return answer(session.close_stream)

    async def _telemetry(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return render.unknown_instance()
        return await telemetry.subscribe(
            request, session.hub, session.telemetry, telemetry.TELEMETRY
        )

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return render.unknown_instance()
        return await telemetry.subscribe(request, session.hub, session.telemetry, telemetry.LOGS)

    async def _error(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return render.unknown_instance()
        request_id = request.match_info["request_id"]
        body = await read_limited(request, protocol.MAX_ERROR_BODY_BYTES) or b""
        error_type = error_type_of(request, body)
        return answer(lambda: session.fail(request_id, body, error_type))

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        if session is None:
            return render.unknown_instance()
        body = await read_limited(request, protocol.MAX_ERROR_BODY_BYTES) or b""
        return answer(lambda: session.fail_init(body, error_type_of(request, body)))

    def _reject_oversized(self, session: RuntimeSession, request_id: str) -> web.Response:
        limit = protocol.MAX_PAYLOAD_BYTES
        message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
        payload = json.dumps({"errorMessage": message, "errorType": protocol.RESPONSE_TOO_LARGE})
        failed = answer(
            lambda: session.fail(request_id, payload.encode(), protocol.RESPONSE_TOO_LARGE)
        )
        return failed if failed.status != 202 else render.too_large(limit)


def event_headers(event: InvokeEvent) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        protocol.REQUEST_ID: event.request_id,
        protocol.DEADLINE_MS: str(event.deadline_ms),
        protocol.INVOKED_ARN: event.invoked_arn,
        protocol.TRACE_ID: event.trace_id,
    }
    if event.client_context:
        headers[protocol.CLIENT_CONTEXT] = event.client_context
    if event.cognito_identity:
        headers[protocol.COGNITO_IDENTITY] = event.cognito_identity
    if event.tenant_id:
        headers[protocol.TENANT_ID] = event.tenant_id
    return headers


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` (judged before reading when the size is known)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    return None if len(body) > limit else body


def error_type_of(request: web.Request, body: bytes) -> str:
    """The header wins, as in Lambda; else the body's errorType; else Runtime.Unknown."""
    return error_type_from(request.headers.get(protocol.FUNCTION_ERROR_TYPE), body)


def error_type_from(header: str | None, body: bytes) -> str:
    """`error_type_of` for a runtime that says the type without HTTP (the lane)."""
    if header:
        return header
    try:
        parsed = json.loads(body)
    except ValueError:
        return ERROR_TYPE_FALLBACK
    error_type = parsed.get("errorType") if isinstance(parsed, dict) else None
    return error_type if isinstance(error_type, str) and error_type else ERROR_TYPE_FALLBACK


def answer(transition: Callable[[], None]) -> web.Response:
    """Apply a session transition; a broken contract is answered here, never raised further."""
    try:
        transition()
    except RuntimeProtocolError as exc:
        if str(exc) == protocol.INVALID_REQUEST_ID:
            return render.invalid_request_id()
        return render.invalid_state(str(exc))
    return render.accepted()
