"""State machines (AWS::StepFunctions::StateMachine, and SAM's StateMachine after the transform)
as resources samrun creates on the AWS endpoint: the definition text with CloudFormation's
DefinitionSubstitutions applied, and the role it names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from samrun.model import is_unresolved
from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text


def state_machine_properties(
    ctx: BuildContext, lid: str, props: Mapping[str, Any]
) -> dict[str, Any] | None:
    """{"definition": text, "role_arn": ..., "type": STANDARD|EXPRESS, "tracing": bool}, or None
    (named as not run) when the definition is not in the template (DefinitionS3Location) or not
    resolvable."""
    source = ctx.source_id(lid) or lid
    raw = ctx.prop(lid, props, "DefinitionString")
    if raw is None and "Definition" in props:
        raw = json.dumps(ctx.prop(lid, props, "Definition"))
    if not isinstance(raw, str) or is_unresolved(raw):
        where = "in S3" if "DefinitionS3Location" in props else "not resolvable locally"
        ctx.skip("property", f"{source}.Definition", "Definition", f"its definition is {where}")
        return None
    substitutions = ctx.prop(lid, props, "DefinitionSubstitutions", {}) or {}
    for key, value in substitutions.items():
        raw = raw.replace("${" + str(key) + "}", as_text(value))
    return {
        "definition": raw,
        "role_arn": as_text(ctx.prop(lid, props, "RoleArn", "")),
        "type": as_text(ctx.prop(lid, props, "StateMachineType", "STANDARD")),
        "tracing": traced(ctx.prop(lid, props, "TracingConfiguration", {})),
    }


def traced(configuration: Any) -> bool:
    """TracingConfiguration.Enabled (SAM's `Tracing: {Enabled: true}` after the transform)."""
    enabled = configuration.get("Enabled") if isinstance(configuration, Mapping) else None
    return enabled is True or str(enabled).lower() == "true"
