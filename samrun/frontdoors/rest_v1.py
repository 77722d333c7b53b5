"""Payload format 1.0: the event REST APIs (and HTTP APIs set to 1.0) send, and the proxy
response they expect back.

REST and HTTP-1.0 differ in small ways AWS documents: REST keeps the last value of a repeated
header or query parameter in the single-value maps, HTTP APIs join them with commas; REST's
`path` has no stage, its `requestContext.path` does.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

from samrun.frontdoors.messages import HttpRequest, HttpResponse, encode_body, grouped
from samrun.frontdoors.routes import RouteMatch
from samrun.model import RouteKind

_IDENTITY_KEYS = (
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
)


HTTP_API_TEXT = "text/plain; charset=utf-8"
"""What an HTTP API answers for a body whose Content-Type the function did not name, in a response
with a `statusCode`. AWS documents a default only for the inferred 2.0 form (no `statusCode`:
application/json, see http_v2.parse_response_v2); for this form it documents none, and a real HTTP
API answers text/plain; charset=utf-8 (captured on AWS in "AWS API Gateway Response Handling",
aasisodiya.github.io/nodejs/nodejs-aws/nodejs-aws-apigw). A REST API answers application/json."""


class MalformedResponse(ValueError):
    """The function's answer is not a proxy response; API Gateway answers 502."""


def request_time(epoch_ms: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def api_id(api: str) -> str:
    """A stable 10-character id standing in for the API's generated id."""
    return (api.lower() + "0123456789")[:10]


def _single(multi: dict[str, list[str]], joined: bool) -> dict[str, str]:
    return {k: (",".join(v) if joined else v[-1]) for k, v in multi.items()}


def build_event_v1(
    request: HttpRequest,
    match: RouteMatch,
    *,
    account_id: str,
    region: str,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    route = match.route
    http_api = route.kind is not RouteKind.REST
    resource = route.path if route.path != "$default" else "$default"
    binary = set(route.details.get("binary_media_types", ()))
    as_base64 = request.content_type in binary or "*/*" in binary
    body, is_b64 = encode_body(request.body, as_base64)
    headers = grouped(request.headers)
    query = grouped(request.query_pairs())
    ident = api_id(route.api)
    stage_path = (
        match.path if http_api or route.stage == "$default" else (f"/{route.stage}{match.path}")
    )
    context = {
        "accountId": account_id,
        "apiId": ident,
        "authorizer": authorizer
        if authorizer is not None
        else ({"claims": None, "scopes": None} if http_api else None),
        "domainName": request.host,
        "domainPrefix": request.host.split(".")[0].split(":")[0],
        "extendedRequestId": request.request_id,
        "httpMethod": request.method,
        "identity": {
            **dict.fromkeys(_IDENTITY_KEYS),
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent"),
        },
        "path": stage_path,
        "protocol": request.protocol,
        "requestId": request.request_id,
        "requestTime": request_time(request.received_ms),
        "requestTimeEpoch": request.received_ms,
        "resourceId": None if http_api else ident[:6],
        "resourcePath": resource,
        "stage": route.stage,
    }
    if context["authorizer"] is None:
        del context["authorizer"]
    if route.details.get("operation_name"):
        context["operationName"] = route.details["operation_name"]
    event: dict[str, Any] = {"version": "1.0"} if http_api else {}
    return event | {
        "resource": resource,
        "path": match.path,
        "httpMethod": request.method,
        "headers": _single(headers, http_api) or None,
        "multiValueHeaders": headers or None,
        "queryStringParameters": _single(query, http_api) or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": match.path_params or None,
        "stageVariables": dict(route.details.get("stage_variables") or {}) or None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": is_b64,
    }


def decode_body(body: Any, is_base64: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body must be a string")
    if is_base64 is True or is_base64 == "true":
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise MalformedResponse("body is not valid base64") from None
    return body.encode()


def header_pairs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """`headers` and `multiValueHeaders` merged into one list, as API Gateway documents: a name
    in both keeps each of its values once (the multi-value ones, and a different single one)."""
    single = data.get("headers") or {}
    multi = data.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers must be objects")
    merged: dict[str, tuple[str, list[str]]] = {}  # lower-case name -> (name, values)
    for name, value in single.items():
        merged.setdefault(name.lower(), (name, []))[1].append(header_text(value))
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse("multiValueHeaders values must be lists")
        kept = merged.setdefault(name.lower(), (name, []))[1]
        kept.extend(v for v in map(header_text, values) if v not in kept)
    return [(name, value) for name, values in merged.values() for value in values]


def header_text(value: Any) -> str:
    """A header value as API Gateway writes it (JSON's true/false, not Python's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


def parse_response_v1(payload: bytes, *, strict: bool = True) -> HttpResponse:
    """The proxy response; anything else is malformed (502 at the edge). REST (`strict`) also
    rejects keys it does not know, as API Gateway does, and answers application/json when the
    function names no Content-Type; an HTTP API needs a statusCode and defaults to text."""
    try:
        data = json.loads(payload)
    except ValueError:
        raise MalformedResponse("not JSON") from None
    if not isinstance(data, dict):
        raise MalformedResponse("not an object")
    if strict and not data.keys() <= _V1_KEYS:
        raise MalformedResponse(f"unexpected keys {sorted(data.keys() - _V1_KEYS)}")
    if not strict and "statusCode" not in data:
        raise MalformedResponse("no statusCode")
    status = data.get("statusCode", 200)
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse("statusCode must be an integer")
    body = decode_body(data.get("body"), data.get("isBase64Encoded"))
    headers = header_pairs(data)
    if not any(name.lower() == "content-type" for name, _ in headers):
        if strict:
            headers.append(("Content-Type", "application/json"))
        elif body:
            headers.append(("Content-Type", HTTP_API_TEXT))
    return HttpResponse(status=status, headers=tuple(headers), body=body)
