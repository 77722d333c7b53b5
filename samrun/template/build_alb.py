"""Application Load Balancer target groups of type `lambda`, with the listeners that reach them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samrun.model import Listener, ListenerRule, TargetGroup
from samrun.template.context import BuildContext, flag
from samrun.template.intrinsics import as_text

_HEALTH_FIELDS = {
    "HealthCheckEnabled": "enabled",
    "HealthCheckPath": "path",
    "HealthCheckIntervalSeconds": "interval_s",
    "HealthCheckTimeoutSeconds": "timeout_s",
    "HealthyThresholdCount": "healthy_threshold",
    "UnhealthyThresholdCount": "unhealthy_threshold",
    "Matcher": "matcher",
}


def _forwards_to(actions: Any, arn: str) -> bool:
    for action in actions if isinstance(actions, list) else []:
        if not isinstance(action, dict):
            continue
        if action.get("TargetGroupArn") == arn:
            return True
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if any(isinstance(g, dict) and g.get("TargetGroupArn") == arn for g in groups):
            return True
    return False


def _attributes(attributes: Any) -> dict[str, str]:
    items = attributes if isinstance(attributes, list) else []
    return {as_text(a.get("Key")): as_text(a.get("Value")) for a in items if isinstance(a, dict)}


def build_target_groups(ctx: BuildContext) -> tuple[TargetGroup, ...]:
    listeners: list[tuple[str, Mapping[str, Any]]] = [
        (lid, ctx.resolve(props, lid))
        for lid, props in ctx.of_type("AWS::ElasticLoadBalancingV2::Listener")
    ]
    rules: list[tuple[str, Mapping[str, Any]]] = [
        (lid, ctx.resolve(props, lid))
        for lid, props in ctx.of_type("AWS::ElasticLoadBalancingV2::ListenerRule")
    ]
    groups = []
    for lid, props in ctx.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"):
        group = ctx.resolve(props, lid)
        if as_text(group.get("TargetType", "instance")) != "lambda":
            continue
        targets = [ctx.function_target(t.get("Id")) for t in group.get("Targets", []) or []]
        function = next((t[0] for t in targets if t), None)
        arn = as_text(ctx.table.ref(lid))
        reached = []
        for listener_id, listener in listeners:
            listener_arn = as_text(ctx.table.ref(listener_id))
            listener_rules = [(i, r) for i, r in rules if r.get("ListenerArn") == listener_arn]
            # every rule of a listener that reaches the group: fixed-response and redirect too
            own_rules = tuple(
                ListenerRule(
                    priority=int(as_text(rule.get("Priority", 0))),
                    conditions=tuple(rule.get("Conditions", []) or []),
                    actions=tuple(rule.get("Actions", []) or []),
                    logical_id=rule_id,
                )
                for rule_id, rule in listener_rules
            )
            defaults = listener.get("DefaultActions", []) or []
            forwarding = [r for _, r in listener_rules if _forwards_to(r.get("Actions"), arn)]
            if forwarding or _forwards_to(defaults, arn):
                reached.append(
                    Listener(
                        logical_id=listener_id,
                        port=int(as_text(listener.get("Port", 80))),
                        protocol=as_text(listener.get("Protocol", "HTTP")),
                        default_actions=tuple(defaults),
                        rules=tuple(sorted(own_rules, key=lambda r: r.priority)),
                    )
                )
        attributes = _attributes(group.get("TargetGroupAttributes"))
        groups.append(
            TargetGroup(
                logical_id=lid,
                function=function,
                arn=arn,
                multi_value_headers=flag(
                    attributes.get("lambda.multi_value_headers.enabled"), False
                ),
                health_check={
                    new: group[old] for old, new in _HEALTH_FIELDS.items() if old in group
                },
                listeners=tuple(reached),
            )
        )
    return tuple(groups)
