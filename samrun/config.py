"""One frozen Config, built once by the CLI from flags and SAMRUN_* variables, passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from samrun.model import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from samrun.runtime.debugging import DebugSpec
from samrun.runtime.vpc_config import VpcSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    template: Path
    host: str = "127.0.0.1"
    port: int = 3000  # API routes
    invoke_port: int = 3001  # Lambda API
    backend: str = "process"
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    env_vars: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # SAM CLI's format
    state_dir: Path = Path(".samrun")
    idle_ttl_s: float = 300.0  # an idle instance is reaped after this long
    max_sandboxes: int = 32  # most live sandboxes at once on this machine
    init_timeout_s: float = 10.0  # Lambda's init phase limit
    host_env: Mapping[str, str] = field(default_factory=dict)  # PATH, HOME for functions
    watch: bool = False
    watch_publish: bool = False  # --watch-publish: a reload publishes and shifts AutoPublishAlias
    env_vars_file: Path | None = None  # --env-vars, watched in watch mode
    log_format: str = "text"
    aws_endpoint: str | None = None  # --aws-endpoint; None: the embedded moto server
    aws_profile: str | None = None  # --aws-profile: real AWS, only then
    time_scale: float = 1.0  # Lambda's waits (retry backoff, scaling, canary steps) divided by it
    account_concurrency: int = 1000  # the account's concurrent executions limit
    burst_concurrency: int = 1000  # a function's initial burst, then +500 per minute
    alb_ports: Mapping[str, int] = field(default_factory=dict)  # ALB listener id -> local port
    cloudfront_ports: Mapping[str, int] = field(default_factory=dict)  # distribution -> port
    cloudfront_cache: bool = True  # --no-cache: CloudFront doors cache nothing
    price_file: Path | None = None  # --price-file: Lambda's prices (default: samrun's table)
    cloudwatch: bool = True  # publish metrics and function logs to the AWS endpoint
    dashboard: bool = True  # --no-dashboard: no browser page at /_samrun/ (samrun.dashboard)
    layer_map: Mapping[str, str] = field(default_factory=dict)  # --layer-map: layer ARN -> path
    node_sdk_dir: Path | None = None  # SAMRUN_NODE_SDK_DIR: the AWS SDK for JS, shared by apps
    image_map: Mapping[str, str] = field(default_factory=dict)  # --image-map RUNTIME=IMAGE
    skip_pull: bool = False  # --skip-pull: use only images the engine has
    container_host: str | None = None  # --container-host: samrun's address seen from containers
    engine_env: Mapping[str, str] = field(default_factory=dict)  # DOCKER_HOST, DOCKER_TLS_VERIFY...
    queue_dir: Path | None = None  # the async queue's folder when not the state folder's
    allow_origins: tuple[str, ...] = ()  # --allow-origin: browser origins the Lambda API accepts
    functions: tuple[str, ...] = ()  # --function: serve only these (and what they need)
    disable_authorizer: bool = False  # --disable-authorizer: API routes skip their authorizers
    debug: Mapping[str, DebugSpec] = field(default_factory=dict)  # function -> its debugger
    otlp_endpoint: str | None = None  # --otlp-endpoint: traces as OTLP/HTTP spans to this URL
    trace_sample_rate: float | None = None  # --trace-sample-rate; None: Lambda's default rule
    xray_upload: bool = False  # --xray-upload: traces to real X-Ray (with --aws-profile)
    freeze: bool = True  # idle instances frozen between invocations, as on Lambda (--no-freeze)
    vpc: VpcSettings = field(default_factory=VpcSettings)  # --vpc-config, --vpc-allow
    enforce_iam: bool = False  # --enforce-iam / SAMRUN_ENFORCE_IAM=1: roles and permissions
