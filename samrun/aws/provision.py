"""Create the template's queues, topics, buckets, streams, tables and buses in the AWS endpoint.

What exists already is kept (a second `up` against the same LocalStack, or real AWS, changes
nothing). Some values are only known once a resource exists (a queue's URL on this endpoint, a
table's stream ARN): `provision` returns them as {value the template resolved: real value}, and
`localise` puts the real ones into the graph before any function starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from samrun.aws.endpoint import AwsEndpoint, exists
from samrun.aws.provision_config import CREATORS
from samrun.model import AppGraph, FunctionConfig, Resource, Route

logger = logging.getLogger(__name__)

QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)
Substitutions = dict[str, str]
PARALLEL = 6  # calls in flight to the endpoint while provisioning


async def provision(endpoint: AwsEndpoint, graph: AppGraph) -> Substitutions:
    """Create what `graph.resources` declares; queues first (redrive targets), then the rest."""
    found: Substitutions = {}
    kinds = {"sqs": _queue, "sns": _topic, "s3": _bucket, "kinesis": _stream}
    kinds |= {"dynamodb": _table, "eventbridge": _bus}
    kinds |= CREATORS  # SSM parameters, secrets, KMS keys, log groups, IAM roles
    parallel = asyncio.Semaphore(PARALLEL)

    async def create(resource: Resource) -> Substitutions:
        async with parallel:
            try:
                return await asyncio.to_thread(kinds[resource.type], endpoint, resource, graph)
            except Exception as exc:  # botocore's errors: report, keep the app running
                logger.warning("could not create %s %s: %s", resource.type, resource.name, exc)
                return {}

    # Stages in order (queues, the rest, topics: subscriptions reach queues); within a stage,
    # several calls at once: 200 queues one after another took 1.6 s of `up` (bench cold).
    for stage in (
        [r for r in graph.resources if r.type == "sqs"],
        [r for r in graph.resources if r.type not in ("sqs", "sns") and r.type in kinds],
        [r for r in graph.resources if r.type == "sns"],
    ):
        for substitutions in await asyncio.gather(*(create(r) for r in stage)):
            found.update(substitutions)
    for resource in graph.resources:
        policy = resource.properties.get("RedrivePolicy")
        if resource.type == "sqs" and isinstance(policy, Mapping):
            try:
                await asyncio.to_thread(_redrive, endpoint, resource, policy)
            except Exception as exc:  # as above
                logger.warning("queue %s: could not set its RedrivePolicy: %s", resource.name, exc)
    return found


def _queue(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    sqs = endpoint.client("sqs")
    template_url = f"https://sqs.{graph.region}.amazonaws.com/{graph.account_id}/{resource.name}"
    props = resource.properties
    attributes = {k: _text(props[k]) for k in QUEUE_ATTRIBUTES if k in props}
    if attributes.get("FifoQueue") == "false":
        del attributes["FifoQueue"]
    try:  # one call: CreateQueue answers an existing queue's URL when its attributes match
        url = sqs.create_queue(QueueName=resource.name, Attributes=attributes)["QueueUrl"]
    except sqs.exceptions.ClientError as exc:  # it exists with other attributes: kept as it is
        if _code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
        url = sqs.get_queue_url(QueueName=resource.name)["QueueUrl"]
    return {template_url: url}


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _redrive(endpoint: AwsEndpoint, resource: Resource, policy: Mapping[str, Any]) -> None:
    sqs = endpoint.client("sqs")
    url = sqs.get_queue_url(QueueName=resource.name)["QueueUrl"]
    text = json.dumps({k: _text(v) for k, v in policy.items()})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": text})


def _topic(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    sns = endpoint.client("sns")
    props = resource.properties
    attributes = {
        k: _text(props[k]) for k in ("FifoTopic", "ContentBasedDeduplication") if k in props
    }
    if attributes.get("FifoTopic") == "false":
        del attributes["FifoTopic"]
    arn = sns.create_topic(Name=resource.name, Attributes=attributes)["TopicArn"]
    existing = {
        (s["Protocol"], s["Endpoint"])
        for s in sns.list_subscriptions_by_topic(TopicArn=arn).get("Subscriptions", [])
    }
    for sub in props.get("Subscription") or []:
        key = (str(sub.get("Protocol")), str(sub.get("Endpoint")))
        if key[0] != "lambda" and key not in existing:  # lambda: samrun's push sources
            sns.subscribe(TopicArn=arn, Protocol=key[0], Endpoint=key[1])
    return {}


def _bucket(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    s3 = endpoint.client("s3")
    if exists(lambda: s3.head_bucket(Bucket=resource.name), s3.exceptions.ClientError):
        return {}
    kwargs: dict[str, Any] = {"Bucket": resource.name}
    if graph.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": graph.region}
    s3.create_bucket(**kwargs)
    return {}


def _stream(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    kinesis = endpoint.client("kinesis")
    missing = kinesis.exceptions.ResourceNotFoundException
    if exists(lambda: kinesis.describe_stream_summary(StreamName=resource.name), missing):
        return {}
    props = resource.properties
    mode = (props.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    kwargs: dict[str, Any] = {"StreamName": resource.name}
    kwargs["StreamModeDetails"] = {"StreamMode": mode}
    if mode == "PROVISIONED":
        kwargs["ShardCount"] = int(props.get("ShardCount", 1))
    kinesis.create_stream(**kwargs)
    return {}


def _table(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    dynamodb = endpoint.client("dynamodb")
    try:
        table = dynamodb.describe_table(TableName=resource.name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        table = dynamodb.create_table(**_table_arguments(resource))["TableDescription"]
    real = table.get("LatestStreamArn")
    if not real:
        return {}
    from samrun.template.refs import STREAM_LABEL

    return {f"{resource.arn}/stream/{STREAM_LABEL}": real}


def _table_arguments(resource: Resource) -> dict[str, Any]:
    props = resource.properties
    kwargs: dict[str, Any] = {
        "TableName": resource.name,
        "KeySchema": list(props.get("KeySchema") or []),
        "AttributeDefinitions": list(props.get("AttributeDefinitions") or []),
    }
    throughput = props.get("ProvisionedThroughput")
    if throughput:
        kwargs["BillingMode"] = "PROVISIONED"
        kwargs["ProvisionedThroughput"] = _throughput(throughput)
    else:
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = [dict(index) for index in props.get(key) or []]
        for index in indexes:
            if "ProvisionedThroughput" in index:
                index["ProvisionedThroughput"] = _throughput(index["ProvisionedThroughput"])
        if indexes:
            kwargs[key] = indexes
    stream = props.get("StreamSpecification") or {}
    if stream.get("StreamViewType"):
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream["StreamViewType"],
        }
    return kwargs


def _throughput(value: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in value.items()}


def _bus(endpoint: AwsEndpoint, resource: Resource, graph: AppGraph) -> Substitutions:
    if resource.name == "default":
        return {}
    events = endpoint.client("events")
    try:
        events.describe_event_bus(Name=resource.name)
    except events.exceptions.ResourceNotFoundException:
        events.create_event_bus(Name=resource.name)
    return {}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def localise(graph: AppGraph, found: Substitutions) -> AppGraph:
    """`graph` with every environment value and event source that named a resource's
    template-shaped value (queue URL, stream ARN) naming the real one instead."""
    found = {k: v for k, v in found.items() if k != v}
    if not found:
        return graph

    def swap(value: str) -> str:
        for old, new in found.items():
            if old in value:
                value = value.replace(old, new)
        return value

    def config(c: FunctionConfig) -> FunctionConfig:
        env = {k: swap(v) for k, v in c.environment.items()}
        return c if env == dict(c.environment) else replace(c, environment=env)

    return replace(
        graph,
        functions=tuple(replace(f, config=config(f.config)) for f in graph.functions),
        versions=tuple(replace(v, config=config(v.config)) for v in graph.versions),
        event_source_mappings=tuple(
            replace(m, source=swap(m.source)) for m in graph.event_source_mappings
        ),
        schedules=tuple(_machine(s, swap) for s in graph.schedules),
        push_sources=tuple(_machine(p, swap) for p in graph.push_sources),
        routes=tuple(_route(r, swap) for r in graph.routes),
    )


def _machine(item: Any, swap: Callable[[str], str]) -> Any:
    """A schedule or push source whose state machine target names the endpoint's ARN."""
    return replace(item, state_machine=swap(item.state_machine)) if item.state_machine else item


def _route(route: Route, swap: Callable[[str], str]) -> Route:
    """A StartExecution route naming the endpoint's ARN, in its request templates too."""
    if not route.state_machine:
        return route
    integration = dict(route.details.get("start_execution") or {})
    templates = integration.get("request_templates") or {}
    integration["request_templates"] = {k: swap(v) for k, v in templates.items()}
    details = {**route.details, "start_execution": integration}
    return replace(route, state_machine=swap(route.state_machine), details=details)
