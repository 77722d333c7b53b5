"""The settings every HTTP listener of samrun shares (front doors and the Lambda API), in one place.

aiohttp's own knobs do most of the work: `keepalive_timeout` closes a connection that sits idle
between requests or trickles its headers, and the header size limits stay aiohttp's. Three things
aiohttp has no setting for are added here: a deadline for the first request's headers (older
aiohttp starts the keep-alive timer only after a first request), a deadline for a request's body,
and a connection budget shared by every listener of one samrun, below the process's descriptor
limit. At the budget a new connection closes the one that has been idle longest (a half-sent
request counts as idle), so a client holding many idle connections cannot lock the others out.
A malformed request is answered in the listener's own error shape, logged at debug level only.
While the App's ReadyGate is closed (`up` still starting), every request is answered 503.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

logger = logging.getLogger(__name__)

HEADER_TIMEOUT_S = 10.0  # a connection's first request line and headers must arrive within this
KEEPALIVE_TIMEOUT_S = 10.0  # an idle keep-alive connection is closed after this
BODY_TIMEOUT_S = 20.0  # a request's body must arrive within this once its headers did
LINGER_S = 2.0  # how long an unread body is drained after an early answer
BACKLOG = 512
FD_RESERVE = 64  # descriptors kept for what is not a connection (plus 8 per sandbox)

RETRY_AFTER_S = 1  # what a listener asks a client to wait while the app starts
STARTING = "samrun is starting"

Reject = Callable[[int, str], web.Response]  # status, message -> the edge's own error response
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ReadyGate:
    """Whether the app answers yet, shared by every listener of one App. `up` closes it while it
    starts what its `ready` line promises (pollers, triggers, schedules, provisioned instances):
    until it opens, every listener answers 503 with `Retry-After` (boto3 retries a 503), so a
    client that waits for a first answer never reaches a half-started app. Open by default:
    `invoke`, `trigger` and `smoke` serve as soon as they listen."""

    __slots__ = ("is_open",)

    def __init__(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def open(self) -> None:
        self.is_open = True


class ConnectionBudget:
    """Open connections across every listener of one samrun, and what to do at the limit."""

    def __init__(self, limit: int | None = None, reserve_fds: int = FD_RESERVE) -> None:
        self._limit = limit
        self.reserve_fds = reserve_fds
        self.open: dict[_Protocol, None] = {}
        self.evicted = 0  # idle connections closed to make room
        self.refused = 0  # new connections closed: every open one was busy

    @property
    def limit(self) -> int:
        """The fixed limit, or what the descriptor limit leaves (read each time: it may rise)."""
        if self._limit is not None:
            return self._limit
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        soft = 1 << 20 if soft == resource.RLIM_INFINITY else soft
        return max(32, soft - self.reserve_fds)

    def admit(self, protocol: _Protocol) -> bool:
        """Count `protocol` in; at the limit, close the longest-idle connection first. False
        when every open connection is busy with a request (the new one is then closed)."""
        if len(self.open) >= self.limit:
            idle = [p for p in self.open if p.idle_since is not None]
            if not idle:
                self.refused += 1
                return False
            victim = min(idle, key=lambda p: p.idle_since or 0.0)
            self.open.pop(victim, None)
            victim.force_close()
            self.evicted += 1
        self.open[protocol] = None
        return True

    def release(self, protocol: _Protocol) -> None:
        self.open.pop(protocol, None)

    def state(self) -> dict[str, int]:
        return {
            "open": len(self.open),
            "limit": self.limit,
            "evicted": self.evicted,
            "refused": self.refused,
        }


class _Protocol(web.RequestHandler):
    """aiohttp's request handler, counted in a budget, with a deadline for its first headers and
    malformed requests answered in the listener's shape."""

    def __init__(
        self, manager: web.Server, *, budget: ConnectionBudget, reject: Reject, **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self.budget = budget
        self.reject = reject
        self.idle_since: float | None = None  # None while a request is being handled
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        loop = asyncio.get_running_loop()
        self.idle_since = loop.time()
        if not self.budget.admit(self):
            logger.warning("connection refused: %d connections open, all busy", self.budget.limit)
            self.force_close()
            return
        self._header_timer = loop.call_later(HEADER_TIMEOUT_S, self._headers_overdue)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.budget.release(self)
        if self._header_timer is not None:
            self._header_timer.cancel()
        super().connection_lost(exc)

    def headers_received(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def request_started(self) -> None:
        """Busy from here (the body is in) to the end of the response: not evicted meanwhile.
        A body still arriving leaves the connection idle: a trickled body cannot pin it."""
        self.idle_since = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if self.idle_since is not None:  # no request started: its headers never came
            self.force_close()

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self.idle_since = asyncio.get_running_loop().time()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        logger.debug("malformed request from %s: %s", request.remote, exc)
        first = (message or exc.message or "Bad Request").strip().splitlines()[0].rstrip(":")
        response = self.reject(status, f"Malformed HTTP request: {first}")
        response.force_close()
        return response


def _middleware(reject: Reject, gate: ReadyGate | None) -> Middleware:
    @web.middleware
    async def track_and_read(request: web.Request, handler: Handler) -> web.StreamResponse:
        """503 while the app starts; else read the body within its deadline, then mark the
        connection busy."""
        protocol = request.protocol if isinstance(request.protocol, _Protocol) else None
        if protocol is not None:
            protocol.headers_received()
        if gate is not None and not gate.is_open:
            response = reject(503, STARTING)
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
            return response
        if request.body_exists:
            try:
                async with asyncio.timeout(BODY_TIMEOUT_S):
                    await request.read()  # kept by aiohttp: the handler's read() returns it
            except TimeoutError:
                response = reject(408, f"The request body did not arrive in {BODY_TIMEOUT_S:g} s")
                response.force_close()
                return response
            except web.HTTPRequestEntityTooLarge as exc:
                response = reject(413, exc.text or "Request Entity Too Large")
                response.force_close()
                return response
        if protocol is not None:
            protocol.request_started()
        return await handler(request)

    return track_and_read


class _Site(web.BaseSite):
    """aiohttp's SockSite, with samrun's protocol factory."""

    __slots__ = ("_factory", "_sock")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, factory: Callable[[], _Protocol]
    ) -> None:
        super().__init__(runner, backlog=BACKLOG)
        self._sock = sock
        self._factory = factory

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, sock=self._sock, backlog=self._backlog
        )


class Listener:
    """One aiohttp app served on one bound socket, with the shared settings above."""

    def __init__(
        self,
        app: web.Application,
        sock: socket.socket,
        *,
        budget: ConnectionBudget,
        reject: Reject,
        gate: ReadyGate | None = None,
        shutdown_timeout_s: float = 1.0,
    ) -> None:
        """`gate`: answer 503 while it is closed (the App's ReadyGate)."""
        app.middlewares.append(_middleware(reject, gate))
        self.runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout_s
        )
        self.sock = sock
        self.budget = budget
        self.reject = reject

    async def start(self) -> None:
        await self.runner.setup()
        server = self.runner.server
        assert server is not None
        loop = asyncio.get_running_loop()

        def protocol() -> _Protocol:
            return _Protocol(
                server,
                loop=loop,
                budget=self.budget,
                reject=self.reject,
                keepalive_timeout=KEEPALIVE_TIMEOUT_S,
                lingering_time=LINGER_S,
                access_log=None,
            )

        await _Site(self.runner, self.sock, protocol).start()

    @property
    def sites(self) -> list[web.BaseSite]:
        return list(self.runner.sites)

    async def stop_accepting(self) -> None:
        """Close the listening socket; connections already open are still answered."""
        for site in self.sites:
            await site.stop()

    async def stop(self) -> None:
        await self.runner.cleanup()
