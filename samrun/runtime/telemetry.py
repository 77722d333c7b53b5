"""Lambda's Telemetry API (`PUT /2022-07-01/telemetry`) and its older Logs API
(`PUT /2020-08-15/logs`) for one instance: subscriptions, buffering, delivery.

An extension (registered with the Extensions API: `session.hub.known(identifier)`) subscribes
during the init phase to `platform`, `function` and `extension` events, with an HTTP (or TCP)
destination it listens on inside the execution environment: `sandbox.localdomain` there, which
samrun maps to the address the instance's listeners are reached at (`Telemetry.host`: loopback,
for the process backend and for containers on the host network). Lambda buffers what the
extension asked for and sends it in batches: a JSON array per POST (NDJSON on TCP), once
`timeoutMs` has passed since the batch's first event, or it holds `maxItems` events or
`maxBytes` bytes; a batch the listener refuses is retried with backoff, then dropped.

What a subscriber gets before it subscribes (the init phase's events from `platform.initStart`
on) is kept until the init phase ends and replayed to it, as Lambda does. Each instance owns a
`Telemetry` (`session.telemetry`); it costs one test per line or event (`wanted`) while no one
subscribes, once init is over.

Freezing (runtime/freeze.py): a subscriber with events to deliver holds its instance's freeze
off (`holds_freeze`), so what an invocation produced reaches the listener before the instance
is frozen; a delivery that still meets a frozen instance waits in the socket until it thaws (on
Lambda a `platform.report` may likewise arrive during the next invocation). `flush` sends what
is buffered before SHUTDOWN.

Extension processes' own lines are `extension` events: whoever reads them calls
`extension_line` (not `Instance.on_output`, which makes `function` events).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from samrun.runtime import render
from samrun.runtime.extensions import EXTENSION_ID, Extension, ExtensionHub

logger = logging.getLogger(__name__)

TELEMETRY_PATH = "/2022-07-01/telemetry"
LOGS_PATH = "/2020-08-15/logs"
TYPES = ("platform", "function", "extension")
SANDBOX_HOSTS = frozenset({"sandbox.localdomain", "sandbox", "localhost", "127.0.0.1"})
BACKLOG_LIMIT = 10_000  # init-phase events kept for subscribers still to come
RETRIES = 8  # attempts at one batch before it is dropped (the subscriber is gone)


@dataclass(frozen=True, slots=True)
class Api:
    """The rules of one of the two subscription APIs, as Lambda documents them."""

    name: str  # "Telemetry" | "Logs": in error types and messages
    schema_versions: frozenset[str]
    schema_required: bool
    items: tuple[int, int, int]  # maxItems: default, minimum, maximum
    size: tuple[int, int, int]  # maxBytes
    timeout: tuple[int, int, int]  # timeoutMs
    subscribed_event: str  # the platform event that confirms a subscription


TELEMETRY = Api(
    name="Telemetry",
    schema_versions=frozenset({"2022-07-01", "2022-12-13", "2025-01-29"}),
    schema_required=True,
    items=(1000, 25, 10_000),
    size=(262_144, 262_144, 1_048_576),
    timeout=(100, 25, 30_000),
    subscribed_event="platform.telemetrySubscription",
)
LOGS = Api(
    name="Logs",
    schema_versions=frozenset({"2020-08-15", "2021-03-18"}),
    schema_required=False,
    items=(10_000, 1000, 10_000),
    size=(262_144, 262_144, 1_048_576),
    timeout=(1000, 25, 30_000),
    subscribed_event="platform.logsSubscription",
)


@dataclass(frozen=True, slots=True)
class Request:
    """A valid subscription request."""

    types: frozenset[str]
    max_items: int
    max_bytes: int
    timeout_ms: int
    protocol: str  # HTTP | TCP
    port: int
    path: str
    schema_version: str


@dataclass(frozen=True, slots=True)
class Event:
    """One telemetry event, as produced; each API renders it its own way (`render_for`)."""

    time: str
    type: str  # platform.start, function, extension...
    record: object  # the Telemetry API's record
    text: str | None = None  # a log line as written (the Logs API's record)


class SubscriptionError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


def parse_request(api: Api, body: bytes) -> Request:
    """The request, or SubscriptionError with every problem, as Lambda's ValidationError."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise SubscriptionError(400, "ValidationError", f"Invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise SubscriptionError(400, "ValidationError", "The request body must be an object")
    problems: list[str] = []
    schema = data.get("schemaVersion")
    if schema is None and not api.schema_required:
        schema = min(api.schema_versions)
    elif schema not in api.schema_versions:
        allowed = ", ".join(sorted(api.schema_versions))
        problems.append(f"schemaVersion must be one of: {allowed}")
    types = data.get("types")
    if not isinstance(types, list) or not types:
        problems.append("types should not be empty")
    elif not all(isinstance(kind, str) and kind in TYPES for kind in types):
        problems.append(f"types must be one of: {', '.join(TYPES)}")
    protocol, port, path = destination(data.get("destination"), problems)
    limits = buffering(api, data.get("buffering", {}), problems)
    if problems:
        raise SubscriptionError(400, "ValidationError", "; ".join(problems))
    return Request(
        types=frozenset(types or ()),
        max_items=limits[0],
        max_bytes=limits[1],
        timeout_ms=limits[2],
        protocol=protocol,
        port=port,
        path=path,
        schema_version=str(schema),
    )


def destination(value: object, problems: list[str]) -> tuple[str, int, str]:
    """(protocol, port, path) of a destination in the execution environment."""
    if not isinstance(value, dict):
        problems.append("destination is required")
        return "", 0, ""
    protocol = value.get("protocol")
    uri = value.get("URI")
    if protocol not in ("HTTP", "TCP"):
        problems.append("destination.protocol must be one of: HTTP, TCP")
    if not isinstance(uri, str) or not uri:
        problems.append("destination.URI is required")
        return "", 0, ""
    parts = urlsplit(uri if "://" in uri else f"tcp://{uri}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if protocol == "HTTP" and parts.scheme != "http":
        problems.append("URI scheme must be http")
    if parts.hostname not in SANDBOX_HOSTS:
        problems.append("URI host must be sandbox.localdomain (a listener inside the sandbox)")
    if port is None:
        problems.append("URI port is not provided")
    elif port == 9001:
        problems.append("URI port 9001 is reserved")
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return str(protocol), port or 0, path


def buffering(api: Api, value: object, problems: list[str]) -> tuple[int, int, int]:
    if not isinstance(value, dict):
        problems.append("buffering must be an object")
        return api.items[0], api.size[0], api.timeout[0]
    chosen = []
    for key, (default, low, high) in (
        ("maxItems", api.items),
        ("maxBytes", api.size),
        ("timeoutMs", api.timeout),
    ):
        number = value.get(key, default)
        if isinstance(number, bool) or not isinstance(number, int):
            problems.append(f"buffering.{key} must be an integer")
            number = default
        elif not low <= number <= high:
            problems.append(f"buffering.{key} must be between {low} and {high}")
            number = default
        chosen.append(number)
    return chosen[0], chosen[1], chosen[2]


def render_for(api: Api, schema_version: str, event: Event) -> list[dict[str, object]]:
    """`event` as `api` delivers it (none when it has no such event). The Logs API knows no
    init events, ends an invocation with platform.end before platform.report, reports without
    status or spans, has platform.runtimeDone from its 2021-03-18 schema on, and gives log lines
    as written."""
    if api is TELEMETRY:
        if event.type == LOGS.subscribed_event:
            return []
        return [{"time": event.time, "type": event.type, "record": event.record}]
    kind, record = event.type, event.record
    before: list[dict[str, object]] = []
    if kind in ("function", "extension"):
        record = event.text if event.text is not None else record
    elif kind.startswith("platform.init") or kind == TELEMETRY.subscribed_event:
        return []
    elif kind == "platform.runtimeDone":
        if schema_version != "2021-03-18":
            return []
        record = pick(record, "requestId", "status")
    elif kind == "platform.start":
        record = pick(record, "requestId", "version")
    elif kind == "platform.report":
        record = pick(record, "requestId", "metrics")
        end = pick(record, "requestId")
        before.append({"time": event.time, "type": "platform.end", "record": end})
    return [*before, {"time": event.time, "type": kind, "record": record}]


def pick(record: object, *keys: str) -> dict[str, object]:
    source = record if isinstance(record, dict) else {}
    return {key: source[key] for key in keys if key in source}


def category(kind: str) -> str:
    return "platform" if kind.startswith("platform.") else kind


def iso(at: float | None = None) -> str:
    """Lambda's timestamps: UTC, milliseconds, `Z`."""
    now = time.time() if at is None else at
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class Subscriber:
    """One extension's subscription: its buffer, and the task that delivers it in batches."""

    def __init__(self, telemetry: Telemetry, name: str, api: Api, request: Request) -> None:
        self.telemetry = telemetry
        self.name = name
        self.api = api
        self.request = request
        self._buffer: list[bytes] = []  # each event's JSON
        self._bytes = 0
        self._first_at = 0.0  # monotonic time the oldest buffered event came
        self._changed = asyncio.Event()
        self._flushing = False
        self._idle = asyncio.Event()  # nothing buffered, nothing in flight
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def offer(self, event: Event) -> None:
        if category(event.type) not in self.request.types:
            return
        rendered = render_for(self.api, self.request.schema_version, event)
        if not rendered:
            return
        if not self._buffer:
            self._first_at = time.monotonic()
        for item in rendered:
            data = json.dumps(item).encode()
            self._buffer.append(data)
            self._bytes += len(data)
        if self._idle.is_set():
            self._idle.clear()
            self.telemetry.busy(self)
        self._changed.set()

    async def flush(self) -> None:
        """Send what is buffered now, and wait until it has been delivered (or dropped)."""
        if self._idle.is_set():
            return
        self._flushing = True
        self._changed.set()
        await self._idle.wait()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._idle.set()
        self.telemetry.idle(self)

    def _full(self) -> bool:
        request = self.request
        return len(self._buffer) >= request.max_items or self._bytes >= request.max_bytes

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            if not self._buffer:
                continue
            if not (self._flushing or self._full()):
                wait = self._first_at + self.request.timeout_ms / 1000 - time.monotonic()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            while not (self._flushing or self._full()):
                                await self._changed.wait()
                                self._changed.clear()
            batch = self._take()
            await self._deliver(batch)
            if self._buffer:
                self._changed.set()
            else:
                self._flushing = False
                self._idle.set()
                self.telemetry.idle(self)

    def _take(self) -> list[bytes]:
        """The oldest events up to maxItems and (but for a single larger one) maxBytes."""
        count = size = 0
        for data in self._buffer[: self.request.max_items]:
            if count and size + len(data) > self.request.max_bytes:
                break
            count += 1
            size += len(data)
        batch, self._buffer = self._buffer[:count], self._buffer[count:]
        self._bytes -= size
        if self._buffer:
            self._first_at = time.monotonic()
        return batch

    async def _deliver(self, batch: list[bytes]) -> None:
        """POST (or write) the batch, retrying with backoff as Lambda does; dropped at last."""
        delay = 0.05
        for _ in range(RETRIES):
            try:
                if self.request.protocol == "TCP":
                    await self.telemetry.write_tcp(self.request.port, b"\n".join(batch) + b"\n")
                    return
                status = await self.telemetry.post(
                    self.request.port, self.request.path, b"[" + b",".join(batch) + b"]"
                )
                if status < 300:
                    return
            except (OSError, aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
        logger.debug("%s: dropped %d telemetry events it could not take", self.name, len(batch))


class Telemetry:
    """The telemetry of one instance: what is produced, and who subscribed to it."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # where the instance's listeners are reachable from samrun
        self.subscribers: dict[str, Subscriber] = {}  # by extension name
        self.apis: dict[str, Api] = {}  # the API each extension subscribed with: not the other
        self.open = True  # subscriptions are taken during the init phase only
        self._backlog: list[Event] | None = []  # until init ends, for later subscribers
        self._client: aiohttp.ClientSession | None = None
        self._tcp: dict[int, asyncio.StreamWriter] = {}
        self._holds: set[object] = set()  # the instance's freeze holds
        self._released: Callable[[], None] = lambda: None

    def holds_freeze(self, holds: set[object], released: Callable[[], None]) -> None:
        """A subscriber with events to deliver holds its instance's freeze off (its listener
        is inside): it adds itself to `holds`, and calls `released` once it is done."""
        self._holds = holds
        self._released = released

    def busy(self, subscriber: Subscriber) -> None:
        self._holds.add(subscriber)

    def idle(self, subscriber: Subscriber) -> None:
        if subscriber in self._holds:
            self._holds.discard(subscriber)
            self._released()

    @property
    def wanted(self) -> bool:
        """Whether producing events is worth it: someone listens, or still may."""
        return bool(self.subscribers) or self._backlog is not None

    # -- producing ---------------------------------------------------------------------------

    def platform(self, kind: str, record: dict[str, object], at: float | None = None) -> None:
        self.publish(Event(time=iso(at), type=kind, record=record))

    def function_line(self, line: str, structured: bool = False) -> None:
        """A line the function wrote; with LogFormat JSON its JSON object is the record."""
        record: object = line
        if structured and line.startswith("{"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
        self.publish(Event(time=iso(), type="function", record=record, text=line))

    def extension_line(self, line: str) -> None:
        self.publish(Event(time=iso(), type="extension", record=line, text=line))

    def publish(self, event: Event) -> None:
        backlog = self._backlog
        if backlog is not None and len(backlog) < BACKLOG_LIMIT:
            backlog.append(event)
        for subscriber in self.subscribers.values():
            subscriber.offer(event)

    # -- subscribing -------------------------------------------------------------------------

    def subscribe(self, api: Api, extension: Extension, body: bytes) -> Subscriber:
        """Take (or, for an extension subscribed already, replace) a subscription; raises
        SubscriptionError with Lambda's status, type and message."""
        if not self.open:
            message = f"{api.name} API subscription is closed already"
            raise SubscriptionError(403, f"{api.name}.SubscriptionClosed", message)
        other = self.apis.get(extension.name, api)
        if other is not api:
            raise SubscriptionError(
                400,
                "ValidationError",
                f"Cannot subscribe with the {api.name} API: extension {extension.name} has "
                f"subscribed with the {other.name} API",
            )
        request = parse_request(api, body)
        self.apis[extension.name] = api
        old = self.subscribers.pop(extension.name, None)
        if old is not None:  # (idempotent: the last request stands)
            asyncio.get_running_loop().create_task(old.close())
        subscriber = Subscriber(self, extension.name, api, request)
        self.subscribers[extension.name] = subscriber
        for event in self._backlog or ():
            subscriber.offer(event)
        self.platform(
            api.subscribed_event,
            {"name": extension.name, "state": "Subscribed", "types": sorted(request.types)},
        )
        return subscriber

    def init_done(self) -> None:
        """The init phase is over: no more subscriptions, no more backlog."""
        self.open = False
        self._backlog = None

    # -- delivering --------------------------------------------------------------------------

    async def post(self, port: int, path: str, body: bytes) -> int:
        if self._client is None:
            self._client = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2)
            )
        async with self._client.post(
            f"http://{self.host}:{port}{path}",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as response:
            await response.read()
            return response.status

    async def write_tcp(self, port: int, data: bytes) -> None:
        writer = self._tcp.get(port)
        if writer is None or writer.is_closing():
            _, writer = await asyncio.open_connection(self.host, port)
            self._tcp[port] = writer
        try:
            writer.write(data)
            await writer.drain()
        except OSError:
            self._tcp.pop(port, None)
            writer.close()
            raise

    async def flush(self, timeout_s: float = 2.0) -> None:
        """Deliver what is buffered (at shutdown), waiting at most `timeout_s`."""
        if not self.subscribers:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(s.flush() for s in self.subscribers.values()))

    async def close(self) -> None:
        self.init_done()
        subscribers, self.subscribers = list(self.subscribers.values()), {}
        for subscriber in subscribers:
            await subscriber.close()
        for writer in self._tcp.values():
            writer.close()
        self._tcp.clear()
        if self._client is not None:
            await self._client.close()
            self._client = None


# -- the HTTP side, on the instance's Runtime API listener ---------------------------------------


async def subscribe(
    request: web.Request, hub: ExtensionHub, telemetry: Telemetry, api: Api
) -> web.Response:
    """`PUT /2022-07-01/telemetry` or `PUT /2020-08-15/logs` from an extension."""
    extension, problem = identify(request, hub)
    if extension is None:
        return problem
    body = await request.read()
    try:
        telemetry.subscribe(api, extension, body)
    except SubscriptionError as exc:
        return render.error(exc.status, exc.error_type, str(exc))
    return web.Response(status=200, text="OK")


def identify(request: web.Request, hub: ExtensionHub) -> tuple[Extension | None, web.Response]:
    """The registered extension the request comes from, or RAPID's 403 for the header."""
    identifier = request.headers.get(EXTENSION_ID, "")
    if not identifier:
        return None, render.error(
            403,
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        )
    try:
        uuid.UUID(identifier)
    except ValueError:
        return None, render.error(
            403, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
        )
    extension = hub.known(identifier)
    if extension is None:
        return None, render.error(
            403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}"
        )
    return extension, render.accepted()
