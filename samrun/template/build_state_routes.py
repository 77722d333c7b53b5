"""Routes whose integration starts a state machine's execution: API Gateway's AWS integration
with the `states:action/StartExecution` action, as SAM writes it for a state machine's `Api`
event (and as hand-written OpenAPI may declare it). The machine is the one of this template
whose ARN its request template names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text

START_EXECUTION = ":states:action/StartExecution"


def is_start_execution(integration: Mapping[str, Any]) -> bool:
    uri = integration.get("uri", integration.get("Uri"))
    kind = as_text(integration.get("type", integration.get("Type", ""))).lower()
    return kind == "aws" and isinstance(uri, str) and uri.endswith(START_EXECUTION)


def state_machines(ctx: BuildContext) -> dict[str, str]:
    """ARN -> name of each state machine of this template."""
    return {
        as_text(ctx.table.ref(lid)): ctx.table.name(lid)
        for lid, _ in ctx.of_type("AWS::StepFunctions::StateMachine")
    }


def start_execution(
    ctx: BuildContext, integration: Mapping[str, Any]
) -> tuple[str, str, dict[str, Any]] | None:
    """(machine name, machine ARN, the route's `start_execution` details), or None when the
    integration names no state machine of this template."""
    templates = {
        str(k): as_text(v)
        for k, v in (integration.get("requestTemplates") or {}).items()
        if isinstance(v, str)
    }
    machines = state_machines(ctx)
    arn = next((a for a in machines if any(a in t for t in templates.values())), None)
    if arn is None:
        return None
    responses = integration.get("responses") or {}
    return (
        machines[arn],
        arn,
        {
            "request_templates": templates,
            "passthrough": as_text(integration.get("passthroughBehavior", "WHEN_NO_MATCH")),
            "responses": {str(k): v for k, v in responses.items() if isinstance(v, dict)},
        },
    )


def method_integration(integration: Mapping[str, Any]) -> dict[str, Any]:
    """An `AWS::ApiGateway::Method`'s Integration in the OpenAPI extension's shape (an
    integration response without a SelectionPattern is the default one)."""
    responses = {}
    for item in integration.get("IntegrationResponses") or []:
        if isinstance(item, dict):
            pattern = as_text(item.get("SelectionPattern") or "default")
            responses[pattern] = {
                "statusCode": as_text(item.get("StatusCode", "200")),
                "responseTemplates": item.get("ResponseTemplates") or {},
            }
    return {
        "type": integration.get("Type"),
        "uri": integration.get("Uri"),
        "requestTemplates": integration.get("RequestTemplates") or {},
        "passthroughBehavior": integration.get("PassthroughBehavior", "WHEN_NO_MATCH"),
        "responses": responses,
    }
