"""The dashboard's HTTP side: the page and its files, a small JSON API, and the live feed.

Served on the Lambda API's listener, behind its Host/Origin guard (samrun.api.guard), so a page
from another origin can neither read it nor invoke through it. The live feed is server-sent
events: each page gets at most one message per `INTERVAL_S`, with the newest rows (feed.py), the
functions that ran (the graph pulses them) and, every STATE_S, the app's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from samrun.dashboard import traces
from samrun.dashboard.feed import Feed, error_of
from samrun.dashboard.graph import function_pages, graph_document
from samrun.dashboard.saved import MAX_BYTES, SavedEventError, SavedEvents
from samrun.errors import LambdaApiError, SamrunError
from samrun.invoke.async_queue import AsyncQueue
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvocationType, InvokeRequest
from samrun.model import AppGraph
from samrun.observe.metrics import MetricStore
from samrun.plan import plan_document

logger = logging.getLogger(__name__)

ROOT = "/_samrun/"
API = "/_samrun/dashboard/api"
STATIC = "/_samrun/dashboard/static"
INTERVAL_S = 0.5  # at most two messages a second to each page
STATE_S = 2.0  # the app's state goes with a message every so often (and keeps it alive)
MAX_CLIENTS = 16  # pages open at once; more are refused (503)
MAX_INVOKE_BODY = 6 * 1024 * 1024
QUEUE_SHOWN = 100


@dataclass(frozen=True, slots=True)
class Sources:
    """What the dashboard reads from the running app (samrun.app wires it)."""

    graph: Callable[[], AppGraph]
    state: Callable[[], dict[str, object]]
    invoker: Invoker
    events: AsyncQueue
    metrics: MetricStore
    fire: Callable[[str], Awaitable[str]]  # a schedule or trigger, now
    state_dir: Path  # the trace store's folder
    queue_depths: Callable[[], dict[str, int]] = dict  # SQS queue logical id -> messages waiting


def static_folder() -> Path:
    return Path(str(resources.files("samrun.dashboard") / "static"))


class Dashboard:
    def __init__(self, sources: Sources, feed: Feed) -> None:
        self.sources = sources
        self.feed = feed
        self.clients = 0
        self.saved = SavedEvents(sources.state_dir)
        self._closed = asyncio.Event()

    def close(self) -> None:
        """Every live feed ends (a stop must not wait for open pages)."""
        self._closed.set()

    def add_routes(self, app: web.Application) -> None:
        router = app.router
        router.add_get("/_samrun", self.redirect)
        router.add_get(ROOT, self.index)
        router.add_static(STATIC, static_folder(), follow_symlinks=False)
        router.add_get(API + "/overview", self.overview)
        router.add_get(API + "/invocations", self.invocations)
        router.add_get(API + "/invocations/{id}", self.invocation)
        router.add_get(API + "/queue", self.queue)
        router.add_post(API + "/queue/{id}/redrive", self.redrive)
        router.add_post(API + "/invoke", self.invoke)
        router.add_post(API + "/fire/{name}", self.fire)
        router.add_get(API + "/samples", self.samples)
        router.add_get(API + "/samples/{source}/{kind}", self.sample)
        router.add_get(API + "/saved", self.saved_names)
        router.add_get(API + "/saved/{name}", self.saved_event)
        router.add_put(API + "/saved/{name}", self.save_event)
        router.add_delete(API + "/saved/{name}", self.delete_event)
        router.add_get(API + "/series", self.series)
        router.add_get(API + "/stats", self.stats)
        router.add_get(API + "/events", self.events)

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(ROOT)

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(
            static_folder() / "index.html", headers={"Cache-Control": "no-cache"}
        )

    async def overview(self, request: web.Request) -> web.Response:
        graph = self.sources.graph()
        plan = plan_document(graph)
        calls = await asyncio.to_thread(traces.recent_sdk_calls, self.sources.state_dir)
        return web.json_response(
            {
                "template": plan["template"],
                "region": plan["region"],
                "graph": graph_document(plan, calls),
                "functions": function_pages(plan, graph.secrets),
                "not_run": plan["not_run"],
                "state": self.sources.state(),
                "seq": self.feed.seq,
            },
            dumps=_dumps,
        )

    async def invocations(self, request: web.Request) -> web.Response:
        function = request.query.get("function") or None
        status = request.query.get("status") or None
        rows = [
            row
            for row in reversed(self.feed.rows)
            if (function is None or row["function"] == function)
            and (status is None or row["status"] == status)
        ]
        return web.json_response({"seq": self.feed.seq, "rows": rows}, dumps=_dumps)

    async def invocation(self, request: web.Request) -> web.Response:
        found = self.feed.detail(request.match_info["id"])
        if found is None:
            return web.json_response({"message": "no such invocation kept"}, status=404)
        found["trace"] = await asyncio.to_thread(
            traces.waterfall, self.sources.state_dir, request.match_info["id"]
        )
        return web.json_response(found, dumps=_dumps)

    async def queue(self, request: web.Request) -> web.Response:
        events = self.sources.events
        now = time.time()
        waiting = [
            {
                "id": e.request_id,
                "function": e.function,
                "qualifier": e.qualifier,
                "attempts": e.attempts,
                "state": "retrying" if e.attempts else "pending",
                "due_in_s": round(max(0.0, e.due_at - now), 1),
                "age_s": round(now - e.enqueued_at, 1),
            }
            for e in events.waiting(QUEUE_SHOWN)
        ]
        return web.json_response(
            {
                "pending": events.pending(),
                "accepted": events.accepted,
                "delivered": events.delivered,
                "waiting": waiting,
                "dead_letters": self.feed.dead_letters(),
            },
            dumps=_dumps,
        )

    async def redrive(self, request: web.Request) -> web.Response:
        """A dead-lettered event, sent again as a new asynchronous invocation of its function."""
        dead = self.feed.dead.get(request.match_info["id"])
        if dead is None:
            return web.json_response({"message": "no such dead-lettered event kept"}, status=404)
        try:
            result = await self.sources.invoker.invoke(
                InvokeRequest(
                    function=dead["function"],
                    qualifier=dead["qualifier"],
                    payload=dead["payload"],
                    invocation_type=InvocationType.EVENT,
                    source="redrive",
                )
            )
        except LambdaApiError as exc:
            return web.json_response({"message": exc.message}, status=exc.status)
        dead["redriven"] = result.request_id
        return web.json_response({"id": dead["id"], "redriven": result.request_id}, status=202)

    async def invoke(self, request: web.Request) -> web.Response:
        """Invoke from the page: {function, qualifier?, event (JSON text)}; the response, the
        error and the log lines come back, as `samrun invoke` prints them."""
        try:
            body = await request.json()
            function = str(body["function"])
            event = str(body.get("event") or "{}")
            json.loads(event)
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"message": "expected {function, qualifier, event} with the event as JSON"},
                status=400,
            )
        qualifier = str(body.get("qualifier") or "") or None
        try:
            result = await self.sources.invoker.invoke(
                InvokeRequest(
                    function=function,
                    qualifier=qualifier,
                    payload=event.encode(),
                    source="dashboard",
                )
            )
        except LambdaApiError as exc:
            return web.json_response({"message": exc.message, "code": exc.code}, status=400)
        answer: dict[str, Any] = {
            "id": result.request_id,
            "version": result.executed_version,
            "duration_ms": round(result.duration_ms, 2),
        }
        if result.function_error:
            answer["error"] = error_of(result.payload)
        else:
            answer["response"] = result.payload.decode("utf-8", "replace")
        found = self.feed.detail(result.request_id)
        answer["logs"] = found.get("logs", []) if found else []
        return web.json_response(answer, dumps=_dumps)

    async def fire(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            function = await self.sources.fire(name)
        except SamrunError as exc:
            return web.json_response({"message": str(exc)}, status=404)
        return web.json_response({"trigger": name, "function": function}, status=202)

    async def samples(self, request: web.Request) -> web.Response:
        from samrun.frontdoors.sample_events import KINDS
        from samrun.sources.samples import GENERATORS

        kinds = {source: list(k) for source, k in KINDS.items()}
        kinds.update({source: list(k) for source, k in GENERATORS.items()})
        return web.json_response(kinds)

    async def sample(self, request: web.Request) -> web.Response:
        from samrun.frontdoors.sample_events import KINDS, http_sample
        from samrun.sources.samples import generate

        source, kind = request.match_info["source"], request.match_info["kind"]
        try:
            event = http_sample(source, kind, {}) if source in KINDS else generate(source, kind, {})
        except ValueError as exc:
            return web.json_response({"message": str(exc)}, status=404)
        return web.json_response(event)

    async def saved_names(self, request: web.Request) -> web.Response:
        return web.json_response({"names": await asyncio.to_thread(self.saved.names)})

    async def saved_event(self, request: web.Request) -> web.Response:
        try:
            event = await asyncio.to_thread(self.saved.load, request.match_info["name"])
        except SavedEventError as exc:
            return web.json_response({"message": str(exc)}, status=400)
        except FileNotFoundError:
            return web.json_response({"message": "no such saved event"}, status=404)
        return web.json_response({"name": request.match_info["name"], "event": event})

    async def save_event(self, request: web.Request) -> web.Response:
        """Save the page's event under a name: {event: JSON text}; the body is size-limited."""
        if (request.content_length or 0) > 2 * MAX_BYTES:
            return web.json_response({"message": "the event is too large to save"}, status=413)
        try:
            body = await request.json()
            event = str(body["event"])
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"message": "expected {event} with the event as JSON"}, status=400
            )
        try:
            await asyncio.to_thread(self.saved.save, request.match_info["name"], event)
        except SavedEventError as exc:
            return web.json_response({"message": str(exc)}, status=400)
        return web.json_response({"name": request.match_info["name"]}, status=201)

    async def delete_event(self, request: web.Request) -> web.Response:
        try:
            found = await asyncio.to_thread(self.saved.delete, request.match_info["name"])
        except SavedEventError as exc:
            return web.json_response({"message": str(exc)}, status=400)
        return web.Response(status=204 if found else 404)

    async def series(self, request: web.Request) -> web.Response:
        """Per second (the feed's), and per metrics period by function (the metric store's)."""
        periods = []
        for period in self.sources.metrics.periods:
            by_function: dict[str, dict[str, float]] = {}
            for (metric, dims), stat in period.datapoints.items():
                if len(dims) == 1 and dims[0][0] == "FunctionName":
                    value = (
                        stat.sum
                        if metric in ("Invocations", "Errors", "Throttles")
                        else (stat.maximum)
                    )
                    by_function.setdefault(dims[0][1], {})[metric] = value
            periods.append({"at": period.start, "functions": by_function})
        return web.json_response({"seconds": self.feed.series(), "periods": periods}, dumps=_dumps)

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({**self.feed.stats(), "clients": self.clients})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The live feed (server-sent events), from `since` (the seq the page has)."""
        if self.clients >= MAX_CLIENTS:
            return web.json_response({"message": "too many dashboard pages open"}, status=503)
        try:
            seq = int(request.query.get("since", self.feed.seq))
        except ValueError:
            seq = self.feed.seq
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        self.clients += 1
        stated, told_at = 0.0, time.time()  # when the state, and the activity, were last sent
        try:
            await response.write(b"retry: 2000\n\n")
            while not self._closed.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(INTERVAL_S):
                        await self._closed.wait()
                rows, skipped = self.feed.since(seq)
                seq = self.feed.seq
                activity = self.feed.activity(told_at)
                told_at = time.time()
                now = time.monotonic()
                with_state = now - stated >= STATE_S
                if not rows and not with_state:
                    continue
                message: dict[str, Any] = {"seq": seq, "rows": rows, "skipped": skipped}
                message["activity"] = activity
                if with_state:
                    message["state"] = self._live_state()
                    stated = now
                await response.write(b"data: " + _dumps(message).encode() + b"\n\n")
                self.feed.messages_sent += 1
                self.feed.rows_sent += len(rows)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.clients -= 1
        return response

    def _live_state(self) -> dict[str, Any]:
        """What the page's live parts need: pools, concurrency, queue depths, sources."""
        state = self.sources.state()
        keep = (
            "pools",
            "concurrency",
            "async",
            "pollers",
            "alarms",
            "cost",
            "triggers",
            "deployments",
        )
        found = {key: state.get(key) for key in keep}
        found["schedules"] = state.get("schedules")
        found["dead_letters"] = len(self.feed.dead)
        found["queues"] = self.sources.queue_depths()
        return found


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
