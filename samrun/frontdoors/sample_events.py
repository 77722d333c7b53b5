"""Sample HTTP events (`samrun events generate apigateway|alb ...`), built by the same code
that builds the events of real requests, so a sample is exactly what a front door would send."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from samrun.frontdoors.alb import build_alb_event
from samrun.frontdoors.http_v2 import build_event_v2
from samrun.frontdoors.messages import HttpRequest
from samrun.frontdoors.rest_v1 import build_event_v1
from samrun.frontdoors.routes import RouteMatch
from samrun.model import Route, RouteKind, TargetGroup

KINDS = {"apigateway": ("aws-proxy", "http-api-proxy"), "alb": ("request",)}


def http_sample(source: str, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    path = str(options.get("path") or "/")
    method = str(options.get("method") or ("POST" if options.get("body") else "GET")).upper()
    region = str(options.get("region") or "us-east-1")
    account = str(options.get("account_id") or "123456789012")
    body = str(options.get("body") or "").encode()
    headers: tuple[tuple[str, str], ...] = (
        ("Host", "localhost:3000"),
        ("User-Agent", "curl/8.5.0"),
        ("Accept", "*/*"),
    )
    if body:
        headers += (("Content-Type", "application/json"),)
    request = HttpRequest(
        method=method,
        path=path,
        raw_path=quote(path),
        query="",
        headers=headers,
        body=body,
        host="localhost:3000",
    )
    if source == "alb" and kind == "request":
        arn = f"arn:aws:elasticloadbalancing:{region}:{account}:targetgroup/lambda-target/abcdef"
        return build_alb_event(request, TargetGroup(logical_id="Targets", function=None, arn=arn))
    if source == "apigateway" and kind in KINDS["apigateway"]:
        rest = kind == "aws-proxy"
        route = Route(
            api="ServerlessRestApi" if rest else "ServerlessHttpApi",
            kind=RouteKind.REST if rest else RouteKind.HTTP,
            method=method,
            path=path,
            function="function",
            payload_format="1.0" if rest else "2.0",
            stage="Prod" if rest else "$default",
        )
        match = RouteMatch(route=route, path_params={}, path=path)
        build = build_event_v1 if rest else build_event_v2
        return build(request, match, account_id=account, region=region)
    known = ", ".join(KINDS.get(source, ()))
    raise ValueError(f"unknown {source} event {kind!r} (known: {known})")
