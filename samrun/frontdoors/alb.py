"""ALB listeners in front of Lambda target groups: rules by priority, the ALB event and response,
ALB's limits (1 MB each way, no WebSocket), and health checks.

ALB sends query parameters as received (not decoded), lowercases header names, and uses either
single-value or multi-value maps, never both, per `lambda.multi_value_headers.enabled`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from samrun.errors import LambdaApiError
from samrun.frontdoors import alb_rules
from samrun.frontdoors.integration import IntegrationTimeout, call
from samrun.frontdoors.messages import HttpRequest, HttpResponse, encode_body, grouped, is_text
from samrun.frontdoors.rest_v1 import MalformedResponse, decode_body, header_pairs
from samrun.invoke.invoker import Invoker
from samrun.model import Listener, TargetGroup

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
_REASONS = {
    400: "Bad Request",
    413: "Request Entity Too Large",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def alb_error(status: int) -> HttpResponse:
    """ALB's own HTML error page."""
    title = f"{status} {_REASONS[status]}"
    page = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return HttpResponse(status=status, headers=(("Content-Type", "text/html"),), body=page.encode())


def build_alb_event(request: HttpRequest, group: TargetGroup) -> dict[str, Any]:
    headers = grouped([(k.lower(), v) for k, v in request.headers])
    query = grouped(
        [
            tuple(p.split("=", 1)) if "=" in p else (p, "")  # type: ignore[misc]
            for p in request.query.split("&")
            if p
        ]
    )
    body, is_b64 = encode_body(request.body, not is_text(request.content_type))
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": group.arn}},
        "httpMethod": request.method,
        "path": request.path,
    }
    if group.multi_value_headers:
        event["multiValueQueryStringParameters"] = query
        event["multiValueHeaders"] = headers
    else:
        event["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
        event["headers"] = {k: v[-1] for k, v in headers.items()}
    event.update(body=body or "", isBase64Encoded=is_b64)
    return event


def parse_alb_response(payload: bytes, multi_value: bool) -> HttpResponse:
    try:
        data = json.loads(payload)
    except ValueError:
        raise MalformedResponse("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("statusCode"), int):
        raise MalformedResponse("statusCode must be an integer")
    data = {**data, ("headers" if multi_value else "multiValueHeaders"): {}}
    body = decode_body(data.get("body"), data.get("isBase64Encoded"))
    if len(body) > MAX_BODY:
        raise MalformedResponse("response body over 1 MB")
    description = str(data.get("statusDescription") or "")
    reason = description.split(" ", 1)[1] if " " in description else None
    return HttpResponse(
        status=data["statusCode"], headers=tuple(header_pairs(data)), body=body, reason=reason
    )


class AlbListener:
    """One listener: its rules (all target groups' rules merged) and default actions."""

    # --enforce-iam: why Elastic Load Balancing may not invoke a function, or None
    permitted: Callable[[str, str | None], str | None] | None = None

    def __init__(
        self,
        listener: Listener,
        groups: Mapping[str, TargetGroup],
        invoker: Invoker,
        timeouts_s: Mapping[str, float],
    ) -> None:
        self.listener = listener
        self.groups = groups  # by ARN
        self.invoker = invoker
        self.timeouts_s = timeouts_s  # function -> seconds
        self.local_port = listener.port

    async def handle(self, request: HttpRequest) -> HttpResponse:
        if (request.header("upgrade") or "").lower() == "websocket":
            return alb_error(400)
        if len(request.body) > MAX_BODY:
            return alb_error(413)
        actions = self.listener.default_actions
        for rule in self.listener.rules:
            if alb_rules.rule_matches(rule.conditions, request):
                actions = rule.actions
                break
        action = alb_rules.main_action(actions)
        if action is None:
            return alb_error(503)
        kind = str(action.get("Type", "")).lower()
        if kind == "fixed-response":
            return alb_rules.fixed_response(action)
        if kind == "redirect":
            return alb_rules.redirect(action, request, self.local_port)
        group = self.groups.get(alb_rules.forward_target(action) or "")
        if group is None or group.function is None:
            return alb_error(503)
        return await self._forward(request, group)

    async def _forward(self, request: HttpRequest, group: TargetGroup) -> HttpResponse:
        assert group.function is not None
        event = build_alb_event(request, group)
        refused = self.permitted(group.function, group.arn) if self.permitted else None
        if refused:  # the target is unhealthy to ELB: it answers 502
            logger.error("ALB %s %s: %s", request.method, request.raw_path, refused)
            return alb_error(502)
        try:
            result = await call(
                self.invoker,
                group.function,
                None,
                event,
                self.timeouts_s.get(group.function, 3.0) + 1,
            )
            if result.function_error:
                return alb_error(502)
            return parse_alb_response(result.payload, group.multi_value_headers)
        except IntegrationTimeout:
            return alb_error(504)
        except (MalformedResponse, LambdaApiError):
            return alb_error(502)
