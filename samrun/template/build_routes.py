"""HTTP routes: API Gateway REST and HTTP APIs (OpenAPI bodies or resources), function URLs.

The SAM transform writes API events into OpenAPI bodies with `x-amazon-apigateway-integration`,
so one reader serves SAM and hand-written OpenAPI alike; APIs declared resource by resource
(ApiGateway::Method, ApiGatewayV2::Route) have their own small readers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from samrun.model import Function, Route, RouteKind
from samrun.template.build_route_details import attach_details, unchecked_authorizers
from samrun.template.build_state_routes import (
    is_start_execution,
    method_integration,
    start_execution,
)
from samrun.template.context import BuildContext, text_or_none
from samrun.template.intrinsics import as_text

_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "any"})
_ANY = "x-amazon-apigateway-any-method"


def _stages(ctx: BuildContext, stage_type: str, api_key: str) -> dict[str, str]:
    stages: dict[str, str] = {}
    for lid, props in ctx.of_type(stage_type):
        api = as_text(ctx.prop(lid, props, api_key, ""))
        stages.setdefault(api, as_text(ctx.prop(lid, props, "StageName", "$default")))
    return stages


def _auth(operation: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    security = operation.get("security", body.get("security"))
    if isinstance(security, list):
        for requirement in security:
            if isinstance(requirement, dict) and requirement:
                return str(next(iter(requirement)))
    return None


def _from_body(
    ctx: BuildContext, api: str, kind: RouteKind, body: Any, stage: str
) -> Iterator[Route]:
    if not isinstance(body, dict):
        return
    default_format = "2.0" if kind is RouteKind.HTTP else "1.0"
    default_timeout = 30000 if kind is RouteKind.HTTP else 29000  # API Gateway's defaults
    for path, item in (body.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for key, operation in item.items():
            method = "ANY" if key == _ANY else key.upper()
            if (key != _ANY and key not in _METHODS) or not isinstance(operation, dict):
                continue
            integration = operation.get("x-amazon-apigateway-integration") or {}
            target = ctx.function_target(integration.get("uri"))
            machine = start_execution(ctx, integration) if is_start_execution(integration) else None
            if machine is not None:
                yield Route(
                    api=api,
                    kind=kind,
                    method=method,
                    path=str(path),
                    function=machine[0],
                    auth=_auth(operation, body),
                    stage=stage,
                    timeout_ms=default_timeout,
                    details={"start_execution": machine[2]},
                    state_machine=machine[1],
                )
                continue
            if target is None:
                if integration and integration.get("type") != "mock":  # mock: CORS preflight
                    ctx.resolver.warnings.append(
                        f"{api}: {method} {path} does not integrate a function of this app"
                    )
                continue
            timeout = integration.get("timeoutInMillis")
            yield Route(
                api=api,
                kind=kind,
                method=method,
                path=str(path),
                function=target[0],
                qualifier=target[1],
                payload_format=as_text(integration.get("payloadFormatVersion", default_format)),
                auth=_auth(operation, body),
                stage=stage,
                timeout_ms=int(as_text(timeout)) if timeout is not None else default_timeout,
                details=_operation(operation.get("operationId")),
            )


def _rest_resource_paths(ctx: BuildContext) -> dict[str, str]:
    """ApiGateway::Resource logical id (and each API's root id) -> full path."""
    parents: dict[str, tuple[str, str]] = {}
    for lid, props in ctx.of_type("AWS::ApiGateway::Resource"):
        parent = as_text(ctx.prop(lid, props, "ParentId", ""))
        parents[lid] = (parent, as_text(ctx.prop(lid, props, "PathPart", "")))

    def path_of(resource_id: str, depth: int = 0) -> str:
        if resource_id not in parents or depth > 64:
            return ""
        parent, part = parents[resource_id]
        return f"{path_of(parent, depth + 1)}/{part}"

    return {lid: path_of(lid) for lid in parents}


def _rest_methods(ctx: BuildContext, stages: Mapping[str, str]) -> Iterator[Route]:
    paths = _rest_resource_paths(ctx)
    for lid, props in ctx.of_type("AWS::ApiGateway::Method"):
        method = ctx.resolve(props, lid)
        integration = method.get("Integration") or {}
        target = ctx.function_target(integration.get("Uri"))
        api = as_text(method.get("RestApiId", ""))
        auth = as_text(method.get("AuthorizationType", "NONE"))
        machine = None
        if is_start_execution(integration):
            machine = start_execution(ctx, method_integration(integration))
        if machine is not None:
            yield Route(
                api=api,
                kind=RouteKind.REST,
                method=as_text(method.get("HttpMethod", "ANY")).upper(),
                path=paths.get(as_text(method.get("ResourceId", "")), "") or "/",
                function=machine[0],
                auth=text_or_none(method.get("AuthorizerId")) or auth,
                stage=stages.get(api, "Prod"),
                details={"start_execution": machine[2]},
                state_machine=machine[1],
            )
            continue
        if target is None:
            continue
        yield Route(
            api=api,
            kind=RouteKind.REST,
            method=as_text(method.get("HttpMethod", "ANY")).upper(),
            path=paths.get(as_text(method.get("ResourceId", "")), "") or "/",
            function=target[0],
            qualifier=target[1],
            payload_format="1.0",
            auth=text_or_none(method.get("AuthorizerId")) or auth,
            stage=stages.get(api, "Prod"),
            timeout_ms=int(as_text(integration.get("TimeoutInMillis", 29000))),
            details=_operation(method.get("OperationName")),
        )


def _operation(name: Any) -> dict[str, str]:
    """`operation_name` (REST's requestContext.operationName) when the method names one."""
    return {"operation_name": as_text(name)} if name else {}


def _http_routes(ctx: BuildContext, stages: Mapping[str, str]) -> Iterator[Route]:
    integrations = {
        lid: ctx.resolve(props, lid) for lid, props in ctx.of_type("AWS::ApiGatewayV2::Integration")
    }
    for lid, props in ctx.of_type("AWS::ApiGatewayV2::Route"):
        route = ctx.resolve(props, lid)
        integration = integrations.get(
            as_text(route.get("Target", "")).removeprefix("integrations/")
        )
        if integration is None:
            continue
        target = ctx.function_target(integration.get("IntegrationUri"))
        if target is None:
            continue
        key = as_text(route.get("RouteKey", "$default"))
        method, _, path = key.partition(" ")
        api = as_text(route.get("ApiId", ""))
        yield Route(
            api=api,
            kind=RouteKind.HTTP,
            method="ANY" if key == "$default" else method.upper(),
            path=key if key == "$default" else path,
            function=target[0],
            qualifier=target[1],
            payload_format=as_text(integration.get("PayloadFormatVersion", "2.0")),
            auth=text_or_none(route.get("AuthorizerId"))
            or text_or_none(route.get("AuthorizationType")),
            stage=stages.get(api, "$default"),
            timeout_ms=int(as_text(integration.get("TimeoutInMillis", 30000))),
        )


def build_routes(ctx: BuildContext, functions: tuple[Function, ...]) -> tuple[Route, ...]:
    routes: list[Route] = []
    rest_stages = {
        **_stages(ctx, "AWS::ApiGateway::Deployment", "RestApiId"),
        **_stages(ctx, "AWS::ApiGateway::Stage", "RestApiId"),
    }
    http_stages = _stages(ctx, "AWS::ApiGatewayV2::Stage", "ApiId")
    for lid, props in ctx.of_type("AWS::ApiGateway::RestApi"):
        if "Body" in props:
            body = ctx.resolve(props["Body"], lid, "Body")
            routes.extend(_from_body(ctx, lid, RouteKind.REST, body, rest_stages.get(lid, "Prod")))
        elif "BodyS3Location" in props:
            ctx.resolver.warnings.append(
                f"{lid}: BodyS3Location is not read; its routes are unknown"
            )
    for lid, props in ctx.of_type("AWS::ApiGatewayV2::Api"):
        if as_text(props.get("ProtocolType", "HTTP")) == "WEBSOCKET":
            ctx.resolver.warnings.append(f"{lid}: WebSocket APIs are not served by samrun")
            continue
        stage = http_stages.get(lid, "$default")
        if "Body" in props:
            body = ctx.resolve(props["Body"], lid, "Body")
            routes.extend(_from_body(ctx, lid, RouteKind.HTTP, body, stage))
        target = ctx.function_target(ctx.prop(lid, props, "Target"))
        if target:  # quick create: one $default route
            routes.append(
                Route(
                    api=lid,
                    kind=RouteKind.HTTP,
                    method="ANY",
                    path="$default",
                    function=target[0],
                    qualifier=target[1],
                    payload_format="2.0",
                    stage=stage,
                )
            )
    routes.extend(_rest_methods(ctx, rest_stages))
    routes.extend(_http_routes(ctx, http_stages))
    for function in functions:
        url = function.function_url
        if url is not None:
            routes.append(
                Route(
                    api=function.logical_id,
                    kind=RouteKind.FUNCTION_URL,
                    method="ANY",
                    path="/{proxy+}",
                    function=function.name,
                    payload_format="2.0",
                    auth=url.auth_type,
                    qualifier=url.qualifier,
                    stage="$default",
                    timeout_ms=function.config.timeout_s * 1000,
                    details={"invoke_mode": url.invoke_mode, "cors": dict(url.cors)},
                )
            )
    detailed = attach_details(ctx, tuple(routes))
    for (api, name), kind in unchecked_authorizers(detailed).items():
        ctx.skip("authorizer", f"{api}/{name}", kind, "not checked locally: its routes pass")
    for function in functions:
        if function.function_url and function.function_url.auth_type == "AWS_IAM":
            ctx.skip(
                "authorizer",
                f"{function.logical_id}/FunctionUrl",
                "iam",
                "AWS_IAM is not checked locally: the URL answers unsigned requests",
            )
    return detailed
