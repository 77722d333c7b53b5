"""FrontDoors: the listeners of every HTTP front door of an app, and the one aiohttp handler that
turns a request into an `HttpRequest` and an `HttpResponse` back into bytes.

Ports: REST and HTTP APIs share `--port`; each function URL gets an ephemeral port; each ALB
listener its declared port, or a free one when that is privileged or busy. All sockets are bound
in the constructor so the `up` table can show real addresses before anything is served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import HttpVersion11, web
from multidict import CIMultiDict

from samrun.errors import SamrunError
from samrun.frontdoors.alb import AlbListener, alb_error
from samrun.frontdoors.alb_health import HealthChecker
from samrun.frontdoors.authorizers import AuthorizerCache
from samrun.frontdoors.cloudfront import CloudFrontDoor, Presign
from samrun.frontdoors.function_urls import FunctionUrl, UrlGuard
from samrun.frontdoors.gateway import INTERNAL, Gateway
from samrun.frontdoors.messages import HttpRequest, HttpResponse, StreamAborted, json_response
from samrun.frontdoors.routes import RouteTable
from samrun.frontdoors.start_execution import Starter
from samrun.invoke.invoker import Invoker
from samrun.listeners import ConnectionBudget, ReadyGate
from samrun.listeners import Listener as HttpListener
from samrun.model import AppGraph, Listener, Origin, RouteKind

logger = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]
MAX_REQUEST = 10 * 1024 * 1024 + 1  # API Gateway's payload limit is 10 MB
NO_FUNCTION_URL = json_response(404, '{"Message":"Not Found"}')  # its URL was removed


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
    if not raw_path.startswith("/"):  # absolute-form (`GET http://host/x`): its path, as sent
        raw_path = request.rel_url.raw_path or "/"
    headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers)
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    headers = forwarded(headers, request.remote or "127.0.0.1", sockname[1] if sockname else 80)
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


def forwarded(
    headers: tuple[tuple[str, str], ...], client_ip: str, port: int
) -> tuple[tuple[str, str], ...]:
    """The headers with the X-Forwarded-For/-Port/-Proto that API Gateway, function URLs and
    ALB add: the client's address appended to any X-Forwarded-For it sent."""
    chain = [v for k, v in headers if k.lower() == "x-forwarded-for"]
    kept = tuple((k, v) for k, v in headers if k.lower() not in _FORWARDED)
    return (
        *kept,
        ("X-Forwarded-For", ", ".join([*chain, client_ip])),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "http"),
    )


_FORWARDED = frozenset({"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"})


def to_response(response: HttpResponse) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(response.headers)
    return web.Response(
        status=response.status, reason=response.reason, body=response.body, headers=headers
    )


def reject(status: int, message: str) -> web.Response:
    """A request the listener refuses (malformed, too slow, too large), as API Gateway says it."""
    return to_response(json_response(status, json.dumps({"message": message})))


def answer_http_1_1(request: web.Request) -> None:
    """API Gateway, function URLs and ALB answer HTTP/1.1 whatever the client spoke; aiohttp
    answers in the request's version, which it reads from these two private places."""
    if request.version != HttpVersion11:
        request._version = HttpVersion11
        request._cache.pop("version", None)


async def stream_out(request: web.Request, response: HttpResponse) -> web.StreamResponse:
    """A streamed body, chunk by chunk as it comes (chunked transfer encoding); a failure
    midway closes the connection without the final chunk, so the client sees it unfinished."""
    assert response.stream is not None
    out = web.StreamResponse(
        status=response.status, reason=response.reason, headers=CIMultiDict(response.headers)
    )
    await out.prepare(request)
    try:
        async for data in response.stream:
            await out.write(data)
        await out.write_eof()
    except ConnectionError:
        pass  # the client left; the invocation runs on (function_urls.py)
    except Exception as exc:  # StreamAborted, or a bug: the status is sent, so cut it short
        if not isinstance(exc, StreamAborted):
            logger.exception("%s %s failed midway", request.method, request.path)
        out.force_close()
        if request.transport is not None:
            request.transport.close()
    return out


def aiohttp_app(handle: Handler) -> web.Application:
    async def edge(request: web.Request) -> web.StreamResponse:
        try:
            ours = to_request(request, await request.read())
            answer_http_1_1(request)
            response = await handle(ours)
        except Exception:  # the one catch-all at the edge: log, answer API Gateway's 500
            logger.exception("%s %s failed", request.method, request.path)
            return to_response(INTERNAL)
        if response.stream is not None:
            return await stream_out(request, response)
        return to_response(response)

    app = web.Application(client_max_size=MAX_REQUEST)
    app.router.add_route("*", "/{tail:.*}", edge)
    return app


@dataclass
class _Door:
    name: str  # "API", "function URL of X", "ALB listener L"
    sock: socket.socket
    handle: Handler  # swapped in place by a reload; the listener and its port stay
    runner: HttpListener | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def dispatch(self, request: HttpRequest) -> HttpResponse:
        return await self.handle(request)

    async def start(self, connections: ConnectionBudget, gate: ReadyGate) -> None:
        app = aiohttp_app(self.dispatch)
        self.runner = HttpListener(app, self.sock, budget=connections, reject=reject, gate=gate)
        await self.runner.start()

    async def stop_accepting(self) -> None:
        """Close the listening socket; connections already open are answered."""
        if self.runner is not None:
            for site in list(self.runner.sites):
                await site.stop()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
        self.sock.close()


async def _no_function_url(request: HttpRequest) -> HttpResponse:
    return NO_FUNCTION_URL


async def _alb_gone(request: HttpRequest) -> HttpResponse:
    return alb_error(503)


def merged_listeners(graph: AppGraph) -> dict[str, Listener]:
    """Every ALB listener of the app, with the rules of all its target groups, by priority."""
    merged: dict[str, Listener] = {}
    for group in graph.target_groups:
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
    return merged


class FrontDoors:
    """Every front door of one app; `start`, `update` (hot reload), `stop`, and what to print.

    `update` swaps route tables, function URLs and ALB rules in place: a listener that stays keeps
    its port, requests in flight finish on what they matched, new doors are bound and announced.
    """

    def __init__(
        self,
        graph: AppGraph,
        invoker: Invoker,
        *,
        host: str,
        port: int,
        alb_ports: Mapping[str, int] | None = None,
        disable_authorizer: bool = False,
        url_guard: UrlGuard | None = None,
        permitted: Callable[[str, str, str | None], str | None] | None = None,
        cloudfront_ports: Mapping[str, int] | None = None,
        cache: bool = True,
    ) -> None:
        self.graph = graph
        self.disable_authorizer = disable_authorizer  # --disable-authorizer
        self.url_guard = url_guard  # --enforce-iam: AWS_IAM function URLs check SigV4
        # --enforce-iam: (service, function, source ARN) -> the missing permission, or None
        self.permitted = permitted
        self.invoker = invoker
        self.host = host
        self.port = port
        self.alb_ports = dict(alb_ports or {})  # listener logical id -> local port (--alb-port)
        self.doors: list[_Door] = []
        self.table = RouteTable([])
        self.gateway: Gateway | None = None
        self.urls: dict[str, _Door] = {}  # function name -> door, kept when the URL goes
        self.listeners: list[tuple[AlbListener, _Door]] = []
        self.health: list[HealthChecker] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._retired: list[_Door] = []  # listeners a reload dropped, stopped after it
        self.connections = ConnectionBudget()  # the App shares its own with the Lambda API
        self.ready = ReadyGate()  # the App's: 503 on every door until `up` is ready
        self.starter: Starter | None = None  # set by the App: StartExecution on its endpoint
        self.cloudfront_ports = dict(cloudfront_ports or {})  # --cloudfront-port
        self.cache = cache  # --no-cache: CloudFront doors keep nothing
        self.presign: Presign | None = None  # set by the App: S3 origins on its AWS endpoint
        self.distributions: dict[str, tuple[CloudFrontDoor, _Door]] = {}
        self._retired_cloudfront: list[CloudFrontDoor] = []  # replaced by a reload
        self._configure(graph)

    def _configure(self, graph: AppGraph) -> list[_Door]:
        """Point every door at `graph`; bind the doors it needs that do not exist yet."""
        self.graph = graph
        new: list[_Door] = []
        api_routes = [r for r in graph.routes if r.kind is not RouteKind.FUNCTION_URL]
        self.table = RouteTable(api_routes)
        if self.gateway is not None:
            self.gateway.table = self.table
            self.gateway.cache = AuthorizerCache()  # authorizers may have changed with the routes
        elif api_routes:
            self.gateway = Gateway(
                self.table,
                self.invoker,
                region=graph.region,
                account_id=graph.account_id,
                disable_authorizer=self.disable_authorizer,
            )
            self.gateway.permitted = self._permitted("apigateway")
            new.append(_Door("API", bind(self.host, self.port), self.gateway.handle))
        if self.gateway is not None:
            self.gateway.starter = self.starter
        wanted = {r.function: r for r in graph.routes if r.kind is RouteKind.FUNCTION_URL}
        for function, door in self.urls.items():
            if function not in wanted:
                door.handle = _no_function_url
        for function, route in wanted.items():
            url = FunctionUrl(
                route,
                self.invoker,
                region=graph.region,
                account_id=graph.account_id,
                guard=self.url_guard,
            )
            known = self.urls.get(function)
            if known is not None:
                known.handle = url.handle
            else:
                door = _Door(f"function URL of {function}", bind(self.host, 0), url.handle)
                self.urls[function] = door
                new.append(door)
        new += self._configure_listeners(graph)
        new += self._configure_distributions(graph)
        self.doors += new
        self.health = [HealthChecker(g, self.invoker) for g in graph.target_groups if g.function]
        return new

    def _permitted(self, service: str) -> Callable[[str, str | None], str | None] | None:
        check = self.permitted
        return None if check is None else lambda function, arn: check(service, function, arn)

    def _configure_listeners(self, graph: AppGraph) -> list[_Door]:
        groups = {g.arn: g for g in graph.target_groups}
        timeouts = {f.name: float(f.config.timeout_s) for f in graph.functions}
        merged = merged_listeners(graph)
        kept, new = [], []
        for alb, door in self.listeners:
            listener = merged.pop(alb.listener.logical_id, None)
            if listener is None or listener.port != alb.listener.port:
                door.handle = _alb_gone  # its port is freed when the door stops
                self._retired.append(door)
                if listener is not None:
                    merged[listener.logical_id] = listener
                continue
            alb.listener, alb.groups, alb.timeouts_s = listener, groups, timeouts
            kept.append((alb, door))
        for listener in merged.values():
            alb = AlbListener(listener, groups, self.invoker, timeouts)
            alb.permitted = self._permitted("alb")
            chosen = self.alb_ports.get(listener.logical_id)
            sock = bind(self.host, listener.port if chosen is None else chosen, fallback=not chosen)
            door = _Door(f"ALB listener {listener.logical_id}", sock, alb.handle)
            alb.local_port = door.port
            kept.append((alb, door))
            new.append(door)
        self.listeners = kept
        return new

    def _configure_distributions(self, graph: AppGraph) -> list[_Door]:
        """A door per distribution: kept (its port too) across reloads, 404 once it is gone."""
        timeouts = {(v.function, v.version): float(v.config.timeout_s) for v in graph.versions}
        wanted = {d.logical_id: d for d in graph.distributions if d.enabled}
        new = []
        for lid, (_, door) in self.distributions.items():
            if lid not in wanted:
                door.handle = _no_function_url
        for lid, distribution in wanted.items():
            cloudfront = CloudFrontDoor(
                distribution,
                self.invoker,
                locate=self._locate,
                presign=self._presign,
                cache=self.cache,
                timeouts_s=timeouts,
            )
            known = self.distributions.get(lid)
            if known is not None:
                cloudfront.counts = known[0].counts  # the counters outlive a reload
                self._retired_cloudfront.append(known[0])
                known[1].handle = cloudfront.handle
                self.distributions[lid] = (cloudfront, known[1])
                continue
            chosen = self.cloudfront_ports.get(lid)
            door = _Door(
                f"CloudFront distribution {lid}", bind(self.host, chosen or 0), cloudfront.handle
            )
            self.distributions[lid] = (cloudfront, door)
            new.append(door)
        return new

    def _locate(self, origin: Origin) -> str | None:
        """The local base URL of an origin that is one of the app's own doors."""
        if origin.kind == "api":
            api = next((d for d in self.doors if d.name == "API"), None)
            return self.url(api) if api is not None else None
        if origin.kind == "function_url":
            door = self.urls.get(origin.target)
            return self.url(door) if door is not None else None
        return None

    async def _presign(self, method: str, bucket: str, key: str) -> str:
        if self.presign is None:
            raise SamrunError("no AWS endpoint for S3 origins")
        return await self.presign(method, bucket, key)

    async def start(self) -> None:
        if self.gateway is not None:
            self.gateway.starter = self.starter
        for door in self.doors:
            await door.start(self.connections, self.ready)
        self._start_health()

    def _start_health(self) -> None:
        for checker in self.health:
            if checker.enabled:
                self._tasks.append(asyncio.create_task(checker.run()))

    async def _stop_health(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def update(self, graph: AppGraph) -> list[str]:
        """Serve `graph`'s routes, function URLs and ALB rules; the lines announcing new doors."""
        await self._stop_health()
        self._retired = []
        new = self._configure(graph)
        for door in new:
            await door.start(self.connections, self.ready)
        for door in self._retired:
            self.doors.remove(door)
            await door.stop()
        self._start_health()
        return [f"{door.name} on {self.url(door)}" for door in new]

    async def stop_accepting(self) -> None:
        """The first step of a graceful stop: no new connection, no health check."""
        await self._stop_health()
        for door in self.doors:
            await door.stop_accepting()

    async def stop(self) -> None:
        await self._stop_health()
        for door in self.doors:
            await door.stop()
        for cloudfront in [*(c for c, _ in self.distributions.values()), *self._retired_cloudfront]:
            await cloudfront.close()

    def url(self, door: _Door) -> str:
        return f"http://{self.host}:{door.port}"

    def distribution_state(self) -> dict[str, dict[str, object]]:
        """/_samrun/state's `distributions`: each served distribution by logical id, with its
        local port and URL."""
        return {
            lid: {"port": door.port, "url": self.url(door) + "/", **cloudfront.state()}
            for lid, (cloudfront, door) in self.distributions.items()
            if self._serving(door)
        }

    def target_health(self) -> dict[str, str]:
        """Target group logical id -> initial | healthy | unhealthy | unused (checks disabled)."""
        return {c.group.logical_id: c.state if c.enabled else "unused" for c in self.health}

    def _serving(self, door: _Door) -> bool:
        return door.handle is not _no_function_url

    def ready_lines(self) -> list[str]:
        lines = [f"{door.name} on {self.url(door)}" for door in self.doors if self._serving(door)]
        guarded = [r for r in self.table.routes if r.details.get("authorizer")]
        if self.disable_authorizer and guarded:
            lines.append(f"--disable-authorizer: {len(guarded)} routes served without authorizer")
        return lines

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(method, path, function, local URL) for the `up` table."""
        rows = []
        api = next((d for d in self.doors if d.name == "API"), None)
        for route in self.table.routes if api else []:
            path = "/*" if route.path == "$default" else route.path
            target = f"state machine {route.function}" if route.state_machine else route.function
            rows.append((route.method, route.path, target, self.url(api) + path))  # type: ignore[arg-type]
        for function, door in self.urls.items():
            if self._serving(door):
                rows.append(("ANY", "function URL", function, self.url(door) + "/"))
        for lid, (cloudfront, door) in self.distributions.items():
            if self._serving(door):
                edge = sorted(
                    {f.function for b in cloudfront.distribution.behaviors for f in b.functions}
                )
                rows.append(
                    ("ANY", f"CloudFront {lid}", ", ".join(edge) or "-", self.url(door) + "/")
                )
        for alb, door in self.listeners:
            note = f"ALB :{alb.listener.port}"
            for group in self.graph.target_groups:
                if any(li.logical_id == alb.listener.logical_id for li in group.listeners):
                    rows.append(("ANY", note, group.function or "-", self.url(door) + "/"))
        return rows
