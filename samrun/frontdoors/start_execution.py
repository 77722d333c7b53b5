"""API Gateway's AWS integration with Step Functions' StartExecution (what SAM writes for a state
machine's `Api` event): the request's mapping template renders the StartExecution request, the
execution starts on the AWS endpoint, and Step Functions' answer ({"executionArn", "startDate"},
or its error) goes back through the integration responses, as API Gateway does.

The route's `details["start_execution"]` holds the integration: `request_templates`
{content type: VTL}, `passthrough` (WHEN_NO_MATCH, WHEN_NO_TEMPLATES or NEVER) and `responses`
{selection pattern: {statusCode, responseTemplates}}. How the starter reaches the endpoint is the
App's business (samrun.sources.executions.start_request).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from samrun.frontdoors.mapping import MappingError, render
from samrun.frontdoors.messages import HttpRequest, HttpResponse, json_response
from samrun.frontdoors.routes import RouteMatch

logger = logging.getLogger(__name__)

Starter = Callable[[dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]
"""StartExecution with these request fields -> (HTTP status, Step Functions' JSON body)."""

UNSUPPORTED = json_response(415, '{"message": "Unsupported Media Type"}')
INTERNAL = json_response(500, '{"message": "Internal server error"}')


def _request_body(
    request: HttpRequest, match: RouteMatch, integration: Mapping[str, Any], **ids: str
) -> str | HttpResponse:
    """The StartExecution request text: the template for the request's Content-Type (none sent
    means application/json), else the body itself when the passthrough behaviour allows."""
    templates: Mapping[str, str] = integration.get("request_templates") or {}
    content_type = request.content_type or "application/json"
    template = templates.get(content_type)
    if template is None:
        behaviour = str(integration.get("passthrough") or "WHEN_NO_MATCH").upper()
        if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and templates):
            return UNSUPPORTED
        return request.body.decode(errors="replace")
    return render(template, request, match, **ids)


def _response(
    status: int,
    body: dict[str, Any],
    integration: Mapping[str, Any],
    request: HttpRequest,
    match: RouteMatch,
    **ids: str,
) -> HttpResponse:
    """The method response: the integration response whose selection pattern matches the
    service's status code (else `default`), its response template applied when it has one."""
    responses: Mapping[str, Any] = integration.get("responses") or {}
    chosen = next(
        (
            spec
            for pattern, spec in responses.items()
            if pattern != "default" and re.fullmatch(str(pattern), str(status))
        ),
        responses.get("default"),
    )
    if not isinstance(chosen, dict):
        logger.error("StartExecution answered %s and no integration response matches", status)
        return INTERNAL
    text = json.dumps(body, separators=(",", ":"))
    template = (chosen.get("responseTemplates") or {}).get("application/json")
    if template:
        backend = replace(request, body=text.encode(), headers=())
        text = render(str(template), backend, match, **ids)
    return json_response(int(str(chosen.get("statusCode", status))), text)


async def start_execution(
    request: HttpRequest, match: RouteMatch, starter: Starter | None, **ids: str
) -> HttpResponse:
    """Serve one request of a StartExecution route (`ids`: account_id and api_id)."""
    integration: Mapping[str, Any] = match.route.details.get("start_execution") or {}
    if starter is None:
        logger.error("%s %s: no AWS endpoint to start executions on", request.method, match.path)
        return INTERNAL
    try:
        text = _request_body(request, match, integration, **ids)
        if isinstance(text, HttpResponse):
            return text
        try:
            fields = json.loads(text)
        except ValueError as exc:  # e.g. a single quote without UnescapeMappingTemplate
            status, body = 400, {"__type": "SerializationException", "message": str(exc)}
        else:
            if not isinstance(fields, dict):
                fields = {}
            try:
                status, body = await starter(fields)
            except Exception as exc:  # the endpoint unreachable: API Gateway's 500, named here
                logger.error("%s %s: StartExecution: %s", request.method, match.path, exc)
                return INTERNAL
        return _response(status, body, integration, request, match, **ids)
    except MappingError as exc:
        logger.error("%s %s: mapping template: %s", request.method, match.path, exc)
        return INTERNAL
