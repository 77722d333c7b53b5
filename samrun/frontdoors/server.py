"""FrontDoors: the listeners of every HTTP front door of an app, and the one aiohttp handler that
turns a request into an `HttpRequest` and an `HttpResponse` back into bytes.

Ports: REST and HTTP APIs share `--port`; each function URL gets an ephemeral port; each ALB
listener its declared port, or a free one when that is privileged or busy. All sockets are bound
in the constructor so the `up` table can show real addresses before anything is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from samrun.errors import SamrunError
from samrun.frontdoors.alb import AlbListener
from samrun.frontdoors.alb_health import HealthChecker
from samrun.frontdoors.function_urls import FunctionUrl
from samrun.frontdoors.gateway import INTERNAL, Gateway
from samrun.frontdoors.messages import HttpRequest, HttpResponse
from samrun.frontdoors.routes import RouteTable
from samrun.invoke.invoker import Invoker
from samrun.model import AppGraph, Listener, RouteKind

logger = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
MAX_REQUEST = 10 * 1024 * 1024 + 1  # API Gateway's payload limit is 10 MB


def bind(host: str, port: int, *, fallback: bool = False) -> socket.socket:
    """A listening socket; with `fallback`, a free port when `port` is privileged (even as root,
    so the mapping does not depend on who runs samrun) or busy."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, 0 if fallback and port < 1024 else port))
    except OSError as exc:
        if not fallback:
            sock.close()
            raise SamrunError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        sock.bind((host, 0))
    sock.listen(512)
    return sock


def to_request(request: web.Request, body: bytes) -> HttpRequest:
    raw_path = request.raw_path.split("?", 1)[0]
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
    return HttpRequest(
        method=request.method,
        path=request.path,
        raw_path=raw_path,
        query=request.rel_url.raw_query_string,
        headers=headers,
        body=body,
        source_ip=request.remote or "127.0.0.1",
        host=request.host,
        protocol=f"HTTP/{request.version.major}.{request.version.minor}",
    )


def to_response(response: HttpResponse) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(response.headers)
    return web.Response(
        status=response.status, reason=response.reason, body=response.body, headers=headers
    )


def aiohttp_app(handle: Handler) -> web.Application:
    async def edge(request: web.Request) -> web.Response:
        try:
            return to_response(await handle(to_request(request, await request.read())))
        except Exception:  # the one catch-all at the edge: log, answer API Gateway's 500
            logger.exception("%s %s failed", request.method, request.path)
            return to_response(INTERNAL)

    app = web.Application(client_max_size=MAX_REQUEST)
    app.router.add_route("*", "/{tail:.*}", edge)
    return app


@dataclass
class _Door:
    name: str  # "API", "function URL of X", "ALB listener L"
    sock: socket.socket
    handle: Handler
    runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


class FrontDoors:
    """Every front door of one app; `start`, `stop`, and what to print in the `up` table."""

    def __init__(self, graph: AppGraph, invoker: Invoker, *, host: str, port: int) -> None:
        self.graph = graph
        self.host = host
        self.doors: list[_Door] = []
        api_routes = [r for r in graph.routes if r.kind is not RouteKind.FUNCTION_URL]
        self.table = RouteTable(api_routes)
        if api_routes:
            gateway = Gateway(self.table, invoker, region=graph.region, account_id=graph.account_id)
            self.doors.append(_Door("API", bind(host, port), gateway.handle))
        self.urls: dict[str, _Door] = {}
        for route in graph.routes:
            if route.kind is RouteKind.FUNCTION_URL:
                url = FunctionUrl(route, invoker, region=graph.region, account_id=graph.account_id)
                door = _Door(f"function URL of {route.function}", bind(host, 0), url.handle)
                self.urls[route.function] = door
                self.doors.append(door)
        self.listeners: list[tuple[AlbListener, _Door]] = []
        self._add_listeners(invoker)
        self.health = [HealthChecker(g, invoker) for g in graph.target_groups if g.function]
        self._tasks: list[asyncio.Task[None]] = []

    def _add_listeners(self, invoker: Invoker) -> None:
        groups = {g.arn: g for g in self.graph.target_groups}
        merged: dict[str, Listener] = {}
        for group in self.graph.target_groups:
            for listener in group.listeners:
                known = merged.get(listener.logical_id)
                rules = (known.rules if known else ()) + tuple(
                    r for r in listener.rules if not known or r not in known.rules
                )
                merged[listener.logical_id] = Listener(
                    logical_id=listener.logical_id,
                    port=listener.port,
                    protocol=listener.protocol,
                    default_actions=listener.default_actions,
                    rules=tuple(sorted(rules, key=lambda r: r.priority)),
                )
        timeouts = {f.name: float(f.config.timeout_s) for f in self.graph.functions}
        for listener in merged.values():
            alb = AlbListener(listener, groups, invoker, timeouts)
            sock = bind(self.host, listener.port, fallback=True)
            door = _Door(f"ALB listener {listener.logical_id}", sock, alb.handle)
            alb.local_port = door.port
            self.listeners.append((alb, door))
            self.doors.append(door)

    async def start(self) -> None:
        for door in self.doors:
            door.runner = web.AppRunner(
                aiohttp_app(door.handle), access_log=None, handle_signals=False, shutdown_timeout=1
            )
            await door.runner.setup()
            await web.SockSite(door.runner, door.sock).start()
        for checker in self.health:
            if checker.enabled:
                self._tasks.append(asyncio.create_task(checker.run()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for door in self.doors:
            if door.runner is not None:
                await door.runner.cleanup()
            door.sock.close()

    def url(self, door: _Door) -> str:
        return f"http://{self.host}:{door.port}"

    def target_health(self) -> dict[str, str]:
        """Target group logical id -> initial | healthy | unhealthy | unused (checks disabled)."""
        return {c.group.logical_id: c.state if c.enabled else "unused" for c in self.health}

    def ready_lines(self) -> list[str]:
        return [f"{door.name} on {self.url(door)}" for door in self.doors]

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(method, path, function, local URL) for the `up` table."""
        rows = []
        api = next((d for d in self.doors if d.name == "API"), None)
        for route in self.table.routes if api else []:
            path = "/*" if route.path == "$default" else route.path
            rows.append((route.method, route.path, route.function, self.url(api) + path))  # type: ignore[arg-type]
        for function, door in self.urls.items():
            rows.append(("ANY", "function URL", function, self.url(door) + "/"))
        for alb, door in self.listeners:
            note = f"ALB :{alb.listener.port}"
            for group in self.graph.target_groups:
                if any(li.logical_id == alb.listener.logical_id for li in group.listeners):
                    rows.append(("ANY", note, group.function or "-", self.url(door) + "/"))
        return rows
