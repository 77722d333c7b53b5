"""What samrun realises of a template, and the "not run locally" list for everything else.

Nothing a template declares is dropped silently: each CloudFormation resource type (after the
SAM transform), each SAM event type and each function property samrun does not run is named
once in `AppGraph.not_run`, which startup, `plan` and /_samrun/state show. The tables here are
the one place that says what samrun runs; tests walk them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from samrun.model import (
    POLLED_SOURCE_TYPES,
    RELAYED_PUSH_TYPES,
    AppGraph,
    EventSourceMapping,
    Function,
    PushSource,
)
from samrun.template.context import BuildContext

REALISED: Mapping[str, str] = {
    "AWS::Lambda::Function": "functions",
    "AWS::Lambda::LayerVersion": "layers",
    "AWS::Lambda::Version": "versions",
    "AWS::Lambda::Alias": "aliases",
    "AWS::Lambda::EventInvokeConfig": "async invocation settings",
    "AWS::Lambda::Url": "function URLs",
    "AWS::Lambda::EventSourceMapping": "event source mappings",
    "AWS::SQS::Queue": "created on the AWS endpoint",
    "AWS::SNS::Topic": "created on the AWS endpoint",
    "AWS::SNS::Subscription": "push sources",
    "AWS::S3::Bucket": "created on the AWS endpoint",
    "AWS::Kinesis::Stream": "created on the AWS endpoint",
    "AWS::DynamoDB::Table": "created on the AWS endpoint",
    "AWS::DynamoDB::GlobalTable": "created on the AWS endpoint",
    "AWS::Events::EventBus": "created on the AWS endpoint",
    "AWS::CloudWatch::Alarm": "alarms, evaluated on samrun's AWS/Lambda metrics",
    "AWS::Events::Rule": "schedules and push sources",
    "AWS::Scheduler::Schedule": "schedules",
    "AWS::Logs::SubscriptionFilter": "push sources",
    "Custom::S3BucketNotifications": "push sources (CDK's bucket notifications)",
    "AWS::IoT::TopicRule": "push sources",
    "AWS::Cognito::UserPool": "push sources (its Lambda triggers)",
    "AWS::ApiGateway::RestApi": "API routes",
    "AWS::ApiGateway::Resource": "API routes",
    "AWS::ApiGateway::Method": "API routes",
    "AWS::ApiGateway::Stage": "API stages and stage variables",
    "AWS::ApiGateway::Deployment": "API stages",
    "AWS::ApiGateway::Authorizer": "Lambda authorizers",
    "AWS::ApiGatewayV2::Api": "API routes",
    "AWS::ApiGatewayV2::Route": "API routes",
    "AWS::ApiGatewayV2::Integration": "API routes",
    "AWS::ApiGatewayV2::Stage": "API stages and stage variables",
    "AWS::ApiGatewayV2::Authorizer": "Lambda authorizers",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "ALB listeners",
    "AWS::ElasticLoadBalancingV2::Listener": "ALB listeners",
    "AWS::ElasticLoadBalancingV2::ListenerRule": "ALB listener rules",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "ALB target groups",
    "AWS::SSM::Parameter": "created on the AWS endpoint",
    "AWS::SecretsManager::Secret": "created on the AWS endpoint",
    "AWS::KMS::Key": "created on the AWS endpoint",
    "AWS::Logs::LogGroup": "created on the AWS endpoint",
    "AWS::IAM::Role": "created on the AWS endpoint (its policies enforced with --enforce-iam)",
    "AWS::CloudFormation::Stack": "nested applications, from local templates",
    "AWS::StepFunctions::StateMachine": "created on the AWS endpoint, its Lambda tasks run here",
    "AWS::ApplicationAutoScaling::ScalableTarget": (
        "provisioned concurrency auto scaling (Lambda's; other services' are named)"
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": (
        "target tracking of provisioned concurrency (step and predictive policies are named)"
    ),
    "AWS::CloudFront::Distribution": "CloudFront doors, their Lambda@Edge functions run here",
}
"""CloudFormation resource types samrun runs, with what it makes of them."""

SUBSUMED: Mapping[str, str] = {
    "AWS::ApiGatewayV2::Deployment": "HTTP API stages serve as declared",
    "AWS::CodeDeploy::Application": "the SAM function's DeploymentPreference is run",
    "AWS::CodeDeploy::DeploymentGroup": "the SAM function's DeploymentPreference is run",
    "AWS::CloudFront::OriginAccessControl": (
        "the local S3 origin is read by samrun anyway (its own signed requests)"
    ),
    "AWS::CloudFront::CloudFrontOriginAccessIdentity": (
        "the local S3 origin is read by samrun anyway (its own signed requests)"
    ),
}
"""Types whose whole local effect samrun realises through another resource."""

NOT_ENFORCED: Mapping[str, str] = {
    "AWS::Lambda::Permission": "resource-based permissions are not checked locally",
    "AWS::Lambda::LayerVersionPermission": "resource-based permissions are not checked locally",
    "AWS::IAM::Policy": "IAM is not enforced locally",
    "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
    "AWS::SQS::QueuePolicy": "resource policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "resource policies are not enforced locally",
    "AWS::S3::BucketPolicy": "resource policies are not enforced locally",
}
"""Access-control types: accepted and named once per type, enforced only as below."""

ENFORCED_BY_IAM = ("AWS::Lambda::Permission", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
"""What --enforce-iam enforces (samrun.iam), so the not-run list stops naming it then."""


def iam_enforced(graph: AppGraph) -> AppGraph:
    """`graph` as --enforce-iam runs it: its Lambda permissions, IAM policies and AWS_IAM
    function URLs are no longer named as not checked."""
    kept = tuple(
        n
        for n in graph.not_run
        if n.type not in ENFORCED_BY_IAM
        and not (n.what == "authorizer" and n.type == "iam" and n.name.endswith("/FunctionUrl"))
    )
    return replace(graph, not_run=kept)


REASONS: Mapping[str, str] = {
    "AWS::CDK::Metadata": "CDK's usage report: nothing to run locally",
    "Custom::LogRetention": "CDK's log retention custom resource: logs stay local",
    "Custom::S3AutoDeleteObjects": "CDK's auto-delete custom resource: runs only on stack delete",
    "Custom::CDKBucketDeployment": "CDK's bucket deployment custom resource: not uploaded locally",
    **dict.fromkeys(
        (
            "AWS::EC2::Subnet",
            "AWS::EC2::RouteTable",
            "AWS::EC2::Route",
            "AWS::EC2::SubnetRouteTableAssociation",
            "AWS::EC2::NatGateway",
            "AWS::EC2::InternetGateway",
        ),
        "not created; read for VPC functions' internet egress (NAT routes)",
    ),
    **dict.fromkeys(
        (
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::SecurityGroupIngress",
            "AWS::EC2::SecurityGroupEgress",
        ),
        "not created, not evaluated: a VPC function's traffic is not filtered by security groups",
    ),
    "AWS::EC2::VPCEndpoint": (
        "not created: a gateway or interface endpoint would give a private subnet access to its "
        "service (S3, DynamoDB, ...); samrun's AWS endpoint is always reachable from functions"
    ),
    **dict.fromkeys(
        ("AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::InstanceProfile"),
        "not created: functions act as their execution role (enforced with --enforce-iam)",
    ),
    "AWS::CloudFront::Function": "CloudFront Functions do not run locally (Lambda@Edge does)",
    "AWS::CloudFront::CachePolicy": (
        "cache policies are not applied: the local cache keys on method, path and query string"
    ),
    "AWS::CloudFront::OriginRequestPolicy": (
        "origin request policies are not applied: every header, cookie and query string is "
        "forwarded"
    ),
    "AWS::CloudFront::ResponseHeadersPolicy": (
        "response headers policies are not applied: no headers are added"
    ),
}
"""Why a resource type that samrun does not run needs nothing locally (CDK's additions)."""

SAM_EVENTS: Mapping[str, str | None] = {
    "Api": "routes",
    "HttpApi": "routes",
    "SQS": "event source mappings",
    "Kinesis": "event source mappings",
    "DynamoDB": "event source mappings",
    "MSK": "event source mappings",
    "MQ": "event source mappings",
    "SelfManagedKafka": "event source mappings",
    "DocumentDB": "event source mappings",
    "S3": "push sources",
    "SNS": "push sources",
    "EventBridgeRule": "push sources",
    "CloudWatchEvent": "push sources or schedules",
    "Schedule": "schedules",
    "ScheduleV2": "schedules",
    "CloudWatchLogs": "push sources",
    "IoTRule": "push sources",
    "Cognito": "push sources",
    "AlexaSkill": None,
}
"""SAM event types of a function: what samrun makes of them (None: not run)."""

STATE_MACHINE_EVENTS = ("Schedule", "ScheduleV2", "EventBridgeRule", "CloudWatchEvent", "Api")
"""SAM event types of a state machine samrun runs: each event starts an execution."""

FUNCTION_PROPERTIES: Mapping[str, str] = {
    "FileSystemConfigs": "EFS file systems are not mounted",
    "SnapStart": "every cold start runs the init phase",
    "CodeSigningConfigArn": "code signatures are not checked",
    "CapacityProviderConfig": (
        "Lambda Managed Instances: runs as an ordinary function: one invocation per instance at "
        "a time, frozen between invocations, killed at its timeout, scaled per request; no "
        "capacity provider, instance types or CPU-based scaling"
    ),
}
"""Properties of AWS::Lambda::Function samrun accepts and does not realise."""


def name_unrealised(
    ctx: BuildContext,
    functions: tuple[Function, ...],
    mappings: tuple[EventSourceMapping, ...] = (),
    pushes: tuple[PushSource, ...] = (),
) -> None:
    """Add to `ctx.not_run` every resource type, SAM event, function property and trigger of
    the (transformed) template that samrun does not realise."""
    for mapping in mappings:
        if mapping.source_type not in POLLED_SOURCE_TYPES:
            name = mapping.logical_id or f"{mapping.function} <- {mapping.source}"
            reason = f"{mapping.source_type} event source mappings are not polled locally"
            ctx.skip("event", name, mapping.source_type, reason)
    for push in pushes:
        if push.type not in RELAYED_PUSH_TYPES:
            name = push.logical_id or f"{push.function} <- {push.source}"
            ctx.skip("event", name, push.type, "samrun does not emulate this trigger's source")
    for function in functions:
        if function.config.code.remote:
            ctx.skip(
                "property",
                f"{function.logical_id}.Code",
                "Code",
                f"code at {function.config.code.remote} is not downloaded",
            )
    not_enforced: dict[str, list[str]] = {}
    for lid, resource in ctx.resources.items():
        kind = str(resource.get("Type", ""))
        source = ctx.source_id(lid) or lid
        if kind in REALISED or kind in SUBSUMED:
            pass
        elif kind in NOT_ENFORCED:
            ids = not_enforced.setdefault(kind, [])
            if source not in ids:
                ids.append(source)
        elif any(n.name == source and n.type == kind for n in ctx.not_run):
            pass  # a converter named it already, with a better reason
        else:
            reason = REASONS.get(kind, "samrun does not run this resource type locally")
            ctx.skip("resource", source, kind, reason)
        if kind == "AWS::Lambda::Function":
            _function_properties(ctx, source, resource.get("Properties") or {})
    for kind, ids in not_enforced.items():
        ctx.skip("resource", ",".join(ids), kind, f"accepted, not enforced: {NOT_ENFORCED[kind]}")
    _sam_events(ctx)


def _sam_events(ctx: BuildContext) -> None:
    """SAM events samrun does not run: a function's of a kind it lacks, a state machine's."""
    for lid, resource in ctx.sam_resources.items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind not in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        for name, event in events.items() if isinstance(events, dict) else ():
            event_type = str(event.get("Type")) if isinstance(event, dict) else "?"
            if kind == "AWS::Serverless::StateMachine":
                if event_type in STATE_MACHINE_EVENTS:
                    continue
                reason = "this trigger of a state machine is not run: start it with StartExecution"
            elif SAM_EVENTS.get(event_type) is None:
                reason = "this trigger is not run"
            else:
                continue
            ctx.skip("event", f"{lid}.Events.{name}", event_type, reason)


def _function_properties(ctx: BuildContext, source: str, props: Mapping[str, Any]) -> None:
    for prop, reason in FUNCTION_PROPERTIES.items():
        value = props.get(prop)
        if prop == "SnapStart" and isinstance(value, dict):
            value = value.get("ApplyOn") not in (None, "None")
        if value:
            ctx.skip("property", f"{source}.{prop}", prop, reason)
    vpc = props.get("VpcConfig")
    if isinstance(vpc, dict) and vpc.get("SubnetIds") and vpc.get("SecurityGroupIds"):
        reason = (
            "security groups are not evaluated: the function's traffic follows its subnets' "
            "routes only, no inbound or outbound rule filters it"
        )
        ctx.skip("property", f"{source}.VpcConfig.SecurityGroupIds", "SecurityGroupIds", reason)
