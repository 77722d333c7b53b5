"""samrun's own `POST /_samrun/triggers/{name}`: fire a schedule, or send a sample event to a
trigger, in the running app (what `samrun trigger --url` calls)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp import web

from samrun.errors import SamrunError

PATH = "/_samrun/triggers/{name}"


def add_routes(app: web.Application, fire: Callable[[str], Awaitable[str]]) -> None:
    async def fire_trigger(request: web.Request) -> web.Response:
        name = unquote(request.match_info["name"])
        try:
            function = await fire(name)
        except SamrunError as exc:
            return web.json_response({"message": str(exc)}, status=404)
        return web.json_response({"trigger": name, "function": function}, status=202)

    app.router.add_post(PATH, fire_trigger)
