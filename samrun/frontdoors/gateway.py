"""One API Gateway request, start to end: route, CORS, authorizer, event, invoke, response.

Every answer API Gateway itself gives (no route, throttled, timed out, malformed response) is
rendered here with AWS's exact status and body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from samrun.errors import LambdaApiError, RequestTooLarge, TooManyRequests
from samrun.frontdoors import authorizers, cors
from samrun.frontdoors.authorizers import AuthorizerCache, Decision
from samrun.frontdoors.http_v2 import build_event_v2, parse_response_v2
from samrun.frontdoors.integration import IntegrationTimeout, call
from samrun.frontdoors.messages import HttpRequest, HttpResponse, json_response
from samrun.frontdoors.rest_v1 import MalformedResponse, api_id, build_event_v1, parse_response_v1
from samrun.frontdoors.routes import RouteMatch, RouteTable
from samrun.frontdoors.start_execution import Starter, start_execution
from samrun.invoke.invoker import Invoker
from samrun.model import RouteKind

logger = logging.getLogger(__name__)

REST_MISSING = json_response(403, '{"message":"Missing Authentication Token"}')
HTTP_NOT_FOUND = json_response(404, '{"message":"Not Found"}')
BAD_GATEWAY = json_response(502, '{"message": "Internal server error"}')
TIMEOUT = json_response(504, '{"message": "Endpoint request timed out"}')
THROTTLED = json_response(429, '{"message":"Too Many Requests"}')
TOO_LARGE = json_response(413, '{"message":"Request Too Long"}')
INTERNAL = json_response(500, '{"message": "Internal server error"}')


class Gateway:
    """The REST and HTTP APIs of one app, served on one port."""

    # --enforce-iam: why API Gateway may not invoke a function (its missing permission), or None
    permitted: Callable[[str, str | None], str | None] | None = None

    def __init__(
        self,
        table: RouteTable,
        invoker: Invoker,
        *,
        region: str,
        account_id: str,
        disable_authorizer: bool = False,
    ):
        self.table = table
        self.invoker = invoker
        self.region = region
        self.account_id = account_id
        self.cache = AuthorizerCache()
        self.disable_authorizer = disable_authorizer  # --disable-authorizer: every route passes
        self.starter: Starter | None = None  # StartExecution on the AWS endpoint (state machines)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        match = self.table.match(request.method, request.raw_path)
        if match is None:
            return self._miss(request)
        if match.preflight is not None:  # REST: SAM's OPTIONS mock, which beats the path's ANY
            return cors.rest_preflight(match.preflight)
        cors_config = match.route.details.get("cors") or {}
        if match.route.kind is RouteKind.HTTP and cors_config and cors.is_preflight(request):
            return cors.preflight(cors_config, request)
        decision = await self._authorize(request, match)
        if decision.denied is not None:
            return decision.denied
        response = await self._integrate(request, match, decision.context)
        if match.route.kind is RouteKind.HTTP and cors_config:
            response = cors.decorate(cors_config, request, response)
        return response

    def _miss(self, request: HttpRequest) -> HttpResponse:
        kind = self.table.miss_kind(request.raw_path)
        if request.method == "OPTIONS":  # (a REST API's OPTIONS mocks are routes: matched)
            http_cors = next(
                (
                    r.details["cors"]
                    for r in self.table.routes
                    if r.kind is RouteKind.HTTP and r.details.get("cors")
                ),
                None,
            )
            if http_cors and cors.is_preflight(request):
                return cors.preflight(http_cors, request)
        return REST_MISSING if kind is RouteKind.REST else HTTP_NOT_FOUND

    async def _integrate(
        self, request: HttpRequest, match: RouteMatch, authorizer: dict[str, Any] | None
    ) -> HttpResponse:
        route = match.route
        if route.state_machine:
            ids = {"account_id": self.account_id, "api_id": api_id(route.api)}
            return await start_execution(request, match, self.starter, **ids)
        v2 = route.payload_format == "2.0"
        build = build_event_v2 if v2 else build_event_v1
        event = build(
            request, match, account_id=self.account_id, region=self.region, authorizer=authorizer
        )
        header = request.header("X-Amzn-Trace-Id")
        segment = None
        if route.details.get("tracing"):  # a REST stage with TracingEnabled: its own segment
            name = f"{api_id(route.api)}/{route.stage}"
            header, segment = self.invoker.tracer.start_segment(
                header, name, "AWS::ApiGateway::Stage"
            )
        if segment is None:
            return await self._invoke(request, match, event, header)
        segment["http"] = {"request": {"method": request.method, "url": request.raw_path}}
        segment["aws"] = {"api_id": api_id(route.api), "stage": route.stage}
        response = await self._invoke(request, match, event, header)
        self.invoker.tracer.end_segment(segment, response.status)
        return response

    def _source_arn(self, request: HttpRequest, match: RouteMatch) -> str:
        """The execute-api ARN API Gateway invokes a route's function from (its aws:SourceArn):
        API/STAGE/METHOD/RESOURCE-PATH, the path as the route declares it ({id}, {proxy+}).
        The API id is the one the template's `Ref` gives, as its permissions name it."""
        route = match.route
        if route.path == "$default":  # an HTTP API's $default route
            resource = "$default"
        else:
            resource = f"{request.method}/{route.path.lstrip('/')}"
        prefix = f"arn:aws:execute-api:{self.region}:{self.account_id}:{route.api}"
        return f"{prefix}/{route.stage}/{resource}"

    async def _invoke(
        self, request: HttpRequest, match: RouteMatch, event: Any, header: str | None
    ) -> HttpResponse:
        route, v2 = match.route, match.route.payload_format == "2.0"
        refused = None
        if self.permitted is not None:  # --enforce-iam
            invoked = route.function + (f":{route.qualifier}" if route.qualifier else "")
            refused = self.permitted(invoked, self._source_arn(request, match))
        if refused:  # API Gateway's answer to "Invalid permissions on Lambda function"
            logger.error("%s %s: %s", request.method, request.raw_path, refused)
            return INTERNAL
        try:
            result = await call(
                self.invoker,
                route.function,
                route.qualifier,
                event,
                route.timeout_ms / 1000,
                header,
            )
        except IntegrationTimeout:
            return TIMEOUT
        except TooManyRequests:
            return THROTTLED
        except RequestTooLarge:
            return TOO_LARGE
        except LambdaApiError as exc:
            logger.error("%s %s: %s", request.method, request.raw_path, exc.message)
            return INTERNAL
        if result.function_error:
            return BAD_GATEWAY
        try:
            if v2:
                return parse_response_v2(result.payload)
            return parse_response_v1(result.payload, strict=route.kind is RouteKind.REST)
        except MalformedResponse as exc:
            logger.error(
                "%s %s: malformed Lambda proxy response: %s", request.method, request.raw_path, exc
            )
            return BAD_GATEWAY

    async def _authorize(self, request: HttpRequest, match: RouteMatch) -> Decision:
        config = match.route.details.get("authorizer")
        if not config or self.disable_authorizer:
            return Decision()
        kind = match.route.kind
        if config.get("type") not in ("token", "request") or not config.get("function"):
            self.cache.warn_once(config.get("name", "?"), config.get("type", "?"))
            return Decision()
        sources = list(config.get("identity_source") or [])
        values = authorizers.identity_values(sources, request, match)
        if values is None:
            return Decision(denied=authorizers.UNAUTHORIZED)
        arn = authorizers.method_arn(
            match, request.method, self.region, self.account_id, api_id(match.route.api)
        )
        key = (match.route.api, config["name"], *values)
        answer = self.cache.get(key) if sources else None
        if answer is None:
            answer = await self._run_authorizer(config, request, match, arn, values)
            if answer is None:
                return Decision(
                    denied=authorizers.HTTP_ERROR
                    if kind is RouteKind.HTTP
                    else authorizers.REST_ERROR
                )
            if sources:
                self.cache.put(key, int(config.get("ttl_s", 0)), answer)
        if answer == "Unauthorized":
            return Decision(denied=authorizers.UNAUTHORIZED)
        return authorizers.decide(config, answer, arn, kind)

    async def _run_authorizer(
        self,
        config: dict[str, Any],
        request: HttpRequest,
        match: RouteMatch,
        arn: str,
        values: list[str],
    ) -> Any:
        if config["type"] == "token":
            event: dict[str, Any] = {
                "type": "TOKEN",
                "authorizationToken": values[0],
                "methodArn": arn,
            }
        elif config.get("payload_format") == "2.0":
            event = build_event_v2(request, match, account_id=self.account_id, region=self.region)
            event.pop("body", None)
            event.pop("isBase64Encoded", None)
            event.update(type="REQUEST", routeArn=arn, identitySource=values)
        else:
            event = build_event_v1(request, match, account_id=self.account_id, region=self.region)
            event.pop("body", None)
            event.pop("isBase64Encoded", None)
            event.update(type="REQUEST", methodArn=arn)
            if kind_is_http(match):
                event.update(version="1.0", identitySource=",".join(values))
        try:
            result = await call(
                self.invoker, config["function"], config.get("qualifier"), event, 10.0
            )
        except (IntegrationTimeout, LambdaApiError) as exc:
            logger.error("authorizer %s failed: %s", config["name"], exc)
            return None
        return authorizers.parse_answer(result.payload, result.function_error)


def kind_is_http(match: RouteMatch) -> bool:
    return match.route.kind is not RouteKind.REST
