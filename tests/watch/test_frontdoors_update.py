"""FrontDoors.update in-process: route tables, function URLs and ALB listeners swapped in place,
ports unchanged, with a fake invoker at the seam (it answers with the function's name)."""

from __future__ import annotations

import json

import aiohttp

from samrun.frontdoors.server import FrontDoors
from samrun.invoke.models import InvokeRequest, InvokeResult
from samrun.model import AppGraph, Listener, Route, RouteKind, TargetGroup
from tests.watch.test_reload_parts import function


class NamingInvoker:
    debugged: frozenset[str] = frozenset()  # no function under a debugger

    async def invoke(self, request: InvokeRequest) -> InvokeResult:
        body = json.dumps({"statusCode": 200, "body": request.function})
        return InvokeResult(request_id="r", payload=body.encode(), executed_version="$LATEST")


def route(path: str, fn: str, kind: RouteKind = RouteKind.HTTP) -> Route:
    return Route(api="Api", kind=kind, method="GET", path=path, function=fn, payload_format="2.0")


def alb(fn: str, port: int = 0) -> TargetGroup:
    forward = {"Type": "forward", "TargetGroupArn": f"arn:tg:{fn}"}
    listener = Listener(logical_id="L", port=port, default_actions=(forward,))
    return TargetGroup(logical_id="TG", function=fn, arn=f"arn:tg:{fn}", listeners=(listener,))


def graph(routes: tuple[Route, ...], groups: tuple[TargetGroup, ...] = ()) -> AppGraph:
    functions = (function("A"), function("B"))
    return AppGraph(template_path="t", functions=functions, routes=routes, target_groups=groups)


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def test_update_swaps_routes_urls_and_alb_rules_in_place() -> None:
    doors = FrontDoors(
        graph((route("/a", "A"), route("$default", "A", RouteKind.FUNCTION_URL)), (alb("A"),)),
        NamingInvoker(),  # type: ignore[arg-type]
        host="127.0.0.1",
        port=0,
    )
    await doors.start()
    try:
        api = doors.url(next(d for d in doors.doors if d.name == "API"))
        url_a = doors.url(doors.urls["A"])
        listener = doors.url(doors.listeners[0][1])
        async with aiohttp.ClientSession() as session:
            assert await fetch(session, f"{api}/a") == (200, "A")
            assert await fetch(session, f"{url_a}/") == (200, "A")
            assert await fetch(session, f"{listener}/") == (200, "A")
            lines = await doors.update(
                graph(
                    (route("/b", "B"), route("$default", "B", RouteKind.FUNCTION_URL)), (alb("B"),)
                )
            )
            assert lines == [f"function URL of B on {doors.url(doors.urls['B'])}"]
            assert (await fetch(session, f"{api}/a"))[0] == 404
            assert await fetch(session, f"{api}/b") == (200, "B")
            assert (await fetch(session, f"{url_a}/"))[0] == 404  # its URL was removed
            assert await fetch(session, f"{doors.url(doors.urls['B'])}/") == (200, "B")
            assert await fetch(session, f"{listener}/") == (200, "B")  # same port, new rule
            assert [row[2] for row in doors.rows()] == ["B", "B", "B"]
    finally:
        await doors.stop()
