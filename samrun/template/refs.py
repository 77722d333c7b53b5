"""What `Ref` and `Fn::GetAtt` give for each resource, locally.

Physical names follow the template (FunctionName, QueueName, BucketName lower-cased, ...) and
fall back to the logical id; ARNs, queue URLs and stream ARNs use the standard AWS shapes with
the local region and account, so functions see the values they would see in AWS. A name that
refers back to itself through other names is a circular reference, reported as such.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from samrun.model import is_unresolved
from samrun.template.intrinsics import IntrinsicError, Resolver, as_text

STREAM_LABEL = "2024-01-01T00:00:00.000"
"""The timestamp-like label of every local DynamoDB stream ARN."""
SECRET_SUFFIX = "000000"
"""The six characters after a secret's name in its template ARN (AWS picks random ones)."""

_NAME_PROPERTY = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::SSM::Parameter": "Name",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::ApiGatewayV2::Api": "Name",
}

Values = tuple[Any, dict[str, Any]]  # (Ref value, {attribute: value})


class ResourceTable:
    """Ref / GetAtt values of a template's resources, computed on first use."""

    def __init__(
        self,
        resources: Mapping[str, Any],
        *,
        region: str,
        account_id: str,
        partition: str,
        prefix: str = "",
    ) -> None:
        self.resources = resources
        self.prefix = prefix  # a nested stack's: its physical names differ from its parent's
        self.stack_outputs: dict[str, dict[str, Any]] = {}  # nested stack id -> its Outputs
        self.region, self.account, self.partition = region, account_id, partition
        self.resolver: Resolver | None = None  # set once the resolver exists
        self._values: dict[str, Values] = {}
        self._by_logical_id: set[str] = set()  # named by their logical ids (rename_functions)
        self._in_progress: list[str] = []
        self._version_numbers = self._number_versions()

    def arn(self, service: str, resource: str, *, region: bool = True) -> str:
        where = f"{self.region}:{self.account}" if region else f":{self.account}"
        return f"arn:{self.partition}:{service}:{where}:{resource}"

    def ref(self, logical_id: str) -> Any | None:
        values = self._get(logical_id)
        return values[0] if values else None

    def get_att(self, logical_id: str, attribute: str) -> Any | None:
        values = self._get(logical_id)
        return values[1].get(attribute) if values else None

    def rename_functions(self, logical_ids: list[str]) -> None:
        """Functions that share one FunctionName: each is named by its logical id instead."""
        self._by_logical_id.update(logical_ids)
        for logical_id in logical_ids:
            self._values.pop(logical_id, None)

    def name(self, logical_id: str) -> str:
        """The physical name: the template's name property, else the logical id."""
        resource = self.resources[logical_id]
        kind = resource.get("Type", "")
        prop = _NAME_PROPERTY.get(kind)
        props = resource.get("Properties") or {}
        if logical_id in self._by_logical_id:
            return f"{self.prefix}{logical_id}"
        if prop and prop in props and self.resolver is not None:
            value = self.resolver.resolve(props[prop], f"{logical_id}.{prop}")
            if not is_unresolved(value):  # else the logical id, as SAM CLI names it
                return as_text(value)
        if kind == "AWS::S3::Bucket":
            return f"{self.prefix}{logical_id}".lower()
        if kind == "AWS::SQS::Queue" and as_text(props.get("FifoQueue")).lower() == "true":
            return f"{self.prefix}{logical_id}.fifo"
        if kind == "AWS::Lambda::Function":
            return _function_name(f"{self.prefix}{logical_id}")
        return f"{self.prefix}{logical_id}"

    def version_number(self, logical_id: str) -> str:
        return self._version_numbers.get(logical_id, "1")

    def _number_versions(self) -> dict[str, str]:
        """AWS::Lambda::Version resources numbered 1, 2, ... per function, in template order."""
        counts: dict[str, int] = {}
        numbers: dict[str, str] = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == "AWS::Lambda::Version":
                target = str((resource.get("Properties") or {}).get("FunctionName"))
                counts[target] = counts.get(target, 0) + 1
                numbers[logical_id] = str(counts[target])
        return numbers

    def _get(self, logical_id: str) -> Values | None:
        if logical_id in self._values:
            return self._values[logical_id]
        resource = self.resources.get(logical_id)
        if not isinstance(resource, dict):
            return None
        if logical_id in self._in_progress:
            chain = self._in_progress[self._in_progress.index(logical_id) :]
            raise IntrinsicError(f"circular reference: {' -> '.join([*chain, logical_id])}")
        self._in_progress.append(logical_id)
        try:
            builder = _BUILDERS.get(resource.get("Type", ""), _default)
            values = builder(self, logical_id, resource.get("Properties") or {})
        finally:
            self._in_progress.pop()
        self._values[logical_id] = values
        return values

    def _resolve(self, value: Any, where: str) -> Any:
        assert self.resolver is not None
        return self.resolver.resolve(value, where)


def _function(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid)
    return name, {"Arn": table.arn("lambda", f"function:{name}")}


def _function_arn(table: ResourceTable, lid: str, target: Any) -> str:
    value = as_text(table._resolve(target, lid))
    return value if value.startswith("arn:") else table.arn("lambda", f"function:{value}")


def _version(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    number = table.version_number(lid)
    arn = f"{_function_arn(table, lid, props.get('FunctionName'))}:{number}"
    return arn, {"Version": number, "FunctionArn": arn}


def _alias(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = as_text(table._resolve(props.get("Name", lid), lid))
    arn = f"{_function_arn(table, lid, props.get('FunctionName'))}:{name}"
    return arn, {"AliasArn": arn}


def _layer(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    arn = table.arn("lambda", f"layer:{table.name(lid)}:1")
    return arn, {"LayerVersionArn": arn}


def _queue(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid)
    url = f"https://sqs.{table.region}.amazonaws.com/{table.account}/{name}"
    return url, {"Arn": table.arn("sqs", name), "QueueName": name, "QueueUrl": url}


def _topic(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid)
    arn = table.arn("sns", name)
    return arn, {"TopicArn": arn, "TopicName": name}


def _bucket(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid).lower()
    return name, {
        "Arn": f"arn:{table.partition}:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{table.region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{table.region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{table.region}.amazonaws.com",
    }


def _stream(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid)
    return name, {"Arn": table.arn("kinesis", f"stream/{name}")}


def _table(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid)
    arn = table.arn("dynamodb", f"table/{name}")
    return name, {"Arn": arn, "StreamArn": f"{arn}/stream/{STREAM_LABEL}"}


def _named_arn(service: str, prefix: str, *, ref_is_arn: bool = False) -> Callable[..., Values]:
    def build(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
        name = table.name(lid)
        arn = table.arn(service, f"{prefix}{name}")
        return (arn if ref_is_arn else name), {"Arn": arn, "Name": name}

    return build


def _role(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    name = table.name(lid)
    return name, {"Arn": table.arn("iam", f"role/{name}", region=False), "RoleId": lid}


def _parameter(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    value = table.resolver.resolve(props.get("Value"), lid) if table.resolver else None
    arn = table.arn("ssm", f"parameter/{table.name(lid).lstrip('/')}")
    return table.name(lid), {"Type": props.get("Type", "String"), "Value": value, "Arn": arn}


def _secret(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    arn = table.arn("secretsmanager", f"secret:{table.name(lid)}-{SECRET_SUFFIX}")
    return arn, {"Id": arn}


def _key(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"samrun:{table.account}:{lid}"))
    return key_id, {"Arn": table.arn("kms", f"key/{key_id}"), "KeyId": key_id}


def _rest_api(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    return lid, {"RootResourceId": f"{lid}-root", "RestApiId": lid}


def _http_api(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    endpoint = f"https://{lid}.execute-api.{table.region}.amazonaws.com"
    return lid, {"ApiEndpoint": endpoint, "ApiId": lid}


def _elb(kind: str) -> Callable[..., Values]:
    def build(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
        name = table.name(lid)
        arn = table.arn("elasticloadbalancing", f"{kind}/{name}/0000000000000000")
        attrs = {
            "TargetGroupArn": arn,
            "TargetGroupName": name,
            "LoadBalancerArn": arn,
            "ListenerArn": arn,
            "RuleArn": arn,
            "DNSName": f"{name}.{table.region}.elb.amazonaws.com",
            "LoadBalancerName": name,
            "LoadBalancerFullName": f"app/{name}/0000000000000000",
        }
        return arn, attrs

    return build


def _authorizer(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    return lid, {"AuthorizerId": lid}


def _stack(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    stack_id = table.arn("cloudformation", f"stack/{table.prefix}{lid}/samrun")
    outputs = table.stack_outputs.get(lid) or {}
    return stack_id, {f"Outputs.{name}": value for name, value in outputs.items()}


def distribution_id(logical_id: str) -> str:
    """A stable distribution id, CloudFront's shape (E + 13 upper-case letters and digits)."""
    digest = hashlib.sha256(logical_id.encode()).hexdigest().upper()
    return "E" + digest[:13]


def _distribution(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    ident = distribution_id(lid)
    return ident, {"Id": ident, "DomainName": f"{ident.lower()}.cloudfront.net"}


def _function_url(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    url = f"https://{lid.lower()}.lambda-url.{table.region}.on.aws/"
    target = table._resolve(props.get("TargetFunctionArn"), lid)
    return lid, {"FunctionUrl": url, "FunctionArn": target}


def _scalable_target(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    """CloudFormation's id: `ResourceId|ScalableDimension|ServiceNamespace` (its documented
    Return values; ScalingPolicy's ScalingTargetId takes it)."""
    keys = ("ResourceId", "ScalableDimension", "ServiceNamespace")
    parts = [as_text(table._resolve(props.get(key, ""), lid)) for key in keys]
    return "|".join(parts), {}


def _default(table: ResourceTable, lid: str, props: Mapping[str, Any]) -> Values:
    return lid, {}


_BUILDERS: dict[str, Callable[[ResourceTable, str, Mapping[str, Any]], Values]] = {
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::Version": _version,
    "AWS::Lambda::Alias": _alias,
    "AWS::Lambda::LayerVersion": _layer,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::S3::Bucket": _bucket,
    "AWS::Kinesis::Stream": _stream,
    "AWS::DynamoDB::Table": _table,
    "AWS::DynamoDB::GlobalTable": _table,
    "AWS::Events::EventBus": _named_arn("events", "event-bus/"),
    "AWS::Events::Rule": _named_arn("events", "rule/"),
    "AWS::Scheduler::Schedule": _named_arn("scheduler", "schedule/default/"),
    "AWS::Logs::LogGroup": _named_arn("logs", "log-group:"),
    "AWS::StepFunctions::StateMachine": _named_arn("states", "stateMachine:", ref_is_arn=True),
    "AWS::IAM::Role": _role,
    "AWS::SSM::Parameter": _parameter,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::KMS::Key": _key,
    "AWS::ApiGateway::RestApi": _rest_api,
    "AWS::ApiGatewayV2::Api": _http_api,
    "AWS::ApiGateway::Authorizer": _authorizer,
    "AWS::CloudFormation::Stack": _stack,
    "AWS::ApiGatewayV2::Authorizer": _authorizer,
    "AWS::CloudFront::Distribution": _distribution,
    "AWS::Lambda::Url": _function_url,
    "AWS::ApplicationAutoScaling::ScalableTarget": _scalable_target,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _elb("targetgroup"),
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _elb("loadbalancer/app"),
    "AWS::ElasticLoadBalancingV2::Listener": _elb("listener/app"),
    "AWS::ElasticLoadBalancingV2::ListenerRule": _elb("listener-rule/app"),
}


def _function_name(generated: str) -> str:
    """A generated function name within Lambda's 64 characters (a CDK nested stack's ids are
    long), kept unique by a digest of the whole, as CloudFormation shortens generated names."""
    if len(generated) <= 64:
        return generated
    digest = hashlib.sha256(generated.encode()).hexdigest()[:10]
    return f"{generated[:53]}-{digest}"
