"""ALB listener rules: conditions evaluated as ALB evaluates them, and the non-forward actions.

A rule matches when every condition matches; within a condition any value may match. Values are
ALB's wildcard patterns (`*`, `?`); paths compare case-sensitively, hosts and headers not.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from samrun.frontdoors.messages import HttpRequest, HttpResponse

_CONFIG_KEYS = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "http-header": "HttpHeaderConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}


def _values(condition: Mapping[str, Any]) -> list[Any]:
    config = condition.get(_CONFIG_KEYS.get(str(condition.get("Field")), "")) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def _like(value: str, patterns: list[Any], fold: bool) -> bool:
    if fold:
        value = value.lower()
    return any(fnmatch.fnmatchcase(value, str(p).lower() if fold else str(p)) for p in patterns)


def _query_matches(request: HttpRequest, wanted: list[Any]) -> bool:
    pairs = [(unquote(k).lower(), unquote(v).lower()) for k, v in request.query_pairs()]
    for item in wanted:
        key = str(item.get("Key", "")).lower() if isinstance(item, dict) else None
        value = str(item.get("Value", "")).lower() if isinstance(item, dict) else str(item)
        if any(
            (key is None or fnmatch.fnmatchcase(k, key)) and fnmatch.fnmatchcase(v, value)
            for k, v in pairs
        ):
            return True
    return False


def _source_matches(ip: str, cidrs: list[Any]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(str(c), strict=False) for c in cidrs)


def condition_matches(condition: Mapping[str, Any], request: HttpRequest) -> bool:
    field, values = condition.get("Field"), _values(condition)
    if field == "path-pattern":
        return _like(request.path, values, fold=False)
    if field == "host-header":
        return _like((request.header("host") or request.host).split(":")[0], values, fold=True)
    if field == "http-request-method":
        return request.method in {str(v).upper() for v in values}
    if field == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        name = str(config.get("HttpHeaderName", ""))
        return any(
            _like(v, values, fold=True) for k, v in request.headers if k.lower() == name.lower()
        )
    if field == "query-string":
        return _query_matches(request, values)
    if field == "source-ip":
        return _source_matches(request.source_ip, values)
    return False


def rule_matches(conditions: tuple[Mapping[str, Any], ...], request: HttpRequest) -> bool:
    return all(condition_matches(c, request) for c in conditions)


def main_action(actions: tuple[Mapping[str, Any], ...]) -> Mapping[str, Any] | None:
    """The action that answers (authenticate-* actions run first in AWS; not locally)."""
    ordered = sorted(actions, key=lambda a: int(a.get("Order", 50000)))
    return next((a for a in ordered if not str(a.get("Type", "")).startswith("authenticate")), None)


def fixed_response(action: Mapping[str, Any]) -> HttpResponse:
    config = action.get("FixedResponseConfig") or {}
    headers = (("Content-Type", str(config.get("ContentType", "text/plain"))),)
    return HttpResponse(
        status=int(config.get("StatusCode", 200)),
        headers=headers,
        body=str(config.get("MessageBody", "")).encode(),
    )


def redirect(action: Mapping[str, Any], request: HttpRequest, local_port: int) -> HttpResponse:
    """ALB's redirect with `#{host}`, `#{port}`, `#{path}`, `#{query}` kept from the request."""
    config = action.get("RedirectConfig") or {}
    host_header = (request.header("host") or request.host).split(":")[0]
    parts = {
        "protocol": "http",
        "host": host_header,
        "port": str(local_port),
        "path": request.path.lstrip("/"),
        "query": request.query,
    }

    def fill(key: str, default: str) -> str:
        text = str(config.get(key, default))
        for name, value in parts.items():
            text = text.replace("#{" + name + "}", value)
        return text

    protocol = fill("Protocol", "#{protocol}").lower()
    path = fill("Path", "/#{path}")
    query = fill("Query", "#{query}")
    location = f"{protocol}://{fill('Host', '#{host}')}:{fill('Port', '#{port}')}{path}"
    location += f"?{query}" if query else ""
    status = 301 if str(config.get("StatusCode", "HTTP_301")) == "HTTP_301" else 302
    return HttpResponse(status=status, headers=(("Location", location),))


def forward_target(action: Mapping[str, Any]) -> str | None:
    if action.get("TargetGroupArn"):
        return str(action["TargetGroupArn"])
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    return str(groups[0].get("TargetGroupArn")) if groups else None
