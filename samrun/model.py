"""The app graph: immutable, typed data that the rest of samrun runs.

`samrun.template` builds one `AppGraph` from a template; nothing outside `samrun.template`
knows about YAML, CloudFormation spellings or the SAM transform. Reload builds a new graph and
diffs it against the old one, so nothing here is ever mutated. Mappings are plain dicts by
convention never written after construction (they keep `dataclasses.asdict` and JSON simple).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
LATEST = "$LATEST"

POLLED_SOURCE_TYPES = ("sqs", "kinesis", "dynamodb")
"""Event source mappings samrun polls; the others (kafka, mq, docdb) are named as not run."""
RELAYED_PUSH_TYPES = ("s3", "sns", "eventbridge")
"""Push sources samrun wires on the AWS endpoint; the others are named as not run."""

ESM_SETTING_FIELDS = frozenset(
    {
        "FunctionName",
        "EventSourceArn",
        "BatchSize",
        "StartingPosition",
        "Enabled",
        "FilterCriteria",
        "MaximumBatchingWindowInSeconds",
        "FunctionResponseTypes",
    }
)
"""A mapping's settings the model keeps as fields; the rest stay in `details` as spelled."""
_ESM_SERVICES = {"rds": "docdb"}  # DocumentDB streams' ARNs are arn:aws:rds:...


def esm_source_type(arn: str) -> str:
    """sqs, kinesis, dynamodb, kafka, mq, docdb... from the source's ARN; `unknown` when none."""
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 and parts[2] else "unknown"
    return _ESM_SERVICES.get(service, service)


UNRESOLVED_PREFIX = "${unresolved:"
"""A value that could not be resolved locally is kept as `${unresolved:<intrinsic>}`."""


def is_unresolved(value: object) -> bool:
    """True for a value the template loader could not resolve to a local value."""
    return isinstance(value, str) and value.startswith(UNRESOLVED_PREFIX)


# AWS's own Lambda endpoints (lambda.REGION.amazonaws.com, -fips, China's .com.cn)
_AWS_LAMBDA_ENDPOINT = re.compile(
    r"^https?://lambda(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/?$", re.IGNORECASE
)


def names_aws_lambda(url: str) -> bool:
    """True for a URL of AWS's own Lambda API (an AWS_ENDPOINT_URL_LAMBDA samrun points at
    its own: the app's functions and durable executions live there, not in a real account)."""
    return bool(_AWS_LAMBDA_ENDPOINT.match(url.strip()))


class PackageType(StrEnum):
    ZIP = "Zip"
    IMAGE = "Image"


class RouteKind(StrEnum):
    REST = "rest"
    HTTP = "http"
    FUNCTION_URL = "function_url"


@dataclass(frozen=True, slots=True, kw_only=True)
class Code:
    """Where a function's or layer's code comes from; exactly one field is set."""

    path: str | None = None  # absolute local path: a folder or a .zip file
    inline: str | None = None  # InlineCode / Code.ZipFile
    image_uri: str | None = None  # PackageType Image
    remote: str | None = None  # s3://bucket/key or anything else samrun cannot read locally
    # Set by samrun.build, never by a template: the installed dependencies (a folder in the state
    # folder) seen beside the code, and the source folder when `path` is a build's artifact.
    dependencies: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSpec:
    """A resource's `Metadata` as `sam build` reads it: BuildMethod (esbuild, makefile, a
    runtime such as python3.12) and its BuildProperties / BuildArchitecture."""

    method: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    architecture: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerRef:
    """A layer as a function lists it: its ARN, and its local content when the app defines it."""

    arn: str
    logical_id: str | None = None  # set when the layer is a resource of this template
    code: Code | None = None  # local content (a folder or .zip) when known


@dataclass(frozen=True, slots=True, kw_only=True)
class Layer:
    logical_id: str
    name: str
    arn: str  # arn:aws:lambda:REGION:ACCOUNT:layer:NAME:1
    code: Code
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    description: str = ""
    build: BuildSpec | None = None  # Metadata BuildMethod: only then does `sam build` build it


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    entry_point: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    working_directory: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VpcSubnet:
    """One subnet of a function's VpcConfig: `egress` is `nat` (a 0.0.0.0/0 route to a NAT
    gateway), `none`, or None when the template does not say (a parameter, a literal id:
    --vpc-config tells, else private); `note` says why, for startup and `plan`."""

    id: str  # the logical id of a template subnet, or the subnet id as given
    egress: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VpcConfig:
    """A function's VpcConfig: it runs in a network of its own (runtime/vpc.py)."""

    subnets: tuple[VpcSubnet, ...] = ()
    security_group_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingConfig:
    """A function's LoggingConfig: log format, levels, and log group."""

    log_format: str = "Text"  # Text | JSON
    application_log_level: str | None = None  # JSON only: TRACE..FATAL (default INFO)
    system_log_level: str | None = None  # JSON only: DEBUG | INFO | WARN (default INFO)
    log_group: str | None = None  # default /aws/lambda/NAME


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageBuild:
    """An image function's `Metadata` (Dockerfile, DockerContext, DockerTag, DockerBuildArgs):
    the image is built locally, as `sam build` builds it, and tagged `tag`."""

    context: str  # absolute folder
    dockerfile: str = "Dockerfile"  # relative to the context
    tag: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None  # a multi-stage build's stage (CDK's aws:asset:docker-build-target)


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionConfig:
    """Everything that forces new instances when it changes; a published version freezes one."""

    runtime: str | None  # None for PackageType Image
    handler: str | None
    code: Code
    package_type: PackageType = PackageType.ZIP
    memory_mb: int = 128
    timeout_s: int = 3
    ephemeral_storage_mb: int = 512
    architectures: tuple[str, ...] = ("x86_64",)
    environment: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[LayerRef, ...] = ()
    tracing: str | None = None  # Active | PassThrough
    image_config: ImageConfig | None = None
    description: str = ""
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    image_build: ImageBuild | None = None  # PackageType Image built from a Dockerfile
    tenant_isolation: str | None = None  # TenancyConfig TenantIsolationMode: PER_TENANT
    vpc: VpcConfig | None = None  # VpcConfig with subnets: a network namespace of its own
    durable: DurableConfig | None = None  # DurableConfig: a durable function (samrun.durable)


@dataclass(frozen=True, slots=True, kw_only=True)
class DurableConfig:
    """DurableConfig: invocations start checkpointed executions (samrun.durable)."""

    execution_timeout_s: int = 86400  # ExecutionTimeout
    retention_days: int = 14  # RetentionPeriodInDays
    kms_key_arn: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """An async destination or dead-letter target: `type` is sqs | sns | lambda | eventbridge."""

    type: str
    arn: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InvokeConfig:
    """EventInvokeConfig: how asynchronous invocations are retried and where results go."""

    maximum_retry_attempts: int | None = None  # None: Lambda's default (2)
    maximum_event_age_s: int | None = None  # None: Lambda's default (21600)
    on_success: Destination | None = None
    on_failure: Destination | None = None
    qualifier: str = LATEST


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentPreference:
    type: str  # Canary10Percent5Minutes, Linear10PercentEvery1Minute, AllAtOnce, ...
    enabled: bool = True
    pre_traffic_hook: str | None = None  # function name
    post_traffic_hook: str | None = None
    alarms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class FunctionUrl:
    auth_type: str = "NONE"  # NONE | AWS_IAM
    invoke_mode: str = "BUFFERED"  # BUFFERED | RESPONSE_STREAM
    cors: Mapping[str, Any] = field(default_factory=dict)
    qualifier: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Function:
    logical_id: str
    name: str  # FunctionName, or the logical id
    arn: str  # unqualified: arn:aws:lambda:REGION:ACCOUNT:function:NAME
    config: FunctionConfig  # $LATEST
    reserved_concurrency: int | None = None
    auto_publish_alias: str | None = None
    deployment_preference: DeploymentPreference | None = None
    invoke_config: InvokeConfig | None = None
    dead_letter: Destination | None = None
    function_url: FunctionUrl | None = None
    role: str | None = None
    build: BuildSpec | None = None  # Metadata BuildMethod (esbuild, makefile), when set
    construct_path: str | None = None  # a CDK app's `aws:cdk:path` (MyStack/Handler/Resource)


@dataclass(frozen=True, slots=True, kw_only=True)
class Version:
    """A published version: an immutable snapshot of a function's code and configuration."""

    function: str  # Function.name
    version: str  # "1", "2", ...
    config: FunctionConfig
    logical_id: str | None = None
    description: str = ""
    provisioned_concurrency: int | None = None
    code_sha256: str = ""  # set when samrun snapshots the code (content hash, as Lambda's)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alias:
    function: str  # Function.name
    name: str
    version: str  # a published version, never $LATEST with weights
    additional_version_weights: Mapping[str, float] = field(default_factory=dict)
    provisioned_concurrency: int | None = None
    logical_id: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """One HTTP route of an API Gateway REST API, an HTTP API, or a function URL."""

    api: str  # logical id of the API (or of the function, for a function URL)
    kind: RouteKind
    method: str  # GET, POST, ..., ANY
    path: str  # /orders/{id}, /{proxy+}, $default
    function: str  # Function.name
    payload_format: str = "1.0"  # "1.0" | "2.0"
    auth: str | None = None  # authorizer name, AWS_IAM, NONE...
    qualifier: str | None = None  # alias or version the integration targets
    stage: str = "Prod"
    timeout_ms: int = 29000
    details: Mapping[str, Any] = field(default_factory=dict)
    # a StartExecution integration's state machine ARN (`function` is then the machine's name)
    state_machine: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventSourceMapping:
    function: str  # Function.name
    source_type: str  # sqs | kinesis | dynamodb | kafka | mq | docdb
    source: str  # the source's ARN (or a broker address)
    batch_size: int | None = None
    starting_position: str | None = None
    maximum_batching_window_s: int | None = None
    function_response_types: tuple[str, ...] = ()
    filters: tuple[Mapping[str, Any], ...] = ()
    enabled: bool = True
    qualifier: str | None = None
    logical_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # retries, bisect, destinations...


@dataclass(frozen=True, slots=True, kw_only=True)
class PushSource:
    """A service that invokes a function asynchronously: s3 | sns | eventbridge | iot | ..."""

    function: str
    type: str
    source: str  # bucket name, topic ARN, rule name, ...
    details: Mapping[str, Any] = field(default_factory=dict)
    qualifier: str | None = None
    logical_id: str | None = None
    state_machine: str | None = None  # a state machine target's ARN: events start executions


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule:
    function: str
    expression: str  # rate(5 minutes) | cron(...) | at(...)
    enabled: bool = True
    input: str | None = None  # the JSON text sent as the event, when set
    name: str | None = None
    qualifier: str | None = None
    logical_id: str | None = None
    timezone: str | None = None  # ScheduleExpressionTimezone (Scheduler only); None is UTC
    kind: str = "events"  # events (an EventBridge rule) | scheduler (EventBridge Scheduler)
    start_date: str | None = None  # Scheduler's StartDate / EndDate (ISO 8601), when set
    end_date: str | None = None
    state_machine: str | None = None  # a state machine target's ARN: firings start executions
    dead_letter: str | None = None  # an EventBridge rule target's DeadLetterConfig queue ARN


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerRule:
    priority: int
    conditions: tuple[Mapping[str, Any], ...]
    actions: tuple[Mapping[str, Any], ...]
    logical_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Listener:
    logical_id: str
    port: int
    protocol: str = "HTTP"
    default_actions: tuple[Mapping[str, Any], ...] = ()
    rules: tuple[ListenerRule, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetGroup:
    logical_id: str
    function: str | None
    arn: str
    multi_value_headers: bool = False
    health_check: Mapping[str, Any] = field(default_factory=dict)
    listeners: tuple[Listener, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EdgeFunction:
    """A cache behaviour's LambdaFunctionAssociation: a numbered version run at one event."""

    event_type: str  # viewer-request | origin-request | origin-response | viewer-response
    function: str  # Function.name
    version: str  # a numbered version: CloudFront refuses $LATEST and aliases
    include_body: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheBehavior:
    """A distribution's cache behaviour; `path_pattern` None is the default behaviour."""

    path_pattern: str | None
    origin: str  # TargetOriginId
    functions: tuple[EdgeFunction, ...] = ()
    allowed_methods: tuple[str, ...] = ("GET", "HEAD")
    min_ttl: int = 0
    default_ttl: int = 86400
    max_ttl: int = 31536000


@dataclass(frozen=True, slots=True, kw_only=True)
class Origin:
    """A distribution's origin, and what samrun reaches for it: `kind` s3 (a bucket on the AWS
    endpoint), api (the app's route server), function_url (a function's URL door) or custom
    (the URL as written)."""

    id: str
    domain: str
    kind: str  # s3 | api | function_url | custom
    target: str  # the bucket, the API's logical id, the function's name, or the domain
    path: str = ""  # OriginPath
    protocol: str = "https"  # what a custom origin is reached with (OriginProtocolPolicy)
    port: int | None = None
    custom_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorResponse:
    """A CustomErrorResponse: what the door answers when the origin answers `code`."""

    code: int  # ErrorCode
    page_path: str | None = None  # ResponsePagePath, fetched through its matching behaviour
    response_code: int | None = None  # ResponseCode (the origin's code when None)
    min_ttl: int = 10  # ErrorCachingMinTTL: CloudFront's default is 10 s


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """An AWS::CloudFront::Distribution served by a local door (frontdoors/cloudfront.py)."""

    logical_id: str
    id: str  # what Ref gives (the distribution's id)
    domain: str  # d....cloudfront.net, as the events name it
    origins: tuple[Origin, ...]
    behaviors: tuple[CacheBehavior, ...]  # in template order, the default one last
    default_root_object: str = ""
    enabled: bool = True
    error_responses: tuple[ErrorResponse, ...] = ()  # CustomErrorResponses

    def document(self) -> dict[str, Any]:
        """Its origins, and its behaviours in matching order (the default last) with their
        Lambda@Edge functions by event type: what `plan` and /_samrun/state show."""
        return {
            "logical_id": self.logical_id,
            "id": self.id,
            "domain": self.domain,
            "default_root_object": self.default_root_object,
            "origins": [
                {"id": o.id, "domain": o.domain, "kind": o.kind, "target": o.target, "path": o.path}
                for o in self.origins
            ],
            "behaviors": [
                {
                    "path_pattern": b.path_pattern or "Default (*)",
                    "origin": b.origin,
                    "allowed_methods": list(b.allowed_methods),
                    "ttl": {"min": b.min_ttl, "default": b.default_ttl, "max": b.max_ttl},
                    "functions": {f.event_type: f"{f.function}:{f.version}" for f in b.functions},
                }
                for b in self.behaviors
            ],
            "error_responses": [
                {
                    "code": e.code,
                    "page_path": e.page_path,
                    "response_code": e.response_code,
                    "min_ttl": e.min_ttl,
                }
                for e in self.error_responses
            ],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """A resource samrun provisions in the local AWS endpoint: sqs | sns | s3 | kinesis | dynamodb
    | eventbridge | ssm | secretsmanager | kms | logs | iam."""

    logical_id: str
    type: str
    name: str
    arn: str
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm:
    """An AWS::CloudWatch::Alarm on one metric, evaluated by samrun on its own metrics."""

    logical_id: str
    name: str  # AlarmName, else the logical id (what Ref gives locally)
    namespace: str
    metric: str
    dimensions: Mapping[str, str] = field(default_factory=dict)
    statistic: str = "Average"
    period_s: int = 60
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None  # None: evaluation_periods
    threshold: float = 0.0
    comparison: str = "GreaterThanThreshold"
    treat_missing_data: str = "missing"
    unsupported: str | None = None  # why samrun cannot evaluate it (metric math, percentiles)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalingPolicy:
    """An AWS::ApplicationAutoScaling::ScalingPolicy of target tracking on a scalable target."""

    name: str
    target_value: float
    metric: str = "ProvisionedConcurrencyUtilization"  # predefined, or a customised metric's
    namespace: str = "AWS/Lambda"
    dimensions: Mapping[str, str] = field(default_factory=dict)  # empty: the target's alias
    statistic: str = "Average"
    scale_in_cooldown_s: int = 0  # Application Auto Scaling's default for Lambda
    scale_out_cooldown_s: int = 0
    disable_scale_in: bool = False
    logical_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduledAction:
    """A scalable target's ScheduledAction: at its time, the target's min and max change."""

    name: str
    schedule: str  # at(...) | rate(...) | cron(...)
    min_capacity: int | None = None
    max_capacity: int | None = None
    timezone: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalableTarget:
    """An alias's or version's provisioned concurrency registered with Application Auto Scaling
    (`lambda:function:ProvisionedConcurrency`, ResourceId `function:NAME:QUALIFIER`)."""

    function: str  # Function.name
    qualifier: str
    min_capacity: int
    max_capacity: int
    policies: tuple[ScalingPolicy, ...] = ()
    scheduled_actions: tuple[ScheduledAction, ...] = ()
    suspended: Mapping[str, bool] = field(default_factory=dict)  # SuspendedState
    logical_id: str | None = None

    @property
    def resource_id(self) -> str:
        return f"function:{self.function}:{self.qualifier}"


@dataclass(frozen=True, slots=True, kw_only=True)
class NotRun:
    """Something the template declares that samrun does not realise locally: named once at
    startup, in `plan` and in /_samrun/state, never dropped silently."""

    what: str  # resource | property | event | authorizer | location | layer | function
    name: str  # where it is: a logical id, `Function.Events.Name`, `Api/authorizer`, an ARN
    type: str  # the resource type, property, event type, authorizer kind...
    reason: str
    location: str | None = None  # `file:line:col` of the template error that keeps it out


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionRole:
    """An AWS::IAM::Role (the template's or the one SAM generates from `Policies`), with the
    policy documents attached to it: inline ones (and AWS::IAM::Policy resources naming it)
    and managed policy ARNs. Read by --enforce-iam and `plan`."""

    logical_id: str
    name: str
    arn: str
    policies: tuple[tuple[str, Mapping[str, Any]], ...] = ()  # (policy name, document)
    managed_arns: tuple[str, ...] = ()
    assume_policy: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LambdaPermission:
    """An AWS::Lambda::Permission: who may invoke a function (a resource-based statement)."""

    logical_id: str
    function: str  # FunctionName as given: a name, an ARN, a partial or qualified ARN
    action: str  # lambda:InvokeFunction, lambda:InvokeFunctionUrl, lambda:*
    principal: str  # s3.amazonaws.com, an account id, an ARN, *
    source_arn: str | None = None
    source_account: str | None = None
    function_url_auth_type: str | None = None
    principal_org_id: str | None = None  # a condition on aws:PrincipalOrgID


@dataclass(frozen=True, slots=True, kw_only=True)
class Unavailable:
    """A function name the app cannot run: a function the template declares but samrun could
    not build, or a FunctionName two functions share. Invoking it answers `error`."""

    name: str
    error: str  # Lambda's exception: ResourceNotFoundException | InvalidRuntimeException
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppGraph:
    template_path: str
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    functions: tuple[Function, ...] = ()
    layers: tuple[Layer, ...] = ()
    versions: tuple[Version, ...] = ()
    aliases: tuple[Alias, ...] = ()
    routes: tuple[Route, ...] = ()
    event_source_mappings: tuple[EventSourceMapping, ...] = ()
    push_sources: tuple[PushSource, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    target_groups: tuple[TargetGroup, ...] = ()
    resources: tuple[Resource, ...] = ()
    warnings: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # NoEcho parameter values: shown as **** wherever printed
    alarms: tuple[Alarm, ...] = ()
    not_run: tuple[NotRun, ...] = ()  # what the template declares and samrun does not realise
    unavailable: tuple[Unavailable, ...] = ()  # names that answer an error instead of running
    roles: tuple[ExecutionRole, ...] = ()  # IAM roles with their policies (--enforce-iam)
    permissions: tuple[LambdaPermission, ...] = ()  # AWS::Lambda::Permission resources
    distributions: tuple[Distribution, ...] = ()  # CloudFront doors, with Lambda@Edge
    scaling_targets: tuple[ScalableTarget, ...] = ()  # provisioned concurrency auto scaling

    def function(self, name: str) -> Function | None:
        """The function whose name (or logical id) is `name`, or the one nested application's
        function whose own logical id it is (`functions_named`)."""
        found = self.functions_named(name)
        return found[0] if len(found) == 1 else None

    def functions_named(self, name: str) -> tuple[Function, ...]:
        """What `name` may mean, as SAM CLI looks a function up: the function of that name or
        full logical id (`Child/Function`; a root function's own id), else every nested
        application's function whose own logical id is `name` (two or more: ambiguous)."""
        for function in self.functions:
            if name in (function.name, function.logical_id):
                return (function,)
        nested = tuple(f for f in self.functions if bare_id(f.logical_id) == name)
        if nested:
            return nested
        # a CDK app's function by its construct path (with or without the stack's name and the
        # trailing `/Resource`), else by its construct id where that is unique, as SAM CLI does
        by_path = tuple(f for f in self.functions if name in construct_names(f.construct_path)[0])
        if by_path:
            return by_path
        return tuple(f for f in self.functions if name in construct_names(f.construct_path)[1])


def construct_names(path: str | None) -> tuple[frozenset[str], frozenset[str]]:
    """The names a CDK construct path gives a function: the paths (`MyStack/Api/Handler/Resource`,
    `MyStack/Api/Handler`, `Api/Handler`), and the construct id (`Handler`)."""
    if not path:
        return frozenset(), frozenset()
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "Resource":
        parts = parts[:-1]
    paths = {path, "/".join(parts)}
    if len(parts) > 1:
        paths.add("/".join(parts[1:]))
    return frozenset(paths), frozenset({parts[-1]})


def bare_id(logical_id: str) -> str | None:
    """A nested application's resource's own logical id (`Function` of `Child/Function`);
    None for a root one."""
    return logical_id.rsplit("/", 1)[1] if "/" in logical_id else None
