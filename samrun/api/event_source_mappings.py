"""Event source mappings over the Lambda API: Create / Get / List / Update / Delete, as boto3
calls them (rest-json under /2015-03-31/event-source-mappings/).

HTTP only: the mappings themselves are the running pollers', reached through the narrow
`MappingRegistry` protocol the orchestrator hands in (samrun.sources.mapping_api implements it),
so this package does not import the sources package.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from samrun.api.request import json_body
from samrun.errors import InvalidParameterValue

PATH = "/2015-03-31/event-source-mappings"
LIST_PAGE = 100


class MappingRegistry(Protocol):
    def list(self, function: str | None, source: str | None) -> list[dict[str, Any]]: ...
    def describe(self, key: str) -> dict[str, Any]: ...
    async def create(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def update(self, key: str, body: dict[str, Any]) -> dict[str, Any]: ...
    async def delete(self, key: str) -> dict[str, Any]: ...


def add_routes(app: web.Application, registry: MappingRegistry) -> None:
    api = EventSourceMappings(registry)
    app.router.add_post(PATH + "/", api.create)
    app.router.add_post(PATH, api.create)
    app.router.add_get(PATH + "/", api.list_mappings)
    app.router.add_get(PATH, api.list_mappings)
    app.router.add_get(PATH + "/{uuid}", api.get)
    app.router.add_put(PATH + "/{uuid}", api.update)
    app.router.add_delete(PATH + "/{uuid}", api.delete)


class EventSourceMappings:
    def __init__(self, registry: MappingRegistry) -> None:
        self.registry = registry

    async def create(self, request: web.Request) -> web.Response:
        return web.json_response(await self.registry.create(await json_body(request)), status=202)

    async def get(self, request: web.Request) -> web.Response:
        return web.json_response(self.registry.describe(request.match_info["uuid"]))

    async def update(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        shape = await self.registry.update(request.match_info["uuid"], body)
        return web.json_response(shape, status=202)

    async def delete(self, request: web.Request) -> web.Response:
        return web.json_response(await self.registry.delete(request.match_info["uuid"]), status=202)

    async def list_mappings(self, request: web.Request) -> web.Response:
        found = self.registry.list(
            request.query.get("FunctionName"), request.query.get("EventSourceArn")
        )
        try:
            start = int(request.query.get("Marker", "0"))
            size = min(int(request.query.get("MaxItems", str(LIST_PAGE))), LIST_PAGE)
        except ValueError:
            raise InvalidParameterValue("Marker and MaxItems must be numbers") from None
        body: dict[str, Any] = {"EventSourceMappings": found[start : start + size]}
        if start + size < len(found):
            body["NextMarker"] = str(start + size)
        return web.json_response(body)
