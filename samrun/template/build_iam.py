"""IAM roles and Lambda permissions of a (transformed) template, as the graph keeps them.

Every AWS::IAM::Role becomes an `ExecutionRole` with its inline policies, the AWS::IAM::Policy
and AWS::IAM::ManagedPolicy resources that name it, and its managed policy ARNs: after the SAM
transform, a function's `Policies` (policy templates included) are such a role. Every
AWS::Lambda::Permission becomes a `LambdaPermission`. Only --enforce-iam and `plan` read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samrun.model import ExecutionRole, LambdaPermission, is_unresolved
from samrun.template.context import BuildContext


def _document(value: Any) -> Mapping[str, Any] | None:
    """A policy document as a mapping (CloudFormation accepts it as JSON text too)."""
    if isinstance(value, str) and not is_unresolved(value):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def _texts(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value] if value is not None else []
    return [str(v) for v in items if isinstance(v, str) and not is_unresolved(v)]


def build_roles(ctx: BuildContext) -> tuple[ExecutionRole, ...]:
    names: dict[str, str] = {}  # a role's name, and its logical id, -> its logical id
    roles: dict[str, dict[str, Any]] = {}
    for lid, props in ctx.of_type("AWS::IAM::Role"):
        resolved = ctx.resolve(props, lid)
        name = ctx.table.name(lid)
        names[name] = names[lid] = lid
        if resolved.get("PermissionsBoundary"):  # a role's, or a SAM function's via its role
            reason = (
                "the permissions boundary is not applied: with --enforce-iam only the role's "
                "own policies limit what it may do"
            )
            source = ctx.source_id(lid) or lid
            ctx.skip("property", f"{source}.PermissionsBoundary", "PermissionsBoundary", reason)
        policies = []
        for i, policy in enumerate(resolved.get("Policies") or []):
            document = _document(policy.get("PolicyDocument")) if isinstance(policy, dict) else None
            if document is not None:
                policies.append((str(policy.get("PolicyName") or f"policy{i}"), document))
        roles[lid] = {
            "name": name,
            "arn": str(ctx.table.get_att(lid, "Arn")),
            "policies": policies,
            "managed": _texts(resolved.get("ManagedPolicyArns")),
            "assume": _document(resolved.get("AssumeRolePolicyDocument")) or {},
        }
    for lid, props in ctx.of_type("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        resolved = ctx.resolve(props, lid)
        document = _document(resolved.get("PolicyDocument"))
        if document is None:
            continue
        policy_name = str(resolved.get("PolicyName") or resolved.get("ManagedPolicyName") or lid)
        for role in _texts(resolved.get("Roles")):
            target = names.get(role) or names.get(role.rsplit("/", 1)[-1])
            if target is not None:
                roles[target]["policies"].append((policy_name, document))
    return tuple(
        ExecutionRole(
            logical_id=lid,
            name=role["name"],
            arn=role["arn"],
            policies=tuple(role["policies"]),
            managed_arns=tuple(role["managed"]),
            assume_policy=role["assume"],
        )
        for lid, role in roles.items()
    )


def build_permissions(ctx: BuildContext) -> tuple[LambdaPermission, ...]:
    permissions = []
    for lid, props in ctx.of_type("AWS::Lambda::Permission"):
        resolved = ctx.resolve(props, lid)
        function = resolved.get("FunctionName")
        if not isinstance(function, str) or is_unresolved(function):
            continue
        target = ctx.function_target(function)
        if target is None:  # a function deployed elsewhere, or none: AWS would say which
            reason = (
                f"FunctionName {function!r} names no function of this template (one deployed "
                "elsewhere?): its permission is not kept locally"
            )
            ctx.skip("resource", ctx.source_id(lid) or lid, "AWS::Lambda::Permission", reason)
            continue
        function = target[0] + (f":{target[1]}" if target[1] else "")  # its name (and qualifier)
        optional = {
            key: str(resolved[prop])
            for key, prop in (
                ("source_arn", "SourceArn"),
                ("source_account", "SourceAccount"),
                ("function_url_auth_type", "FunctionUrlAuthType"),
                ("principal_org_id", "PrincipalOrgID"),
            )
            if isinstance(resolved.get(prop), str | int) and not is_unresolved(resolved[prop])
        }
        permissions.append(
            LambdaPermission(
                logical_id=ctx.source_id(lid) or lid,
                function=function,
                action=str(resolved.get("Action") or "lambda:InvokeFunction"),
                principal=str(resolved.get("Principal") or ""),
                **optional,
            )
        )
    return tuple(permissions)
