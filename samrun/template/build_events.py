"""Event source mappings, push sources and schedules, from the resources that wire them.

SAM's event types all become plain CloudFormation resources (EventSourceMapping, Events::Rule,
Scheduler::Schedule, SNS::Subscription, bucket notifications, ...), so reading those resources
covers both SAM and hand-written templates with one set of converters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from samrun.model import (
    ESM_SETTING_FIELDS,
    EventSourceMapping,
    PushSource,
    Schedule,
    esm_source_type,
    is_unresolved,
)
from samrun.template.context import BuildContext, flag, text_or_none
from samrun.template.intrinsics import as_text


def _esm_type(arn: str, props: Mapping[str, Any]) -> str:
    return "kafka" if "SelfManagedEventSource" in props else esm_source_type(arn)


def build_event_source_mappings(ctx: BuildContext) -> tuple[EventSourceMapping, ...]:
    mappings = []
    for lid, props in ctx.of_type("AWS::Lambda::EventSourceMapping"):
        target = ctx.function_target(ctx.prop(lid, props, "FunctionName"))
        if target is None:
            ctx.resolver.warnings.append(f"{lid}: its FunctionName is not a function of this app")
            continue
        source = as_text(ctx.prop(lid, props, "EventSourceArn", ""))
        if not source and "SelfManagedEventSource" in props:
            endpoints = ctx.prop(lid, props, "SelfManagedEventSource")
            servers = (endpoints.get("Endpoints") or {}).get("KafkaBootstrapServers", [])
            source = ",".join(as_text(s) for s in servers)
        filters = (ctx.prop(lid, props, "FilterCriteria") or {}).get("Filters", []) or []
        mappings.append(
            EventSourceMapping(
                function=target[0],
                qualifier=target[1],
                source_type=_esm_type(source, props),
                source=source,
                batch_size=ctx.integer(lid, props, "BatchSize"),
                starting_position=text_or_none(ctx.prop(lid, props, "StartingPosition")),
                maximum_batching_window_s=ctx.integer(lid, props, "MaximumBatchingWindowInSeconds"),
                function_response_types=tuple(
                    as_text(t) for t in ctx.prop(lid, props, "FunctionResponseTypes", []) or []
                ),
                filters=tuple(f for f in filters if isinstance(f, dict)),
                enabled=flag(ctx.prop(lid, props, "Enabled"), True),
                logical_id=lid,
                details={
                    key: ctx.resolve(value, lid, key)
                    for key, value in props.items()
                    if key not in ESM_SETTING_FIELDS
                },
            )
        )
    return tuple(mappings)


Target = tuple[dict[str, Any], str, str | None, str | None]


def _state_machines(ctx: BuildContext) -> dict[str, str]:
    """ARN -> name of each state machine of this template (targets of its rules)."""
    return {
        as_text(ctx.table.ref(lid)): ctx.table.name(lid)
        for lid, _ in ctx.of_type("AWS::StepFunctions::StateMachine")
    }


def _targets(ctx: BuildContext, items: Any) -> Iterator[Target]:
    """(target, function name, qualifier, None) for each entry of a Targets list that is a
    function; (target, state machine name, None, its ARN) for one that is a state machine."""
    machines = _state_machines(ctx)
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            target = ctx.function_target(item.get("Arn"))
            arn = item.get("Arn")
            if target:
                yield item, target[0], target[1], None
            elif isinstance(arn, str) and arn in machines:
                yield item, machines[arn], None, arn


def _dead_letter(target: Mapping[str, Any]) -> str | None:
    """A rule target's DeadLetterConfig queue ARN, when it names one."""
    config = target.get("DeadLetterConfig")
    arn = config.get("Arn") if isinstance(config, Mapping) else None
    return arn if isinstance(arn, str) and arn.startswith("arn:") else None


def build_schedules(ctx: BuildContext) -> tuple[Schedule, ...]:
    schedules = []
    for lid, props in ctx.of_type("AWS::Events::Rule"):
        if "ScheduleExpression" not in props:
            continue
        rule = ctx.resolve(props, lid)
        for target, name, qualifier, machine in _targets(ctx, rule.get("Targets")):
            for key in ("InputPath", "InputTransformer"):
                if key in target:
                    ctx.resolver.warnings.append(
                        f"{lid}: the {key} of a schedule's target is not applied; "
                        "samrun sends the scheduled event"
                    )
            schedules.append(
                Schedule(
                    function=name,
                    qualifier=qualifier,
                    expression=as_text(rule["ScheduleExpression"]),
                    enabled=as_text(rule.get("State", "ENABLED")) != "DISABLED",
                    input=text_or_none(target.get("Input")),
                    name=ctx.table.name(lid),
                    logical_id=lid,
                    state_machine=machine,
                    dead_letter=_dead_letter(target),
                )
            )
    for lid, props in ctx.of_type("AWS::Scheduler::Schedule"):
        schedule = ctx.resolve(props, lid)
        for target, name, qualifier, machine in _targets(ctx, [schedule.get("Target")]):
            schedules.append(
                Schedule(
                    function=name,
                    qualifier=qualifier,
                    expression=as_text(schedule.get("ScheduleExpression", "")),
                    enabled=as_text(schedule.get("State", "ENABLED")) == "ENABLED",
                    input=text_or_none(target.get("Input")),
                    name=ctx.table.name(lid),
                    logical_id=lid,
                    timezone=text_or_none(schedule.get("ScheduleExpressionTimezone")),
                    kind="scheduler",
                    start_date=text_or_none(schedule.get("StartDate")),
                    end_date=text_or_none(schedule.get("EndDate")),
                    state_machine=machine,
                )
            )
    return tuple(schedules)


def _rules(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> Iterator[PushSource]:
    if "EventPattern" not in props:
        return
    rule = ctx.resolve(props, lid)
    bus = as_text(rule.get("EventBusName", "default"))
    if bus.startswith("arn:"):
        bus = bus.rsplit("/", 1)[-1]
    for target, name, qualifier, machine in _targets(ctx, rule.get("Targets")):
        details = {
            "pattern": rule["EventPattern"],
            "rule": ctx.table.name(lid),
            "enabled": as_text(rule.get("State", "ENABLED")) != "DISABLED",
        }
        for key in ("Input", "InputPath", "InputTransformer", "DeadLetterConfig", "RetryPolicy"):
            if key in target:
                details[key[0].lower() + key[1:]] = target[key]
        yield PushSource(
            function=name,
            qualifier=qualifier,
            type="eventbridge",
            source=bus,
            details=details,
            logical_id=lid,
            state_machine=machine,
        )


def _buckets(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> Iterator[PushSource]:
    notifications = props.get("NotificationConfiguration")
    if not notifications:
        return
    config = ctx.resolve(notifications, lid, "NotificationConfiguration")
    for item in config.get("LambdaConfigurations", []) or []:
        target = ctx.function_target(item.get("Function"))
        if target:
            details = {"event": item.get("Event"), "filter": item.get("Filter", {})}
            yield PushSource(
                function=target[0],
                qualifier=target[1],
                type="s3",
                source=as_text(ctx.table.ref(lid)),
                details=details,
                logical_id=lid,
            )


def _cdk_bucket_notifications(
    ctx: BuildContext, lid: str, props: Mapping[str, Any]
) -> Iterator[PushSource]:
    """CDK's `bucket.addEventNotification`: a custom resource that puts the bucket's
    notification configuration (the S3 API's spelling) when deployed; realised as the bucket's
    own NotificationConfiguration is."""
    config = ctx.resolve(props.get("NotificationConfiguration") or {}, lid, "Notification")
    bucket = ctx.resolve(props.get("BucketName"), lid, "BucketName")
    if not isinstance(config, dict) or bucket is None or is_unresolved(bucket):
        return
    for item in config.get("LambdaFunctionConfigurations", []) or []:
        target = ctx.function_target(item.get("LambdaFunctionArn"))
        if target:
            details = {"event": item.get("Events"), "filter": item.get("Filter", {})}
            yield PushSource(
                function=target[0],
                qualifier=target[1],
                type="s3",
                source=as_text(bucket),
                details=details,
                logical_id=lid,
            )


def _subscriptions(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> Iterator[PushSource]:
    if as_text(ctx.prop(lid, props, "Protocol", "")) != "lambda":
        return
    target = ctx.function_target(ctx.prop(lid, props, "Endpoint"))
    if target:
        details = {
            key: ctx.resolve(props[key], lid, key)
            for key in ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy")
            if key in props
        }
        yield PushSource(
            function=target[0],
            qualifier=target[1],
            type="sns",
            source=as_text(ctx.prop(lid, props, "TopicArn")),
            details=details,
            logical_id=lid,
        )


def _log_filters(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> Iterator[PushSource]:
    target = ctx.function_target(ctx.prop(lid, props, "DestinationArn"))
    if target:
        details = {"filter_pattern": ctx.prop(lid, props, "FilterPattern", "")}
        yield PushSource(
            function=target[0],
            qualifier=target[1],
            type="cloudwatch_logs",
            source=as_text(ctx.prop(lid, props, "LogGroupName")),
            details=details,
            logical_id=lid,
        )


def _topic_rules(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> Iterator[PushSource]:
    payload = ctx.prop(lid, props, "TopicRulePayload", {}) or {}
    for action in payload.get("Actions", []) or []:
        target = ctx.function_target((action.get("Lambda") or {}).get("FunctionArn"))
        if target:
            details = {
                "sql": payload.get("Sql"),
                "enabled": not flag(payload.get("RuleDisabled"), False),
            }
            yield PushSource(
                function=target[0],
                qualifier=target[1],
                type="iot",
                source=ctx.table.name(lid),
                details=details,
                logical_id=lid,
            )


def _user_pools(ctx: BuildContext, lid: str, props: Mapping[str, Any]) -> Iterator[PushSource]:
    config = ctx.prop(lid, props, "LambdaConfig", {}) or {}
    for trigger, arn in config.items():
        target = ctx.function_target(arn)
        if target:
            yield PushSource(
                function=target[0],
                qualifier=target[1],
                type="cognito",
                source=lid,
                details={"trigger": trigger},
                logical_id=lid,
            )


_PUSH: dict[str, Callable[[BuildContext, str, Mapping[str, Any]], Iterator[PushSource]]] = {
    "AWS::Events::Rule": _rules,
    "AWS::S3::Bucket": _buckets,
    "Custom::S3BucketNotifications": _cdk_bucket_notifications,
    "AWS::SNS::Subscription": _subscriptions,
    "AWS::Logs::SubscriptionFilter": _log_filters,
    "AWS::IoT::TopicRule": _topic_rules,
    "AWS::Cognito::UserPool": _user_pools,
}


def build_push_sources(ctx: BuildContext) -> tuple[PushSource, ...]:
    sources: list[PushSource] = []
    for lid, resource in ctx.resources.items():
        converter = _PUSH.get(resource.get("Type", ""))
        if converter:
            sources.extend(
                s
                for s in converter(ctx, lid, resource.get("Properties") or {})
                if not is_unresolved(s.function)
            )
    return tuple(sources)
