"""CORS as API Gateway applies it: HTTP APIs and function URLs answer preflight themselves and add
CORS headers to every response; REST APIs answer preflight with the OPTIONS mock SAM declares and
leave other responses to the function.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samrun.frontdoors.messages import HttpRequest, HttpResponse


def normalise(config: Mapping[str, Any]) -> dict[str, Any]:
    """`AllowOrigins` (CloudFormation) and `allowOrigins` (OpenAPI) spell the same setting."""
    return {k[:1].lower() + k[1:]: v for k, v in config.items()}


def _origin_allowed(config: Mapping[str, Any], origin: str) -> str | None:
    origins = [str(o) for o in config.get("allowOrigins") or []]
    if "*" in origins:
        return origin if config.get("allowCredentials") else "*"
    return origin if origin in origins else None


def _listed(values: Any) -> str:
    return ",".join(str(v) for v in values or [])


def is_preflight(request: HttpRequest) -> bool:
    return (
        request.method == "OPTIONS" and request.header("access-control-request-method") is not None
    )


def preflight(config: Mapping[str, Any], request: HttpRequest) -> HttpResponse:
    """The answer to an OPTIONS preflight of an HTTP API or function URL with CORS configured."""
    headers: list[tuple[str, str]] = []
    allowed = _origin_allowed(config, request.header("origin") or "")
    if allowed:
        headers.append(("Access-Control-Allow-Origin", allowed))
        methods = [str(m).upper() for m in config.get("allowMethods") or []]
        wanted = (request.header("access-control-request-method") or "").upper()
        if "*" in methods or wanted in methods:
            headers.append(
                ("Access-Control-Allow-Methods", "*" if "*" in methods else ",".join(methods))
            )
        if config.get("allowHeaders"):
            headers.append(("Access-Control-Allow-Headers", _listed(config["allowHeaders"])))
        if config.get("maxAge") is not None:
            headers.append(("Access-Control-Max-Age", str(config["maxAge"])))
        if config.get("allowCredentials"):
            headers.append(("Access-Control-Allow-Credentials", "true"))
    return HttpResponse(status=204, headers=tuple(headers))


def decorate(
    config: Mapping[str, Any], request: HttpRequest, response: HttpResponse
) -> HttpResponse:
    """An actual response with the CORS headers the API adds (they replace the function's)."""
    allowed = _origin_allowed(config, request.header("origin") or "")
    if not allowed:
        return response
    extra = [("Access-Control-Allow-Origin", allowed)]
    if config.get("exposeHeaders"):
        extra.append(("Access-Control-Expose-Headers", _listed(config["exposeHeaders"])))
    if config.get("allowCredentials"):
        extra.append(("Access-Control-Allow-Credentials", "true"))
    names = {k.lower() for k, _ in extra}
    kept = tuple((k, v) for k, v in response.headers if k.lower() not in names)
    return HttpResponse(
        status=response.status,
        headers=(*kept, *extra),
        body=response.body,
        reason=response.reason,
        stream=response.stream,
    )


def rest_preflight(headers: Mapping[str, str]) -> HttpResponse:
    """The OPTIONS mock integration SAM writes for a REST API's `Cors`: 200, `{}`."""
    return HttpResponse(
        status=200, body=b"{}", headers=(("Content-Type", "application/json"), *headers.items())
    )
