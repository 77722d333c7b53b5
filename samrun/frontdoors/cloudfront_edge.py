"""Lambda@Edge's contract: CloudFront's event shape, and its checks on what a function returns.

The event is `Records[0].cf` with `config`, `request`, and `response` at the response events
(CloudFront Developer Guide, "Lambda@Edge event structure"). What a function returns is checked
as CloudFront checks it: read-only and disallowed headers, the size of a generated response
(40 KB at viewer events, 1 MB at origin events), the body encoding; a failure is CloudFront's
502 (LambdaValidationError) or 503 (LambdaExecutionError, LambdaLimitExceeded) error page.
"""

from __future__ import annotations

import base64
import binascii
import html
from collections.abc import Iterable, Mapping
from typing import Any

from samrun.frontdoors.messages import HttpResponse

VIEWER_REQUEST, ORIGIN_REQUEST = "viewer-request", "origin-request"
ORIGIN_RESPONSE, VIEWER_RESPONSE = "origin-response", "viewer-response"
GENERATED_LIMIT = {"viewer": 40 * 1024, "origin": 1024 * 1024}  # headers and body
BODY_LIMIT = {"viewer": 40 * 1024, "origin": 1024 * 1024}  # IncludeBody: what is exposed
READ_ONLY: Mapping[str, frozenset[str]] = {
    VIEWER_REQUEST: frozenset({"content-length", "host", "transfer-encoding", "via"}),
    ORIGIN_REQUEST: frozenset(
        {
            "accept-encoding",
            "content-length",
            "if-modified-since",
            "if-none-match",
            "if-range",
            "if-unmodified-since",
            "transfer-encoding",
            "via",
        }
    ),
    ORIGIN_RESPONSE: frozenset({"transfer-encoding", "via"}),
    VIEWER_RESPONSE: frozenset(
        {"content-encoding", "content-length", "transfer-encoding", "warning", "via"}
    ),
}
"""Read-only headers per event (Developer Guide, "Restrictions on Lambda@Edge")."""
DISALLOWED = frozenset(
    {
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
DISALLOWED_PREFIXES = ("x-amz-cf-", "x-amzn-", "x-edge-")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "te"})
# CloudFront's own wording, as its error pages show it (seen on real 502/503 pages)
READ_ONLY_HEADER = "The function tried to add, delete, or change a read-only header."
DISALLOWED_HEADER = "The function tried to add a blacklisted header."
TOO_LARGE = "The body is not a string, is not an object, or exceeds the maximum size."
NOT_PARSABLE = "The Lambda function returned invalid JSON: The JSON output is not parsable."
NOT_OBJECT = "The Lambda function returned invalid JSON: The JSON output must be an object type."
HEADERS_ENTRY = (
    "The Lambda function returned an invalid entry in the headers object: Each header entry in "
    "the headers object must be an array."
)
EXECUTION_ERROR = (
    "The Lambda function associated with the CloudFront distribution is invalid or doesn't have "
    "the required permissions."
)
THROTTLED = "The Lambda function associated with the CloudFront distribution was throttled."
ORIGIN_UNREACHABLE = (
    "CloudFront couldn't connect to the origin or the origin returned an incorrect response."
)
ORIGIN_TIMEOUT = (
    "CloudFront attempted to establish a connection with the origin, but either the attempt "
    "failed or the origin closed the connection."
)
METHOD_NOT_ALLOWED = (
    "This distribution is not configured to allow the HTTP request method that was used for "
    "this request. The distribution supports only cachable requests."
)


class EdgeFailure(Exception):
    """CloudFront refuses what a Lambda@Edge function did: its error page, status and kind."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def invalid(detail: str) -> EdgeFailure:
    return EdgeFailure(
        502, "LambdaValidationError", f"The Lambda function result failed validation: {detail}"
    )


def malformed(message: str) -> EdgeFailure:
    """A 502 whose message is CloudFront's whole sentence (invalid JSON, a bad headers entry)."""
    return EdgeFailure(502, "LambdaValidationError", message)


def side(event_type: str) -> str:
    return event_type.split("-")[0]


def cf_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Headers as the events carry them: lower-case name -> [{key, value}, ...]."""
    out: dict[str, list[dict[str, str]]] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append({"key": name, "value": value})
    return out


def header_pairs(headers: Any, event_type: str) -> list[tuple[str, str]]:
    """(name, value) pairs from an event's header map, as a function left it."""
    if headers is None:
        return []
    if not isinstance(headers, dict):
        raise invalid("The headers object is not valid.")
    pairs = []
    for lowered, items in headers.items():
        if not isinstance(items, list):
            raise malformed(HEADERS_ENTRY)
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                raise invalid(f"The header {lowered} has an invalid value.")
            key = item.get("key", lowered)
            if not isinstance(key, str) or key.lower() != str(lowered).lower():
                raise invalid(f"The header key {key!r} does not match {lowered!r}.")
            pairs.append((key, item["value"]))
    return pairs


def check_headers(
    before: list[tuple[str, str]], after: list[tuple[str, str]], event_type: str
) -> None:
    """CloudFront's 502 when a function changed a read-only or disallowed header."""

    def values(pairs: list[tuple[str, str]], name: str) -> list[str]:
        return [v for k, v in pairs if k.lower() == name]

    changed = {k.lower() for k, _ in before} | {k.lower() for k, _ in after}
    for name in changed:
        if values(before, name) == values(after, name):
            continue
        if name in READ_ONLY[event_type]:
            raise invalid(READ_ONLY_HEADER)
        if name in DISALLOWED or name.startswith(DISALLOWED_PREFIXES):
            raise invalid(DISALLOWED_HEADER)


def event(
    event_type: str,
    distribution: Mapping[str, str],
    request: dict[str, Any],
    response: dict[str, Any] | None = None,
) -> dict[str, Any]:
    config = {
        "distributionDomainName": distribution["domain"],
        "distributionId": distribution["id"],
        "eventType": event_type,
        "requestId": distribution["request_id"],
    }
    cf: dict[str, Any] = {"config": config, "request": request}
    if response is not None:
        cf["response"] = response
    return {"Records": [{"cf": cf}]}


def request_body(body: bytes, event_type: str) -> dict[str, Any]:
    """IncludeBody: the body, always base64, truncated at CloudFront's limit."""
    limit = BODY_LIMIT[side(event_type)]
    return {
        "inputTruncated": len(body) > limit,
        "action": "read-only",
        "encoding": "base64",
        "data": base64.b64encode(body[:limit]).decode(),
    }


def replaced_body(result: Mapping[str, Any], original: bytes, event_type: str) -> bytes:
    """The request body after a function with IncludeBody: replaced only with `action:
    replace`, within 40 KB (viewer) or 1 MB (origin) of text, 53.2 KB / 1.33 MB of base64."""
    body = result.get("body")
    if not isinstance(body, dict) or body.get("action") != "replace":
        return original
    data = body.get("data")
    if not isinstance(data, str):
        raise invalid("The body data is not a string.")
    limit = BODY_LIMIT[side(event_type)]
    if body.get("encoding") == "base64":
        if len(data) > limit * 4 // 3:
            raise invalid(TOO_LARGE)
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise invalid("The body is not valid base64.") from None
    encoded = data.encode()
    if len(encoded) > limit:
        raise invalid(TOO_LARGE)
    return encoded


def generated_response(result: Mapping[str, Any], event_type: str) -> HttpResponse:
    """A response a request function returned instead of a request, as CloudFront sends it."""
    status = _status(result.get("status"))
    headers = header_pairs(result.get("headers"), event_type)
    for name, _ in headers:
        lowered = name.lower()
        if lowered in DISALLOWED or lowered.startswith(DISALLOWED_PREFIXES):
            raise invalid(DISALLOWED_HEADER)
    body = _body(result.get("body"), result.get("bodyEncoding"))
    size = len(body) + sum(len(k) + len(v) + 4 for k, v in headers)
    if size > GENERATED_LIMIT[side(event_type)]:
        raise invalid(TOO_LARGE)
    description = result.get("statusDescription")
    return HttpResponse(
        status=status,
        headers=tuple(h for h in headers if h[0].lower() not in HOP_BY_HOP),
        body=body,
        reason=description if isinstance(description, str) and description else None,
    )


def _status(value: Any) -> int:
    try:
        status = int(str(value))
    except ValueError:
        raise invalid("The status code is not valid.") from None
    if not 100 <= status <= 599:
        raise invalid("The status code is not valid.")
    return status


def _body(body: Any, encoding: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise invalid(TOO_LARGE)
    if encoding in (None, "text"):
        return body.encode()
    if encoding != "base64":
        raise invalid("The bodyEncoding is not text or base64.")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("The body is not valid base64.") from None


def error_page(failure: EdgeFailure, request_id: str) -> HttpResponse:
    """CloudFront's own HTML error page (its layout and sentences as real 502/503 pages show
    them), with its X-Cache verdict."""
    message = html.escape(failure.message, quote=False)
    page = (
        '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
        '"http://www.w3.org/TR/html4/loose.dtd">\n<HTML><HEAD><META HTTP-EQUIV="Content-Type" '
        'CONTENT="text/html; charset=iso-8859-1">\n<TITLE>ERROR: The request could not be '
        f"satisfied</TITLE>\n</HEAD><BODY>\n<H1>{failure.status} ERROR</H1>\n<H2>The request "
        f'could not be satisfied.</H2>\n<HR noshade size="1px">\n{message}'
        "\nWe can't connect to the server for this app or website at this time. There might be "
        "too much traffic or a configuration error. Try again later, or contact the app or "
        'website owner.\n<BR clear="all">\nIf you provide content to customers through '
        "CloudFront, you can find steps to troubleshoot and help prevent this error by reviewing "
        'the CloudFront documentation.\n<BR clear="all">\n<HR noshade size="1px">\n<PRE>\n'
        f"Generated by cloudfront (CloudFront)\nRequest ID: {request_id}\n</PRE>\n<ADDRESS>\n"
        "</ADDRESS>\n</BODY></HTML>"
    )
    return HttpResponse(
        status=failure.status,
        headers=(
            ("Content-Type", "text/html"),
            ("Server", "CloudFront"),
            ("X-Cache", f"{failure.kind} from cloudfront"),
            ("X-Amz-Cf-Id", request_id),
        ),
        body=page.encode(),
    )
