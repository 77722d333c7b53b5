"""Scalable targets, policies and scheduled actions on the AWS endpoint's Application Auto Scaling.

The endpoint is the one source of truth: `up` registers the template's targets, policies and
scheduled actions there (as CloudFormation would), and the scaler reads them back each period,
so those made at run time (boto3, the AWS CLI) are scaled the same way. Calls are blocking
(botocore): the scaler runs them in a thread.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from samrun.aws.endpoint import AwsEndpoint
from samrun.aws.moto_autoscaling import ACTIVITY_PATH
from samrun.model import ScalableTarget, ScalingPolicy, ScheduledAction
from samrun.template.build_scaling import DIMENSION, NAMESPACE, PREDEFINED

logger = logging.getLogger(__name__)

SUSPENDED = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def register(aws: AwsEndpoint, targets: tuple[ScalableTarget, ...]) -> None:
    """Put the template's targets, their policies and scheduled actions on the endpoint."""
    client = aws.client("application-autoscaling")
    for target in targets:
        where = {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": target.resource_id,
            "ScalableDimension": DIMENSION,
        }
        extra: dict[str, Any] = {}
        if target.suspended:
            extra["SuspendedState"] = dict(target.suspended)
        client.register_scalable_target(
            **where, MinCapacity=target.min_capacity, MaxCapacity=target.max_capacity, **extra
        )
        for policy in target.policies:
            client.put_scaling_policy(
                **where,
                PolicyName=policy.name,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=policy_configuration(policy),
            )
        for action in target.scheduled_actions:
            fields: dict[str, Any] = {"Schedule": action.schedule}
            bounds = {
                k: v
                for k, v in (
                    ("MinCapacity", action.min_capacity),
                    ("MaxCapacity", action.max_capacity),
                )
                if v is not None
            }
            fields["ScalableTargetAction"] = bounds
            if action.timezone:
                fields["Timezone"] = action.timezone
            for key, value in (("StartTime", action.start_time), ("EndTime", action.end_time)):
                if value:
                    fields[key] = datetime.fromisoformat(value.replace("Z", "+00:00"))
            client.put_scheduled_action(**where, ScheduledActionName=action.name, **fields)


def reconcile(
    aws: AwsEndpoint, old: tuple[ScalableTarget, ...], new: tuple[ScalableTarget, ...]
) -> list[str]:
    """A template edit, as a stack update applies it: the template's targets, policies and
    scheduled actions that the edit removed are deleted (a removed target is deregistered, which
    deletes what is left of it), the new and changed ones put again; what was made at run time
    is left alone. One line per target that changed, for the log."""
    client = aws.client("application-autoscaling")
    before = {t.resource_id: t for t in old}
    after = {t.resource_id: t for t in new}
    lines = []
    for resource_id, target in before.items():
        where = {
            "ServiceNamespace": NAMESPACE,
            "ResourceId": resource_id,
            "ScalableDimension": DIMENSION,
        }
        kept = after.get(resource_id) or replace(target, policies=(), scheduled_actions=())
        for policy in {p.name for p in target.policies} - {p.name for p in kept.policies}:
            _forgiving(client.delete_scaling_policy, **where, PolicyName=policy)
        gone = {a.name for a in target.scheduled_actions} - {a.name for a in kept.scheduled_actions}
        for action in gone:
            _forgiving(client.delete_scheduled_action, **where, ScheduledActionName=action)
        if resource_id not in after:  # its policies and actions first, as a stack deletes them
            _forgiving(client.deregister_scalable_target, **where)
            lines.append(f"{resource_id} deregistered")
    changed = tuple(t for t in new if before.get(t.resource_id) != t)
    register(aws, changed)
    lines += [
        f"{t.resource_id} {'updated' if t.resource_id in before else 'registered'}" for t in changed
    ]
    return lines


def _forgiving(call: Any, **fields: Any) -> None:
    """Delete what may be gone already (deleted at run time): ObjectNotFound / Validation."""
    from botocore.exceptions import ClientError  # botocore is imported when first used

    try:
        call(**fields)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in ("ObjectNotFoundException", "ValidationException"):
            raise


def policy_configuration(policy: ScalingPolicy) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TargetValue": policy.target_value,
        "ScaleInCooldown": policy.scale_in_cooldown_s,
        "ScaleOutCooldown": policy.scale_out_cooldown_s,
        "DisableScaleIn": policy.disable_scale_in,
    }
    if policy.dimensions or policy.namespace != "AWS/Lambda":
        config["CustomizedMetricSpecification"] = {
            "MetricName": policy.metric,
            "Namespace": policy.namespace,
            "Dimensions": [{"Name": k, "Value": v} for k, v in policy.dimensions.items()],
            "Statistic": policy.statistic,
        }
    else:
        config["PredefinedMetricSpecification"] = {"PredefinedMetricType": PREDEFINED}
    return config


Alarms = dict[tuple[str, str], dict[str, str]]  # (ResourceId, policy) -> AlarmHigh/Low -> name


def read(aws: AwsEndpoint) -> tuple[tuple[ScalableTarget, ...], list[str], Alarms]:
    """The endpoint's Lambda provisioned concurrency targets, with their target tracking
    policies and scheduled actions; why any of them is not run (step scaling, ...); and the
    names of each policy's two alarms (DescribeScalingPolicies' `Alarms`)."""
    client = aws.client("application-autoscaling")
    scope = {"ServiceNamespace": NAMESPACE}
    raw_targets = _all_pages(client.describe_scalable_targets, "ScalableTargets", scope)
    raw_policies = _all_pages(client.describe_scaling_policies, "ScalingPolicies", scope)
    raw_actions = client.describe_scheduled_actions(**scope).get("ScheduledActions", [])
    problems: list[str] = []
    alarms: Alarms = {}
    for p in raw_policies:
        for alarm in p.get("Alarms") or []:
            name = str(alarm.get("AlarmName", ""))
            kind = next((k for k in ("AlarmHigh", "AlarmLow") if f"-{k}-" in name), None)
            if kind:
                key = (str(p.get("ResourceId")), str(p.get("PolicyName")))
                alarms.setdefault(key, {})[kind] = name
    targets = []
    for raw in raw_targets:
        if raw.get("ScalableDimension") != DIMENSION:
            continue
        resource_id = str(raw.get("ResourceId", ""))
        parts = resource_id.split(":")
        if len(parts) != 3 or parts[0] != "function":
            problems.append(f"{resource_id}: not function:NAME:QUALIFIER")
            continue
        policies = []
        for p in raw_policies:
            if p.get("ResourceId") != resource_id or p.get("ScalableDimension") != DIMENSION:
                continue
            policy = _policy(p, problems)
            if policy is not None:
                policies.append(policy)
        actions = [
            _action(a)
            for a in raw_actions
            if a.get("ResourceId") == resource_id and a.get("ScalableDimension") == DIMENSION
        ]
        suspended = raw.get("SuspendedState") or {}
        targets.append(
            ScalableTarget(
                function=parts[1],
                qualifier=parts[2],
                min_capacity=int(raw.get("MinCapacity") or 0),
                max_capacity=int(raw.get("MaxCapacity") or 0),
                policies=tuple(policies),
                scheduled_actions=tuple(actions),
                suspended={k: bool(suspended.get(k)) for k in SUSPENDED},
            )
        )
    return tuple(targets), problems, alarms


def set_bounds(aws: AwsEndpoint, target: ScalableTarget, low: int, high: int) -> None:
    """A scheduled action's effect: the target's new min and max capacity."""
    aws.client("application-autoscaling").register_scalable_target(
        ServiceNamespace=NAMESPACE,
        ResourceId=target.resource_id,
        ScalableDimension=DIMENSION,
        MinCapacity=low,
        MaxCapacity=high,
    )


def record_activity(aws: AwsEndpoint, account: str, region: str, activity: dict[str, Any]) -> None:
    """Hand a scaling activity to the embedded moto server, for DescribeScalingActivities."""
    body = json.dumps({"account": account, "region": region, "activity": activity}, default=str)
    request = urllib.request.Request(
        f"{aws.url}{ACTIVITY_PATH}",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def _all_pages(call: Any, key: str, scope: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while True:
        answer = call(**scope, **({"NextToken": token} if token else {}))
        found += answer.get(key, [])
        token = answer.get("NextToken")
        if not token:
            return found


def _policy(raw: dict[str, Any], problems: list[str]) -> ScalingPolicy | None:
    name = str(raw.get("PolicyName", ""))
    if raw.get("PolicyType") != "TargetTrackingScaling":
        problems.append(f"policy {name}: {raw.get('PolicyType')} is not run locally")
        return None
    config = raw.get("TargetTrackingScalingPolicyConfiguration") or {}
    fields: dict[str, Any] = {}
    custom = config.get("CustomizedMetricSpecification")
    predefined = config.get("PredefinedMetricSpecification")
    if isinstance(custom, dict) and custom.get("MetricName"):
        fields = {
            "metric": str(custom["MetricName"]),
            "namespace": str(custom.get("Namespace", "")),
            "dimensions": {
                str(d.get("Name")): str(d.get("Value")) for d in custom.get("Dimensions") or []
            },
            "statistic": str(custom.get("Statistic", "Average")),
        }
    elif not isinstance(predefined, dict) or (predefined.get("PredefinedMetricType") != PREDEFINED):
        problems.append(f"policy {name}: tracks no metric samrun has (use {PREDEFINED})")
        return None
    try:
        target_value = float(config["TargetValue"])
    except (KeyError, TypeError, ValueError):
        problems.append(f"policy {name}: no TargetValue")
        return None
    return ScalingPolicy(
        name=name,
        target_value=target_value,
        scale_in_cooldown_s=int(config.get("ScaleInCooldown") or 0),
        scale_out_cooldown_s=int(config.get("ScaleOutCooldown") or 0),
        disable_scale_in=bool(config.get("DisableScaleIn")),
        **fields,
    )


def _action(raw: dict[str, Any]) -> ScheduledAction:
    bounds = raw.get("ScalableTargetAction") or {}
    return ScheduledAction(
        name=str(raw.get("ScheduledActionName", "")),
        schedule=str(raw.get("Schedule", "")),
        min_capacity=_int(bounds.get("MinCapacity")),
        max_capacity=_int(bounds.get("MaxCapacity")),
        timezone=raw.get("Timezone") or None,
        start_time=_time(raw.get("StartTime")),
        end_time=_time(raw.get("EndTime")),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _time(value: Any) -> str | None:
    """An ISO 8601 UTC time from what the endpoint gives (a datetime, or epoch seconds)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)
