"""The Lambda API's resource-based policy operations: AddPermission, RemovePermission,
GetPolicy (botocore's lambda service-2.json shapes). Always available; they matter to
invocations only with --enforce-iam (samrun.iam.resource_policy)."""

from __future__ import annotations

import json

from aiohttp import web

from samrun.api.request import json_body, name_of
from samrun.iam.resource_policy import ResourcePolicies
from samrun.invoke.resolve import FunctionDirectory

POLICY = "/2015-03-31/functions/{name}/policy"


def add_routes(
    app: web.Application, policies: ResourcePolicies, directory: FunctionDirectory
) -> None:
    async def add_permission(request: web.Request) -> web.Response:
        function = directory.named(name_of(request))
        qualifier = request.query.get("Qualifier")
        found = policies.add(function.name, await json_body(request), qualifier)
        return web.json_response({"Statement": json.dumps(found)}, status=201)

    async def remove_permission(request: web.Request) -> web.Response:
        function = directory.named(name_of(request))
        policies.remove(function.name, request.match_info["sid"])
        return web.Response(status=204)

    async def get_policy(request: web.Request) -> web.Response:
        function = directory.named(name_of(request))
        return web.json_response(policies.policy(function.name))

    app.router.add_post(POLICY, add_permission)
    app.router.add_get(POLICY, get_policy)
    app.router.add_delete(POLICY + "/{sid}", remove_permission)
