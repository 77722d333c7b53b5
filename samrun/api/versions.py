"""Versions and aliases over the Lambda API: PublishVersion, ListVersionsByFunction,
Create/Get/Update/Delete/ListAlias."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aiohttp import web

from samrun.api.request import json_body, name_of, optional_text
from samrun.api.shapes import function_configuration
from samrun.invoke.control import Control
from samrun.model import LATEST, Alias

FUNCTIONS = "/2015-03-31/functions/{name}"


def alias_shape(control: Control, alias: Alias) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "AliasArn": control.directory.arn(alias.function, alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.version,
        "Description": alias.description,
        "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, repr(alias))),
    }
    if alias.additional_version_weights:
        shape["RoutingConfig"] = {
            "AdditionalVersionWeights": dict(alias.additional_version_weights)
        }
    return shape


def weights_of(body: dict[str, Any]) -> dict[str, float] | None:
    routing = body.get("RoutingConfig")
    if routing is None:
        return None
    return {str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()}


def add_routes(app: web.Application, control: Control) -> None:
    directory, aliases = control.directory, control.aliases

    async def publish_version(request: web.Request) -> web.Response:
        body = await json_body(request)
        version = await control.versions.publish(
            name_of(request),
            optional_text(body, "Description") or "",
            optional_text(body, "CodeSha256"),
        )
        function = directory.named(name_of(request))
        shape = await asyncio.to_thread(
            function_configuration, directory.graph, function, version.version, version.config
        )
        shape["Description"] = version.description
        return web.json_response(shape, status=201)

    async def list_versions(request: web.Request) -> web.Response:
        function = directory.named(name_of(request))
        pairs = [(LATEST, function.config)] + [
            (v.version, v.config) for v in control.versions.published(function.name)
        ]
        shapes = await asyncio.to_thread(
            lambda: [function_configuration(directory.graph, function, n, c) for n, c in pairs]
        )
        return web.json_response({"Versions": shapes})

    async def create_alias(request: web.Request) -> web.Response:
        body = await json_body(request)
        alias = aliases.create(
            name_of(request),
            str(body.get("Name", "")),
            str(body.get("FunctionVersion", "")),
            weights_of(body),
            optional_text(body, "Description") or "",
        )
        return web.json_response(alias_shape(control, alias), status=201)

    async def get_alias(request: web.Request) -> web.Response:
        alias = aliases.get(name_of(request), request.match_info["alias"])
        return web.json_response(alias_shape(control, alias))

    async def update_alias(request: web.Request) -> web.Response:
        body = await json_body(request)
        alias = aliases.update(
            name_of(request),
            request.match_info["alias"],
            optional_text(body, "FunctionVersion"),
            weights_of(body),
            optional_text(body, "Description"),
        )
        return web.json_response(alias_shape(control, alias))

    async def delete_alias(request: web.Request) -> web.Response:
        aliases.delete(name_of(request), request.match_info["alias"])
        return web.Response(status=204)

    async def list_aliases(request: web.Request) -> web.Response:
        wanted = request.query.get("FunctionVersion")
        found = [a for a in aliases.list(name_of(request)) if wanted in (None, a.version)]
        return web.json_response({"Aliases": [alias_shape(control, a) for a in found]})

    app.router.add_post(FUNCTIONS + "/versions", publish_version)
    app.router.add_get(FUNCTIONS + "/versions", list_versions)
    app.router.add_post(FUNCTIONS + "/aliases", create_alias)
    app.router.add_get(FUNCTIONS + "/aliases", list_aliases)
    app.router.add_get(FUNCTIONS + "/aliases/{alias}", get_alias)
    app.router.add_put(FUNCTIONS + "/aliases/{alias}", update_alias)
    app.router.add_delete(FUNCTIONS + "/aliases/{alias}", delete_alias)
