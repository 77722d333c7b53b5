"""Concurrency over the Lambda API: reserved concurrency, account settings, provisioned
concurrency configs; and samrun's own deploy endpoint that rehearses a DeploymentPreference."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from samrun.api.request import json_body, list_window, name_of, whole_number
from samrun.errors import InvalidParameterValue
from samrun.invoke.control import Control

RESERVED = "/2017-10-31/functions/{name}/concurrency"
RESERVED_GET = "/2019-09-30/functions/{name}/concurrency"
PROVISIONED = "/2019-09-30/functions/{name}/provisioned-concurrency"


def add_routes(app: web.Application, control: Control) -> None:
    gate, directory, provisioned = control.gate, control.directory, control.provisioned

    async def put_reserved(request: web.Request) -> web.Response:
        function = directory.named(name_of(request))
        count = whole_number(await json_body(request), "ReservedConcurrentExecutions")
        gate.set_reserved(function.name, count)
        return web.json_response({"ReservedConcurrentExecutions": count})

    async def get_reserved(request: web.Request) -> web.Response:
        function = directory.named(name_of(request))
        count = gate.reserved.get(function.name)
        return web.json_response({} if count is None else {"ReservedConcurrentExecutions": count})

    async def delete_reserved(request: web.Request) -> web.Response:
        gate.set_reserved(directory.named(name_of(request)).name, None)
        return web.Response(status=204)

    async def account_settings(request: web.Request) -> web.Response:
        limits: dict[str, Any] = {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": gate.account_limit,
            "UnreservedConcurrentExecutions": gate.unreserved_limit,
        }
        usage = {"TotalCodeSize": 0, "FunctionCount": len(directory.graph.functions)}
        return web.json_response({"AccountLimit": limits, "AccountUsage": usage})

    async def put_provisioned(request: web.Request) -> web.Response:
        count = whole_number(await json_body(request), "ProvisionedConcurrentExecutions")
        config = provisioned.put(name_of(request), request.query.get("Qualifier"), count)
        return web.json_response(config.shape(), status=202)

    async def get_provisioned(request: web.Request) -> web.Response:
        if request.query.get("List") == "ALL":
            function = directory.named(name_of(request))
            configs = [
                {"FunctionArn": directory.arn(name, qualifier), **config.shape()}
                for (name, qualifier), config in provisioned.configs.items()
                if name == function.name
            ]
            start, size = list_window(request, 50, 50)  # MaxItems 1..50, a Marker we gave out
            body: dict[str, Any] = {"ProvisionedConcurrencyConfigs": configs[start : start + size]}
            if start + size < len(configs):
                body["NextMarker"] = str(start + size)
            return web.json_response(body)
        config = provisioned.get(name_of(request), request.query.get("Qualifier"))
        return web.json_response(config.shape())

    async def delete_provisioned(request: web.Request) -> web.Response:
        await provisioned.delete(name_of(request), request.query.get("Qualifier"))
        return web.Response(status=204)

    async def deploy(request: web.Request) -> web.Response:
        """samrun's own: publish $LATEST and shift the AutoPublishAlias to it, as a deploy would."""
        function = directory.named(name_of(request))
        if not function.auto_publish_alias:
            raise InvalidParameterValue(f"{function.name} has no AutoPublishAlias")
        version = await control.versions.publish(function.name)
        status = await control.deployer.deploy(
            function.name,
            function.auto_publish_alias,
            version.version,
            function.deployment_preference,
        )
        return web.json_response({"Version": version.version, "Status": status})

    app.router.add_put(RESERVED, put_reserved)
    app.router.add_delete(RESERVED, delete_reserved)
    app.router.add_get(RESERVED_GET, get_reserved)
    app.router.add_get("/2016-08-19/account-settings", account_settings)
    app.router.add_get("/2016-08-19/account-settings/", account_settings)
    app.router.add_put(PROVISIONED, put_provisioned)
    app.router.add_get(PROVISIONED, get_provisioned)
    app.router.add_delete(PROVISIONED, delete_provisioned)
    app.router.add_post("/_samrun/functions/{name}/deploy", deploy)
