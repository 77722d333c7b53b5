"""The durable operations of the Lambda API (2025-12-01 paths), as boto3 sends them: the SDK's
CheckpointDurableExecution and GetDurableExecutionState, and the client operations."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from samrun.durable.engine import STATUSES
from samrun.durable.service import DurableService, expected_timeout, page
from samrun.errors import InvalidParameterValue, InvalidRequestContent

PREFIX = "/2025-12-01/durable-executions"
CALLBACKS = "/2025-12-01/durable-execution-callbacks"
PAYLOAD_KEYS = ("Input", "Result", "Error", "Reason")


def add_routes(app: web.Application, service: DurableService) -> None:
    routes = Routes(service)
    app.router.add_post(PREFIX + "/{arn:.+}/checkpoint", routes.checkpoint)
    app.router.add_get(PREFIX + "/{arn:.+}/state", routes.state)
    app.router.add_get(PREFIX + "/{arn:.+}/history", routes.history)
    app.router.add_post(PREFIX + "/{arn:.+}/stop", routes.stop)
    app.router.add_post(PREFIX + "/{arn:.+}/pause", routes.pause)
    app.router.add_post(PREFIX + "/{arn:.+}/resume", routes.resume)
    app.router.add_get(PREFIX + "/{arn:.+}", routes.get)
    app.router.add_delete(PREFIX + "/{arn:.+}", routes.delete)
    app.router.add_get("/2025-12-01/functions/{name}/durable-executions", routes.list)
    app.router.add_post(CALLBACKS + "/{id}/succeed", routes.succeed)
    app.router.add_post(CALLBACKS + "/{id}/fail", routes.fail)
    app.router.add_post(CALLBACKS + "/{id}/heartbeat", routes.heartbeat)


async def body_of(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidRequestContent("Could not parse request body into json") from None
    if not isinstance(body, dict):
        raise InvalidRequestContent("The request body must be a JSON object")
    return body


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() == "true"


def count(request: web.Request, default: int) -> int:
    value = request.query.get("MaxItems")
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameterValue(f"MaxItems must be a number: {value}") from None
    if not 0 <= number <= 1000:
        raise InvalidParameterValue("MaxItems must be between 0 and 1000")
    return number or default


def timestamp(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise InvalidParameterValue(f"Invalid timestamp: {value}") from None


def without_data(event: dict[str, Any]) -> dict[str, Any]:
    """An event with its payloads left out (IncludeExecutionData false): `Truncated` instead."""
    out = dict(event)
    for key, value in event.items():
        if key.endswith("Details") and isinstance(value, dict):
            out[key] = {
                k: ({"Truncated": True} if k in PAYLOAD_KEYS and isinstance(v, dict) else v)
                for k, v in value.items()
            }
    return out


class Routes:
    def __init__(self, service: DurableService) -> None:
        self.service = service

    async def checkpoint(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        token = body.get("CheckpointToken")
        if not isinstance(token, str) or not token:
            raise InvalidParameterValue("CheckpointToken is required")
        updates = body.get("Updates") or []
        if not isinstance(updates, list):
            raise InvalidParameterValue("Updates must be a list")
        arn = unquote(request.match_info["arn"])
        answer = self.service.checkpoint(arn, token, updates, body.get("ClientToken"))
        return web.json_response(answer)

    async def state(self, request: web.Request) -> web.Response:
        token = request.query.get("CheckpointToken")
        if not token:
            raise InvalidParameterValue("CheckpointToken is required")
        arn = unquote(request.match_info["arn"])
        answer = self.service.state(arn, token, request.query.get("Marker"), count(request, 1000))
        return web.json_response(answer)

    async def history(self, request: web.Request) -> web.Response:
        record = self.service.get(unquote(request.match_info["arn"]))
        events = list(record["events"])
        if not flag(request, "IncludeExecutionData"):
            events = [without_data(e) for e in events]
        if flag(request, "ReverseOrder"):
            events.reverse()
        answer = page(events, "Events", request.query.get("Marker"), count(request, 100))
        return web.json_response(answer)

    async def get(self, request: web.Request) -> web.Response:
        record = self.service.get(unquote(request.match_info["arn"]))
        include = flag(request, "IncludeExecutionData")
        body: dict[str, Any] = {
            "DurableExecutionArn": record["arn"],
            "DurableExecutionName": record["name"],
            "FunctionArn": record["function_arn"],
            "StartTimestamp": record["start"],
            "Status": record["status"],
            "Version": record["version"],
            "ExecutionDataIncluded": include,
            "DurableConfig": {
                "ExecutionTimeout": record["timeout_s"],
                "RetentionPeriodInDays": record["retention_days"],
            },
            # scaled by --time-scale, as the timer that ends it is
            "ExpectedExecutionTimeoutTimestamp": expected_timeout(record, self.service.scale),
        }
        if include:
            body["InputPayload"] = record["input"]
            if record["result"] is not None:
                body["Result"] = record["result"]
        if record.get("error"):
            body["Error"] = record["error"]
        if record.get("end"):
            body["EndTimestamp"] = record["end"]
        if record.get("pause"):
            pause = record["pause"]
            body["PauseDetails"] = {
                "PauseRequestTimestamp": pause["at"],
                "ExecutionTimeoutPaused": bool(pause.get("timeout_paused")),
                **({"Reason": pause["reason"]} if pause.get("reason") else {}),
            }
        return web.json_response(body)

    async def list(self, request: web.Request) -> web.Response:
        service = self.service
        directory = service.invoker.directory
        name = unquote(request.match_info["name"])
        function = directory.resolve(name).function  # ResourceNotFound for an unknown one
        qualifier = request.query.get("Qualifier")
        if qualifier is not None and qualifier != "$LATEST":
            qualifier = directory.resolve(name, qualifier).version
        statuses = set(request.query.getall("Statuses", []))
        unknown = sorted(statuses - set(STATUSES))
        if unknown:  # an unknown one would match nothing: a typo listed as "no executions"
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{unknown[0][:40]}' at 'statuses' failed "
                "to satisfy constraint: Member must satisfy enum value set: "
                f"[{', '.join(STATUSES)}]"
            )
        wanted = request.query.get("DurableExecutionName")
        after = timestamp(request.query.get("StartedAfter"))
        before = timestamp(request.query.get("StartedBefore"))
        service.purge()
        found = []
        for record in service.records.values():
            if record["function"] != function.name:
                continue
            if qualifier is not None and record["version"] != qualifier:
                continue
            if statuses and record["status"] not in statuses:
                continue
            if wanted and record["name"] != wanted:
                continue
            if after is not None and record["start"] <= after:
                continue
            if before is not None and record["start"] >= before:
                continue
            item = {
                "DurableExecutionArn": record["arn"],
                "DurableExecutionName": record["name"],
                "FunctionArn": record["function_arn"],
                "Status": record["status"],
                "StartTimestamp": record["start"],
            }
            if record.get("end"):
                item["EndTimestamp"] = record["end"]
            found.append(item)
        found.sort(key=lambda i: i["StartTimestamp"], reverse=flag(request, "ReverseOrder"))
        answer = page(found, "DurableExecutions", request.query.get("Marker"), count(request, 50))
        return web.json_response(answer)

    async def stop(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        # StopDurableExecution's body is the ErrorObject itself (its `payload` member)
        when = self.service.stop_execution(unquote(request.match_info["arn"]), body or None)
        return web.json_response({"StopTimestamp": when})

    async def pause(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        arn = unquote(request.match_info["arn"])
        self.service.pause(arn, body.get("Reason"), bool(body.get("ExecutionTimeoutPaused")))
        return web.json_response({}, status=202)

    async def resume(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        self.service.resume(unquote(request.match_info["arn"]), body.get("Reason"))
        return web.json_response({}, status=202)

    async def delete(self, request: web.Request) -> web.Response:
        when = self.service.delete(unquote(request.match_info["arn"]))
        return web.json_response({"DeletionRequestTimestamp": when}, status=202)

    async def succeed(self, request: web.Request) -> web.Response:
        raw = await request.read()  # the Result blob, as it is
        self.service.callback(
            unquote(request.match_info["id"]), "SUCCEEDED", raw.decode("utf-8", "replace"), None
        )
        return web.json_response({})

    async def fail(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        # the body is the ErrorObject itself (the request's `payload` member)
        self.service.callback(unquote(request.match_info["id"]), "FAILED", None, body)
        return web.json_response({})

    async def heartbeat(self, request: web.Request) -> web.Response:
        self.service.heartbeat(unquote(request.match_info["id"]))
        return web.json_response({})
