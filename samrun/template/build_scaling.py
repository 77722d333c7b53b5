"""AWS::ApplicationAutoScaling::ScalableTarget and ScalingPolicy -> `ScalableTarget`.

samrun scales Lambda provisioned concurrency (`lambda:function:ProvisionedConcurrency`) with
target tracking and scheduled actions (samrun/scaling/). Targets of other services, and step or
predictive scaling policies, are named in the not-run list; a Lambda target that cannot be
scaled (a malformed ResourceId, `$LATEST`, an unknown function, min above max) is refused with
its location.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from samrun.errors import TemplateError
from samrun.model import LATEST, ScalableTarget, ScalingPolicy, ScheduledAction, is_unresolved
from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text

TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"
NAMESPACE = "lambda"
DIMENSION = "lambda:function:ProvisionedConcurrency"
PREDEFINED = "LambdaProvisionedConcurrencyUtilization"
SUSPENDED = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")


def build_scaling_targets(ctx: BuildContext) -> tuple[ScalableTarget, ...]:
    targets: dict[str, ScalableTarget] = {}  # by logical id
    for lid, raw in ctx.of_type(TARGET):
        props: dict[str, Any] = ctx.resolve(raw, lid)
        for required in ("ServiceNamespace", "ScalableDimension"):
            if not props.get(required):
                raise _error(ctx, lid, required, f"{required} is required")
        if not _is_lambda(props):
            _skip_other(ctx, lid, TARGET, props)
            continue
        targets[lid] = _target(ctx, lid, props)
    for lid, raw in ctx.of_type(POLICY):
        props = ctx.resolve(raw, lid)
        owner = _owner(ctx, lid, props, targets)
        if owner is None:
            continue
        kind = as_text(props.get("PolicyType", ""))
        if kind != "TargetTrackingScaling":
            reason = f"{kind or 'this'} policies are not run locally: samrun runs target tracking"
            ctx.skip("resource", ctx.source_id(lid) or lid, POLICY, reason)
            continue
        policy = _policy(ctx, lid, props)
        if policy is not None:
            target = targets[owner]
            targets[owner] = replace(target, policies=(*target.policies, policy))
    return tuple(targets.values())


def _is_lambda(props: Mapping[str, Any]) -> bool:
    return (
        as_text(props.get("ServiceNamespace", "")) == NAMESPACE
        and as_text(props.get("ScalableDimension", "")) == DIMENSION
    )


def _skip_other(ctx: BuildContext, lid: str, kind: str, props: Mapping[str, Any]) -> None:
    namespace = as_text(props.get("ServiceNamespace", "?"))
    dimension = as_text(props.get("ScalableDimension", "?"))
    reason = (
        f"{namespace} / {dimension} is not scaled locally: samrun scales Lambda provisioned "
        f"concurrency ({DIMENSION})"
    )
    ctx.skip("resource", ctx.source_id(lid) or lid, kind, reason)


def _error(ctx: BuildContext, lid: str, prop: str, message: str) -> TemplateError:
    return TemplateError(message, ctx.where(lid, prop), "autoscaling", lid)


def _target(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> ScalableTarget:
    function, qualifier = _resource_id(ctx, lid, props.get("ResourceId"))
    low = ctx.integer(lid, props, "MinCapacity")
    high = ctx.integer(lid, props, "MaxCapacity")
    if low is None or high is None:
        missing = "MinCapacity" if low is None else "MaxCapacity"
        raise _error(ctx, lid, missing, f"{missing} is required")
    if low < 0 or high < low:
        raise _error(
            ctx, lid, "MinCapacity", f"MinCapacity {low} / MaxCapacity {high}: need 0 <= min <= max"
        )
    suspended = props.get("SuspendedState") or {}
    actions = props.get("ScheduledActions") or []
    if not isinstance(actions, list):
        raise _error(ctx, lid, "ScheduledActions", "ScheduledActions must be a list")
    return ScalableTarget(
        function=function,
        qualifier=qualifier,
        min_capacity=low,
        max_capacity=high,
        scheduled_actions=tuple(_scheduled(ctx, lid, n, a) for n, a in enumerate(actions)),
        suspended={k: _flag(suspended.get(k)) for k in SUSPENDED if isinstance(suspended, dict)},
        logical_id=ctx.source_id(lid) or lid,
    )


def _resource_id(ctx: BuildContext, lid: str, value: Any) -> tuple[str, str]:
    """`function:NAME:QUALIFIER` (an alias or a published version) of a template function."""
    text = as_text(value) if value is not None else ""
    if is_unresolved(text):
        raise _error(ctx, lid, "ResourceId", f"ResourceId {text!r} cannot be resolved locally")
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != "function" or not parts[1] or not parts[2]:
        raise _error(
            ctx, lid, "ResourceId", f"ResourceId {text!r} must be function:NAME:ALIAS (or VERSION)"
        )
    _, name, qualifier = parts
    if qualifier == LATEST:
        raise _error(ctx, lid, "ResourceId", "provisioned concurrency cannot scale $LATEST")
    if name not in ctx.function_names:
        raise _error(ctx, lid, "ResourceId", f"ResourceId {text!r}: no function {name} here")
    return name, qualifier


def _scheduled(ctx: BuildContext, lid: str, index: int, raw: Any) -> ScheduledAction:
    where = ("ScheduledActions", index)
    if not isinstance(raw, dict) or not raw.get("Schedule") or not raw.get("ScheduledActionName"):
        message = "a scheduled action needs ScheduledActionName and Schedule"
        raise TemplateError(message, ctx.where(lid, *where), "autoscaling", lid)
    action = raw.get("ScalableTargetAction") or {}
    if not isinstance(action, dict):
        message = "ScalableTargetAction must be an object (MinCapacity, MaxCapacity)"
        where_action = ctx.where(lid, *where, "ScalableTargetAction")
        raise TemplateError(message, where_action, "autoscaling", lid)
    schedule = as_text(raw["Schedule"])
    if not schedule.endswith(")") or not schedule.startswith(("at(", "rate(", "cron(")):
        message = f"Schedule {schedule!r}: use at(...), rate(...) or cron(...)"
        where_schedule = ctx.where(lid, *where, "Schedule")
        raise TemplateError(message, where_schedule, "autoscaling", lid)
    return ScheduledAction(
        name=as_text(raw["ScheduledActionName"]),
        schedule=schedule,
        min_capacity=_int_or_none(action.get("MinCapacity")),
        max_capacity=_int_or_none(action.get("MaxCapacity")),
        timezone=text_or_none(raw.get("Timezone")),
        start_time=text_or_none(raw.get("StartTime")),
        end_time=text_or_none(raw.get("EndTime")),
    )


def _owner(
    ctx: BuildContext, lid: str, props: Mapping[str, Any], targets: Mapping[str, ScalableTarget]
) -> str | None:
    """The logical id of the policy's target: ScalingTargetId (CloudFormation's
    `ResourceId|ScalableDimension|ServiceNamespace`, what Ref of the target gives, or its
    logical id), else ResourceId, ScalableDimension and ServiceNamespace; None when not a
    Lambda target."""
    target_id = props.get("ScalingTargetId")
    if target_id is not None:
        text = as_text(target_id)
        text = next((t for t, _ in ctx.of_type(TARGET) if ctx.table.ref(t) == text), text)
        if text in targets:
            return text
        if text in ctx.resources:  # a target that is not run (another service's, or refused)
            reason = f"its scalable target {text} is not run locally"
            ctx.skip("resource", ctx.source_id(lid) or lid, POLICY, reason)
            return None
        resource, _, rest = text.partition("|")
        props = {"ResourceId": resource, "ScalableDimension": rest.partition("|")[0]}
        props["ServiceNamespace"] = rest.partition("|")[2]
    elif not all(props.get(k) for k in ("ResourceId", "ScalableDimension", "ServiceNamespace")):
        message = "ScalingTargetId, or ResourceId, ScalableDimension and ServiceNamespace, needed"
        raise _error(ctx, lid, "ScalingTargetId", message)
    if not _is_lambda(props):
        _skip_other(ctx, lid, POLICY, props)
        return None
    wanted = as_text(props.get("ResourceId", ""))
    for key, target in targets.items():
        if target.resource_id == wanted:
            return key
    raise _error(ctx, lid, "ResourceId", f"no scalable target of {wanted!r} in the template")


def _policy(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> ScalingPolicy | None:
    config = props.get("TargetTrackingScalingPolicyConfiguration")
    prop = "TargetTrackingScalingPolicyConfiguration"
    if not isinstance(config, dict) or config.get("TargetValue") is None:
        raise _error(ctx, lid, prop, f"{prop} with a TargetValue is required")
    try:
        target_value = float(as_text(config["TargetValue"]))
    except ValueError:
        raise _error(ctx, lid, prop, "TargetValue must be a number") from None
    fields: dict[str, Any] = {}
    predefined = config.get("PredefinedMetricSpecification")
    custom = config.get("CustomizedMetricSpecification")
    if isinstance(predefined, dict):
        kind = as_text(predefined.get("PredefinedMetricType", ""))
        if kind != PREDEFINED:
            raise _error(ctx, lid, prop, f"{kind}: Lambda's predefined metric is {PREDEFINED}")
    elif isinstance(custom, dict):
        if custom.get("Metrics"):
            reason = "metric math in a customised metric is not evaluated locally"
            ctx.skip("resource", ctx.source_id(lid) or lid, POLICY, reason)
            return None
        listed = custom.get("Dimensions") or []
        if not isinstance(listed, list):
            raise _error(ctx, lid, prop, "CustomizedMetricSpecification.Dimensions must be a list")
        dims = {
            as_text(d.get("Name")): as_text(d.get("Value")) for d in listed if isinstance(d, dict)
        }
        fields = {
            "metric": as_text(custom.get("MetricName", "")),
            "namespace": as_text(custom.get("Namespace", "")),
            "dimensions": dims,
            "statistic": as_text(custom.get("Statistic", "Average")),
        }
    else:
        message = "PredefinedMetricSpecification or CustomizedMetricSpecification is required"
        raise _error(ctx, lid, prop, message)
    return ScalingPolicy(
        name=as_text(props.get("PolicyName") or lid),
        target_value=target_value,
        scale_in_cooldown_s=_int_or_none(config.get("ScaleInCooldown")) or 0,
        scale_out_cooldown_s=_int_or_none(config.get("ScaleOutCooldown")) or 0,
        disable_scale_in=_flag(config.get("DisableScaleIn")),
        logical_id=ctx.source_id(lid) or lid,
        **fields,
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(float(as_text(value))) if value is not None else None
    except ValueError:
        return None


def _flag(value: Any) -> bool:
    return as_text(value).lower() == "true" if value is not None else False


def text_or_none(value: Any) -> str | None:
    return None if value is None else as_text(value)
