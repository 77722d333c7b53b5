"""Payload format 2.0: the event HTTP APIs and function URLs send, and the response they accept,
including the shortcut where a function returns a bare value (200, JSON).

2.0 lowercases header names, joins repeated headers and query parameters with commas, moves
cookies to `cookies`, and base64-encodes any body that is not text.
"""

from __future__ import annotations

import json
from typing import Any

from samrun.frontdoors.messages import HttpRequest, HttpResponse, encode_body, grouped, is_text
from samrun.frontdoors.rest_v1 import (
    HTTP_API_TEXT,
    MalformedResponse,
    api_id,
    decode_body,
    header_text,
    request_time,
)
from samrun.frontdoors.routes import RouteMatch
from samrun.model import RouteKind


def route_key(match: RouteMatch) -> str:
    route = match.route
    if route.kind is RouteKind.FUNCTION_URL or route.path == "$default":
        return "$default"
    return f"{route.method} {route.path}"


def build_event_v2(
    request: HttpRequest,
    match: RouteMatch,
    *,
    account_id: str,
    region: str,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    route = match.route
    headers = {
        k: ",".join(v)
        for k, v in grouped(
            [(k.lower(), v) for k, v in request.headers if k.lower() != "cookie"]
        ).items()
    }
    cookies = [
        c.strip()
        for k, v in request.headers
        if k.lower() == "cookie"
        for c in v.split(";")
        if c.strip()
    ]
    query = {k: ",".join(v) for k, v in grouped(request.query_pairs()).items()}
    body, is_b64 = encode_body(request.body, not is_text(request.content_type))
    key = route_key(match)
    ident = api_id(route.api)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": key,
        "rawPath": request.raw_path,
        "rawQueryString": request.query,
        "cookies": cookies,
        "headers": headers,
        "queryStringParameters": query,
        "requestContext": {
            "accountId": account_id if route.kind is not RouteKind.FUNCTION_URL else "anonymous",
            "apiId": ident,
            "authorizer": authorizer,
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": request.header("user-agent") or "",
            },
            "requestId": request.request_id,
            "routeKey": key,
            "stage": route.stage,
            "time": request_time(request.received_ms),
            "timeEpoch": request.received_ms,
        },
        "body": body,
        "pathParameters": match.path_params if route.kind is not RouteKind.FUNCTION_URL else {},
        "isBase64Encoded": is_b64,
        "stageVariables": dict(route.details.get("stage_variables") or {}),
    }
    # AWS omits what the request does not have; `isBase64Encoded` is always present.
    for name in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        if not event[name]:
            del event[name]
    if authorizer is None:
        del event["requestContext"]["authorizer"]
    return event


def parse_response_v2(payload: bytes) -> HttpResponse:
    """A 2.0 response: an object with `statusCode`, or any other JSON value, sent as 200 JSON."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise MalformedResponse("not JSON") from None
    if not isinstance(data, dict) or "statusCode" not in data:
        # API Gateway infers 200 application/json, the body being the function's response:
        # a string is sent as the string, anything else as its JSON ("Lambda function response
        # for format 2.0", docs.aws.amazon.com/apigateway/latest/developerguide/
        # http-api-develop-integrations-lambda.html#http-api-develop-integrations-lambda.v2)
        inferred = data.encode() if isinstance(data, str) else payload
        return HttpResponse(
            status=200, body=inferred, headers=(("Content-Type", "application/json"),)
        )
    status = data["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse("statusCode must be an integer")
    headers = data.get("headers") or {}
    cookies = data.get("cookies") or []
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        raise MalformedResponse("headers must be an object and cookies a list")
    pairs = [(k, header_text(v)) for k, v in headers.items()]
    pairs += [("Set-Cookie", str(c)) for c in cookies]
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    content = decode_body(body, data.get("isBase64Encoded"))
    if not any(k.lower() == "content-type" for k, _ in pairs) and content:
        pairs.append(("Content-Type", HTTP_API_TEXT))
    return HttpResponse(status=status, headers=tuple(pairs), body=content)
