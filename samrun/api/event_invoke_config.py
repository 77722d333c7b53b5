"""EventInvokeConfig over the Lambda API: Put / Update / Get / Delete / List, as boto3 calls them.

The configs live in `FunctionDirectory.invoke_configs`, keyed by (function, qualifier): the
template's seed them, these calls change them, and the async queue reads them on every attempt.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from aiohttp import web

from samrun.api.request import json_body, list_window, name_of
from samrun.errors import InvalidParameterValue, ResourceNotFound
from samrun.invoke.resolve import FunctionDirectory
from samrun.model import LATEST, Destination, InvokeConfig

PATH = "/2019-09-25/functions/{name}/event-invoke-config"
LIST_PAGE = 50
DESTINATION_TYPES = {"sqs": "sqs", "sns": "sns", "lambda": "lambda", "events": "eventbridge"}
DESTINATION_TYPES["s3"] = "s3"


def add_routes(app: web.Application, directory: FunctionDirectory) -> None:
    api = EventInvokeConfigs(directory)
    app.router.add_put(PATH, api.put)
    app.router.add_post(PATH, api.update)
    app.router.add_get(PATH, api.get)
    app.router.add_delete(PATH, api.delete)
    app.router.add_get(PATH + "/list", api.list_configs)


class EventInvokeConfigs:
    def __init__(self, directory: FunctionDirectory) -> None:
        self.directory = directory
        self.modified: dict[tuple[str, str], float] = {}

    def key_of(self, request: web.Request) -> tuple[str, str]:
        name, qualifier = name_of(request), request.query.get("Qualifier")
        target = self.directory.resolve(name, qualifier)  # ResourceNotFound: unknown qualifier
        return target.function.name, target.qualifier or LATEST

    def shape(self, key: tuple[str, str], config: InvokeConfig) -> dict[str, Any]:
        body: dict[str, Any] = {
            "LastModified": self.modified.get(key, 0.0),
            "FunctionArn": self.directory.arn(*key),
            "DestinationConfig": {
                "OnSuccess": _destination_shape(config.on_success),
                "OnFailure": _destination_shape(config.on_failure),
            },
        }
        if config.maximum_retry_attempts is not None:
            body["MaximumRetryAttempts"] = config.maximum_retry_attempts
        if config.maximum_event_age_s is not None:
            body["MaximumEventAgeInSeconds"] = config.maximum_event_age_s
        return body

    def existing(self, key: tuple[str, str]) -> InvokeConfig:
        config = self.directory.invoke_configs.get(key)
        if config is None:
            arn = self.directory.arn(*key)
            raise ResourceNotFound(f"The function {arn} doesn't have an EventInvokeConfig")
        return config

    async def put(self, request: web.Request) -> web.Response:
        """Put replaces the whole config; Update (POST) changes the fields it names."""
        key = self.key_of(request)
        base = self.existing(key) if request.method == "POST" else InvokeConfig()
        config = _apply(base, await json_body(request), key[1])
        self.directory.invoke_configs[key] = config
        self.modified[key] = time.time()
        return web.json_response(self.shape(key, config))

    update = put

    async def get(self, request: web.Request) -> web.Response:
        key = self.key_of(request)
        return web.json_response(self.shape(key, self.existing(key)))

    async def delete(self, request: web.Request) -> web.Response:
        key = self.key_of(request)
        self.existing(key)
        del self.directory.invoke_configs[key]
        self.modified.pop(key, None)
        return web.Response(status=204)

    async def list_configs(self, request: web.Request) -> web.Response:
        function = self.directory.named(name_of(request))
        start, size = list_window(request, 50, LIST_PAGE)
        configs = self.directory.invoke_configs
        keys = sorted(k for k in configs if k[0] == function.name)
        page = [self.shape(k, configs[k]) for k in keys[start : start + size]]
        body: dict[str, Any] = {"FunctionEventInvokeConfigs": page}
        if start + size < len(keys):
            body["NextMarker"] = str(start + size)
        return web.json_response(body)


def _apply(base: InvokeConfig, body: dict[str, Any], qualifier: str) -> InvokeConfig:
    """`base` with the body's fields: Put starts from nothing, Update from what exists."""
    config = replace(base, qualifier=qualifier)
    if "MaximumRetryAttempts" in body:
        retries = _bounded(body, "MaximumRetryAttempts", 0, 2)
        config = replace(config, maximum_retry_attempts=retries)
    if "MaximumEventAgeInSeconds" in body:
        age = _bounded(body, "MaximumEventAgeInSeconds", 60, 21600)
        config = replace(config, maximum_event_age_s=age)
    destinations = body.get("DestinationConfig")
    if destinations is not None:
        if not isinstance(destinations, dict):
            raise InvalidParameterValue("DestinationConfig must be an object")
        if "OnSuccess" in destinations:
            config = replace(config, on_success=_destination(destinations["OnSuccess"]))
        if "OnFailure" in destinations:
            config = replace(config, on_failure=_destination(destinations["OnFailure"]))
    return config


def _bounded(body: dict[str, Any], key: str, low: int, high: int) -> int:
    value = body[key]
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{key[0].lower() + key[1:]}' "
            f"failed to satisfy constraint: Member must have value between {low} and {high}"
        )
    return value


def _destination(value: Any) -> Destination | None:
    arn = value.get("Destination") if isinstance(value, dict) else None
    if not arn:
        return None
    parts = str(arn).split(":")
    kind = DESTINATION_TYPES.get(parts[2]) if len(parts) > 5 and parts[0] == "arn" else None
    if kind is None:
        raise InvalidParameterValue(
            f"The destination ARN {arn} is invalid: use an SQS queue, an SNS topic, "
            "a Lambda function or an EventBridge event bus"
        )
    return Destination(type=kind, arn=str(arn))


def _destination_shape(destination: Destination | None) -> dict[str, str]:
    return {"Destination": destination.arn} if destination else {}
