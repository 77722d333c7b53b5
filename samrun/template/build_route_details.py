"""What a front door needs to serve a route beyond its key: authorizer, CORS, binary media types,
stage variables. Written into `Route.details` so nothing outside `template/` reads OpenAPI.

Keys (all optional): `authorizer` {name, type: token|request|iam|cognito|jwt, function, qualifier,
identity_source [..], ttl_s, payload_format, simple_responses}; `cors` (HTTP API:
x-amazon-apigateway-cors; REST: {"preflight_headers": {...}} from the path's OPTIONS mock);
`binary_media_types` [..]; `stage_variables` {..}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from samrun.model import Route, RouteKind
from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text

_AUTHORIZER = "x-amazon-apigateway-authorizer"
_STAGE_TYPES = {
    RouteKind.REST: ("AWS::ApiGateway::Stage", "RestApiId", "Variables"),
    RouteKind.HTTP: ("AWS::ApiGatewayV2::Stage", "ApiId", "StageVariables"),
}


def _schemes(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return (
        body.get("securityDefinitions")
        or (body.get("components") or {}).get("securitySchemes")
        or {}
    )


def _authorizer(ctx: BuildContext, name: str, scheme: Any, kind: RouteKind) -> dict[str, Any]:
    if not isinstance(scheme, dict):
        return {"name": name, "type": "iam" if name == "AWS_IAM" else "unknown"}
    spec = scheme.get(_AUTHORIZER) or {}
    kind_name = as_text(spec.get("type", scheme.get("type", ""))).lower()
    if kind_name == "cognito_user_pools" or scheme.get("x-amazon-apigateway-authtype") == (
        "cognito_user_pools"
    ):
        return {"name": name, "type": "cognito"}
    if kind_name in ("jwt", "oauth2", "openidconnect"):
        return {"name": name, "type": "jwt"}
    target = ctx.function_target(spec.get("authorizerUri"))
    sources = spec.get("identitySource")
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    if kind_name == "token" and not sources:
        sources = [f"method.request.header.{scheme.get('name', 'Authorization')}"]
    default_format = "2.0" if kind is RouteKind.HTTP else "1.0"
    return {
        "name": name,
        "type": kind_name if kind_name in ("token", "request") else "unknown",
        "function": target[0] if target else None,
        "qualifier": target[1] if target else None,
        "identity_source": [as_text(s) for s in sources or []],
        "ttl_s": int(as_text(spec.get("authorizerResultTtlInSeconds", 300))),
        "payload_format": as_text(spec.get("authorizerPayloadFormatVersion", default_format)),
        "simple_responses": bool(spec.get("enableSimpleResponses", False)),
    }


_RESOURCE_AUTHORIZERS = ("AWS::ApiGateway::Authorizer", "AWS::ApiGatewayV2::Authorizer")
_CHECKED = ("token", "request")


def _resource_authorizer(ctx: BuildContext, lid: str, kind: RouteKind) -> dict[str, Any]:
    """An authorizer declared as an AWS::ApiGateway(V2)::Authorizer resource, in the same shape
    as one from an OpenAPI body: REST `Type`, HTTP `AuthorizerType`, their identity sources."""
    resource = ctx.resources[lid]
    props = ctx.resolve(resource.get("Properties") or {}, lid)
    v2 = resource.get("Type") == "AWS::ApiGatewayV2::Authorizer"
    kind_name = as_text(props.get("AuthorizerType" if v2 else "Type", "")).lower()
    name = as_text(props.get("Name", lid))
    if kind_name in ("cognito_user_pools", "jwt"):
        return {"name": name, "type": "cognito" if kind_name.startswith("cognito") else "jwt"}
    target = ctx.function_target(props.get("AuthorizerUri"))
    sources = props.get("IdentitySource")
    if isinstance(sources, str):
        sources = [s.strip() for s in sources.split(",") if s.strip()]
    if kind_name == "token" and not sources:
        sources = ["method.request.header.Authorization"]
    return {
        "name": name,
        "type": kind_name if kind_name in _CHECKED else "unknown",
        "function": target[0] if target else None,
        "qualifier": target[1] if target else None,
        "identity_source": [as_text(s) for s in sources or []],
        "ttl_s": int(as_text(props.get("AuthorizerResultTtlInSeconds", 0 if v2 else 300))),
        "payload_format": as_text(
            props.get("AuthorizerPayloadFormatVersion", "2.0" if v2 else "1.0")
        ),
        "simple_responses": as_text(props.get("EnableSimpleResponses", False)).lower() == "true",
    }


def _route_authorizer(ctx: BuildContext, route: Route, body: Mapping[str, Any]) -> dict[str, Any]:
    assert route.auth is not None
    resource = ctx.resources.get(route.auth) or {}
    if resource.get("Type") in _RESOURCE_AUTHORIZERS:
        return _resource_authorizer(ctx, route.auth, route.kind)
    if route.auth.upper() == "AWS_IAM":
        return {"name": "AWS_IAM", "type": "iam"}
    if route.auth.upper() in ("COGNITO_USER_POOLS", "JWT"):
        return {"name": route.auth, "type": "cognito" if route.auth[0] in "Cc" else "jwt"}
    return _authorizer(ctx, route.auth, _schemes(body).get(route.auth), route.kind)


def unchecked_authorizers(routes: tuple[Route, ...]) -> dict[tuple[str, str], str]:
    """(API, authorizer name) -> its kind, for each authorizer samrun cannot check locally
    (IAM, Cognito, JWT, unknown, or a function outside the app): their routes pass."""
    found: dict[tuple[str, str], str] = {}
    for route in routes:
        config = route.details.get("authorizer")
        if config and (config.get("type") not in _CHECKED or not config.get("function")):
            kind = str(config.get("type"))
            if kind in _CHECKED:
                kind += " (its function is not part of this app)"
            found.setdefault((route.api, str(config.get("name"))), kind)
    return found


def _preflight(body: Mapping[str, Any], path: str) -> dict[str, str]:
    """REST CORS: the header values of the OPTIONS mock integration SAM writes on each path."""
    options = ((body.get("paths") or {}).get(path) or {}).get("options") or {}
    integration = options.get("x-amazon-apigateway-integration") or {}
    response = (integration.get("responses") or {}).get("default") or {}
    prefix = "method.response.header."
    return {
        k.removeprefix(prefix): as_text(v).strip("'")
        for k, v in (response.get("responseParameters") or {}).items()
        if k.startswith(prefix)
    }


def _stage_variables(ctx: BuildContext, kind: RouteKind, api: str) -> dict[str, str]:
    if kind not in _STAGE_TYPES:
        return {}
    stage_type, api_key, variables = _STAGE_TYPES[kind]
    for lid, props in ctx.of_type(stage_type):
        if as_text(ctx.prop(lid, props, api_key, "")) == api:
            return {k: as_text(v) for k, v in (ctx.prop(lid, props, variables) or {}).items()}
    return {}


def _stage_tracing(ctx: BuildContext, api: str) -> bool:
    """A REST API stage's `TracingEnabled` (X-Ray; HTTP APIs have no such setting)."""
    for lid, props in ctx.of_type("AWS::ApiGateway::Stage"):
        if as_text(ctx.prop(lid, props, "RestApiId", "")) == api:
            return str(ctx.prop(lid, props, "TracingEnabled", False)).lower() == "true"
    return False


def _api_details(
    ctx: BuildContext, route: Route, body: Mapping[str, Any], props: Mapping[str, Any]
) -> dict[str, Any]:
    details: dict[str, Any] = {"stage_variables": _stage_variables(ctx, route.kind, route.api)}
    if route.kind is RouteKind.REST:
        details["tracing"] = _stage_tracing(ctx, route.api)
        types = list(body.get("x-amazon-apigateway-binary-media-types") or [])
        types += [as_text(t).replace("~1", "/") for t in props.get("BinaryMediaTypes") or []]
        details["binary_media_types"] = sorted({str(t) for t in types})
    else:
        cors = body.get("x-amazon-apigateway-cors") or props.get("CorsConfiguration")
        if isinstance(cors, dict) and cors:
            details["cors"] = {k[:1].lower() + k[1:]: v for k, v in cors.items()}
    return details


def attach_details(ctx: BuildContext, routes: tuple[Route, ...]) -> tuple[Route, ...]:
    """`routes` with their API-level settings in `details` (function URLs are left as built)."""
    bodies: dict[str, tuple[Mapping[str, Any], Mapping[str, Any]]] = {}
    out = []
    for route in routes:
        resource = ctx.resources.get(route.api) or {}
        if route.kind is RouteKind.FUNCTION_URL or not resource:
            out.append(route)
            continue
        if route.api not in bodies:
            props = ctx.resolve(resource.get("Properties") or {}, route.api)
            body = props.get("Body") if isinstance(props.get("Body"), dict) else {}
            bodies[route.api] = (body, props)
        body, props = bodies[route.api]
        details = {**_api_details(ctx, route, body, props), **route.details}
        if route.kind is RouteKind.REST and route.path in (body.get("paths") or {}):
            preflight = _preflight(body, route.path)
            if preflight:
                details["cors"] = {"preflight_headers": preflight}
        if route.auth and route.auth.upper() not in ("NONE",):
            details["authorizer"] = _route_authorizer(ctx, route, body)
        out.append(replace(route, details=details))
    return tuple(out)
