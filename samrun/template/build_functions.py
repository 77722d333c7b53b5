"""Functions, layers, versions and aliases from CloudFormation Lambda resources.

Everything the execution core needs to start a function is decided here, once: absolute code
paths, Lambda's defaults (128 MB, 3 s, 512 MB /tmp, x86_64), environment values as text the way
CloudFormation stringifies them, layer ARNs matched to the app's own layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from samrun.errors import TemplateError
from samrun.model import (
    LATEST,
    Alias,
    BuildSpec,
    Code,
    DeploymentPreference,
    Destination,
    DurableConfig,
    Function,
    FunctionConfig,
    FunctionUrl,
    ImageBuild,
    ImageConfig,
    InvokeConfig,
    Layer,
    LayerRef,
    LoggingConfig,
    PackageType,
    Version,
    is_unresolved,
    names_aws_lambda,
)
from samrun.template.cdk import construct_path, docker_asset
from samrun.template.context import BuildContext, Notice, flag, text_or_none
from samrun.template.intrinsics import as_text
from samrun.template.layer_map import mapped as layer_map_entry
from samrun.template.sam import image_tag
from samrun.template.vpc import vpc_config

_DESTINATION_TYPES = {"sqs": "sqs", "sns": "sns", "lambda": "lambda", "events": "eventbridge"}


def destination(arn: Any) -> Destination | None:
    """A destination from its ARN; the service names its type."""
    if not isinstance(arn, str) or not arn:
        return None
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 and parts[0] == "arn" else "unknown"
    return Destination(type=_DESTINATION_TYPES.get(service, service), arn=arn)


def _text_list(value: Any) -> tuple[str, ...]:
    return tuple(as_text(v) for v in value) if isinstance(value, list) else ()


def _env_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, dict | list) else as_text(value)


BUILT_METHODS = ("esbuild", "makefile", "maven", "gradle")  # and runtimes: python3.x, nodejs*


def build_spec(ctx: BuildContext, lid: str) -> BuildSpec | None:
    """`Metadata: BuildMethod` (with BuildProperties, BuildArchitecture), as `sam build` reads it
    from the resource as written (SAM renames layers, so the source id is asked too)."""
    source = ctx.source_id(lid) or lid
    for resource in (ctx.resources.get(lid), ctx.sam_resources.get(source)):
        metadata = (resource or {}).get("Metadata") if isinstance(resource, dict) else None
        if isinstance(metadata, dict) and metadata.get("BuildMethod"):
            properties = ctx.resolve(metadata.get("BuildProperties") or {}, lid)
            architecture = metadata.get("BuildArchitecture")
            method = as_text(ctx.resolve(metadata["BuildMethod"], lid))
            if method not in BUILT_METHODS and not method.startswith(("python", "nodejs")):
                ctx.resolver.warnings.append(
                    f"{source}: Metadata BuildMethod {method} is not built by samrun; "
                    "its code runs as it is"
                )
            return BuildSpec(
                method=method,
                properties=properties if isinstance(properties, dict) else {},
                architecture=as_text(architecture) if architecture else None,
            )
    return None


def build_layers(ctx: BuildContext) -> tuple[Layer, ...]:
    layers = []
    for lid, props in ctx.of_type("AWS::Lambda::LayerVersion"):
        layers.append(
            Layer(
                logical_id=ctx.source_id(lid) or lid,
                name=ctx.table.name(lid),
                arn=as_text(ctx.table.ref(lid)),
                code=ctx.code(ctx.prop(lid, props, "Content"), lid, "Content"),
                compatible_runtimes=_text_list(ctx.prop(lid, props, "CompatibleRuntimes")),
                compatible_architectures=_text_list(
                    ctx.prop(lid, props, "CompatibleArchitectures")
                ),
                description=as_text(ctx.prop(lid, props, "Description", "")),
                build=build_spec(ctx, lid),
            )
        )
    return tuple(layers)


def _mapped_layer(ctx: BuildContext, arn: str) -> Code | None:
    """A layer the app names only by ARN: its --layer-map content (samrun.template.layer_map
    says which keys match), else named as not run."""
    found = layer_map_entry(ctx.layer_map, arn, ctx.table.region, ctx.table.account)
    if found is not None:
        _, path, warning = found
        if warning and warning not in ctx.resolver.warnings:
            ctx.resolver.warnings.append(warning)
        return Code(path=path)
    ctx.skip(  # once per ARN, however many functions use it (plan shows which)
        "layer",
        arn,
        "remote layer",
        "not part of the app: give its content with --layer-map ARN=PATH "
        "(or --aws-profile to download it)",
    )
    return None


def _config(
    ctx: BuildContext, lid: str, props: Mapping[str, Any], layers: tuple[Layer, ...]
) -> FunctionConfig:
    package_type = PackageType(ctx.prop(lid, props, "PackageType", "Zip"))
    code = ctx.code(ctx.prop(lid, props, "Code"), lid)
    if package_type is PackageType.IMAGE and code.image_uri is None:
        code = Code(image_uri=code.remote)
    image_build = _image_build(ctx, lid) if package_type is PackageType.IMAGE else None
    if image_build is not None:  # built here (a CDK asset's ImageUri names its ECR repository)
        code = Code(image_uri=image_build.tag)
    env = ctx.prop(lid, props, "Environment", {}) or {}
    variables = env.get("Variables", {}) if isinstance(env, dict) else {}
    if names_aws_lambda(_env_text(variables.get("AWS_ENDPOINT_URL_LAMBDA", ""))):
        message = (
            f"{lid}: AWS_ENDPOINT_URL_LAMBDA names AWS's own Lambda API; the function is given "
            "samrun's (its durable executions and the functions it calls are here)"
        )
        where = ctx.where(lid, "Environment", "Variables", "AWS_ENDPOINT_URL_LAMBDA")
        ctx.notices.append(Notice(where, "lambda-endpoint", message))
    by_arn = {layer.arn: layer for layer in layers}
    layer_refs = []
    for arn in ctx.prop(lid, props, "Layers", []) or []:
        local = by_arn.get(as_text(arn))
        layer_code = local.code if local else _mapped_layer(ctx, as_text(arn))
        layer_refs.append(
            LayerRef(
                arn=as_text(arn),
                logical_id=local.logical_id if local else None,
                code=layer_code,
            )
        )
    image = ctx.prop(lid, props, "ImageConfig")
    storage = ctx.prop(lid, props, "EphemeralStorage", {}) or {}
    return FunctionConfig(
        runtime=text_or_none(ctx.prop(lid, props, "Runtime")),
        handler=text_or_none(ctx.prop(lid, props, "Handler")),
        code=code,
        package_type=package_type,
        memory_mb=ctx.number(lid, props, "MemorySize", 128),
        timeout_s=ctx.number(lid, props, "Timeout", 3),
        ephemeral_storage_mb=int(as_text(storage.get("Size", 512))),
        architectures=_text_list(ctx.prop(lid, props, "Architectures")) or ("x86_64",),
        environment={str(k): _env_text(v) for k, v in variables.items()},
        layers=tuple(layer_refs),
        tracing=text_or_none((ctx.prop(lid, props, "TracingConfig") or {}).get("Mode")),
        logging=_logging_config(ctx.prop(lid, props, "LoggingConfig")),
        image_config=ImageConfig(
            entry_point=_text_list(image.get("EntryPoint")),
            command=_text_list(image.get("Command")),
            working_directory=text_or_none(image.get("WorkingDirectory")),
        )
        if isinstance(image, dict)
        else None,
        description=as_text(ctx.prop(lid, props, "Description", "")),
        image_build=image_build,
        tenant_isolation=_tenant_isolation(ctx.prop(lid, props, "TenancyConfig")),
        vpc=vpc_config(ctx, lid, props),
        durable=_durable(ctx, lid, ctx.prop(lid, props, "DurableConfig")),
    )


def _durable(ctx: BuildContext, lid: str, config: object) -> DurableConfig | None:
    """DurableConfig: ExecutionTimeout (seconds) and RetentionPeriodInDays (Lambda's 14)."""
    if not isinstance(config, dict):
        return None
    return DurableConfig(
        execution_timeout_s=_durable_int(ctx, lid, config, "ExecutionTimeout", 86400, 31622400),
        retention_days=_durable_int(ctx, lid, config, "RetentionPeriodInDays", 14, 90),
        kms_key_arn=text_or_none(config.get("KMSKeyArn")),
    )


def _durable_int(
    ctx: BuildContext, lid: str, config: Mapping[str, Any], key: str, default: int, most: int
) -> int:
    """A DurableConfig member in Lambda's range (1..most), refused at its line otherwise."""
    value = config.get(key)
    if value is None:
        return default
    try:
        number = int(as_text(value))
    except ValueError:
        number = 0
    if not 1 <= number <= most:
        raise TemplateError(
            f"DurableConfig.{key} must be a whole number from 1 to {most}, not {value!r}",
            ctx.where(lid, "DurableConfig", key),
            "types",
            lid,
        )
    return number


def _tenant_isolation(tenancy: object) -> str | None:
    """TenancyConfig's TenantIsolationMode (PER_TENANT: one tenant per instance)."""
    return text_or_none(tenancy.get("TenantIsolationMode")) if isinstance(tenancy, dict) else None


def _image_build(ctx: BuildContext, lid: str) -> ImageBuild | None:
    """`Metadata` Dockerfile/DockerContext/DockerTag/DockerBuildArgs, as `sam build` reads them."""
    resource = ctx.sam_resources.get(lid) or ctx.resources.get(lid) or {}
    metadata = resource.get("Metadata") if isinstance(resource, dict) else None
    docker = docker_asset(resource, ctx.base_dir)
    if docker is not None:  # a CDK image asset: built as `sam build` builds a Dockerfile
        return ImageBuild(
            context=str(docker.context),
            dockerfile=docker.dockerfile,
            tag=f"{lid.lower()}:latest",
            build_args=docker.build_args,
            target=docker.target,
        )
    tag = image_tag(lid, metadata)
    if tag is None or not isinstance(metadata, dict):
        return None
    args = metadata.get("DockerBuildArgs") or {}
    return ImageBuild(
        context=str((ctx.base_dir / as_text(metadata.get("DockerContext") or ".")).resolve()),
        dockerfile=as_text(metadata["Dockerfile"]),
        tag=tag,
        build_args={str(k): as_text(v) for k, v in args.items()} if isinstance(args, dict) else {},
    )


def _logging_config(raw: Any) -> LoggingConfig:
    if not isinstance(raw, dict):
        return LoggingConfig()
    return LoggingConfig(
        log_format=as_text(raw.get("LogFormat", "Text")),
        application_log_level=text_or_none(raw.get("ApplicationLogLevel")),
        system_log_level=text_or_none(raw.get("SystemLogLevel")),
        log_group=text_or_none(raw.get("LogGroup")),
    )


def _deployment_preference(ctx: BuildContext, lid: str) -> DeploymentPreference | None:
    sam = ctx.sam_resources.get(lid) or {}
    raw = (sam.get("Properties") or {}).get("DeploymentPreference")
    if not isinstance(raw, dict):
        return None
    pref = ctx.resolve(raw, lid, "DeploymentPreference")
    hooks = pref.get("Hooks") or {}

    def hook(name: str) -> str | None:
        target = ctx.function_target(hooks.get(name))
        return target[0] if target else text_or_none(hooks.get(name))

    return DeploymentPreference(
        type=as_text(pref.get("Type", "AllAtOnce")),
        enabled=flag(pref.get("Enabled"), True),
        pre_traffic_hook=hook("PreTraffic"),
        post_traffic_hook=hook("PostTraffic"),
        alarms=_text_list(pref.get("Alarms")),
    )


def _invoke_configs(ctx: BuildContext) -> dict[str, InvokeConfig]:
    configs: dict[str, InvokeConfig] = {}
    for lid, props in ctx.of_type("AWS::Lambda::EventInvokeConfig"):
        target = ctx.function_target(ctx.prop(lid, props, "FunctionName"))
        if target is None:
            continue
        dest = ctx.prop(lid, props, "DestinationConfig", {}) or {}
        configs.setdefault(
            target[0],
            InvokeConfig(
                maximum_retry_attempts=ctx.integer(lid, props, "MaximumRetryAttempts"),
                maximum_event_age_s=ctx.integer(lid, props, "MaximumEventAgeInSeconds"),
                on_success=destination((dest.get("OnSuccess") or {}).get("Destination")),
                on_failure=destination((dest.get("OnFailure") or {}).get("Destination")),
                qualifier=as_text(ctx.prop(lid, props, "Qualifier", LATEST)),
            ),
        )
    return configs


def _function_urls(ctx: BuildContext) -> dict[str, FunctionUrl]:
    urls: dict[str, FunctionUrl] = {}
    for lid, props in ctx.of_type("AWS::Lambda::Url"):
        target = ctx.function_target(ctx.prop(lid, props, "TargetFunctionArn"))
        if target is None:
            continue
        urls[target[0]] = FunctionUrl(
            auth_type=as_text(ctx.prop(lid, props, "AuthType", "NONE")),
            invoke_mode=as_text(ctx.prop(lid, props, "InvokeMode", "BUFFERED")),
            cors=ctx.prop(lid, props, "Cors", {}) or {},
            qualifier=text_or_none(ctx.prop(lid, props, "Qualifier")) or target[1],
        )
    return urls


def build_functions(ctx: BuildContext, layers: tuple[Layer, ...]) -> tuple[Function, ...]:
    """Every AWS::Lambda::Function; `ctx.function_names` is filled first so targets resolve."""
    found = list(ctx.of_type("AWS::Lambda::Function"))
    for lid, _ in found:
        name = ctx.table.name(lid)
        if name in ctx.function_names:
            raise TemplateError(
                f"{lid} and {ctx.function_names[name]} have the same FunctionName {name!r} "
                "(CloudFormation refuses two functions with one name)",
                ctx.where(lid, "FunctionName"),
                "function-name",
            )
        ctx.function_names[name] = lid
    invoke_configs, urls = _invoke_configs(ctx), _function_urls(ctx)
    functions = []
    for lid, props in found:
        name = ctx.table.name(lid)
        config = _config(ctx, lid, props, layers)
        _check_runnable(ctx, lid, config)
        sam_props = (ctx.sam_resources.get(lid) or {}).get("Properties") or {}
        alias = sam_props.get("AutoPublishAlias")
        dead_letter = (ctx.prop(lid, props, "DeadLetterConfig") or {}).get("TargetArn")
        role = ctx.prop(lid, props, "Role")
        functions.append(
            Function(
                logical_id=lid,
                name=name,
                arn=as_text(ctx.table.get_att(lid, "Arn")),
                config=config,
                reserved_concurrency=ctx.integer(lid, props, "ReservedConcurrentExecutions"),
                auto_publish_alias=text_or_none(ctx.resolve(alias, lid, "AutoPublishAlias"))
                if alias is not None
                else None,
                deployment_preference=_deployment_preference(ctx, lid),
                invoke_config=invoke_configs.get(name),
                dead_letter=destination(dead_letter),
                function_url=urls.get(name),
                role=None if role is None or is_unresolved(role) else as_text(role),
                build=build_spec(ctx, lid),
                construct_path=construct_path(ctx.resources.get(lid)),
            )
        )
    return tuple(functions)


def _check_runnable(ctx: BuildContext, lid: str, config: FunctionConfig) -> None:
    """What Lambda's CreateFunction refuses: a .zip function with no Runtime or Handler, an
    image function with no image."""
    if config.package_type is PackageType.IMAGE:
        missing = [] if config.code.image_uri or config.image_build else ["ImageUri"]
    else:
        wanted = (
            ("Runtime",)
            if (config.runtime or "").startswith("provided")
            else (
                "Runtime",
                "Handler",
            )
        )
        missing = [p for p in wanted if getattr(config, p.lower()) is None]
    if missing:
        kind = "PackageType Image" if config.package_type is PackageType.IMAGE else ".zip"
        raise TemplateError(
            f"{lid}: a {kind} function needs {' and '.join(missing)}",
            ctx.where(lid, missing[0]),
            "runtime",
            lid,
        )


def build_versions(ctx: BuildContext, functions: tuple[Function, ...]) -> tuple[Version, ...]:
    by_name = {f.name: f for f in functions}
    versions = []
    for lid, props in ctx.of_type("AWS::Lambda::Version"):
        target = ctx.function_target(ctx.prop(lid, props, "FunctionName"))
        if target is None:
            continue
        provisioned = ctx.prop(lid, props, "ProvisionedConcurrencyConfig") or {}
        versions.append(
            Version(
                function=target[0],
                version=ctx.table.version_number(lid),
                config=by_name[target[0]].config,
                logical_id=lid,
                description=as_text(ctx.prop(lid, props, "Description", "")),
                provisioned_concurrency=_int_or_none(
                    provisioned.get("ProvisionedConcurrentExecutions")
                ),
            )
        )
    return tuple(versions)


def build_aliases(ctx: BuildContext) -> tuple[Alias, ...]:
    aliases = []
    for lid, props in ctx.of_type("AWS::Lambda::Alias"):
        target = ctx.function_target(ctx.prop(lid, props, "FunctionName"))
        if target is None:
            continue
        routing = ctx.prop(lid, props, "RoutingConfig") or {}
        weights = {
            as_text(w.get("FunctionVersion")): float(as_text(w.get("FunctionWeight", 0)))
            for w in routing.get("AdditionalVersionWeights", []) or []
        }
        provisioned = ctx.prop(lid, props, "ProvisionedConcurrencyConfig") or {}
        aliases.append(
            Alias(
                function=target[0],
                name=as_text(ctx.prop(lid, props, "Name")),
                version=as_text(ctx.prop(lid, props, "FunctionVersion", LATEST)),
                additional_version_weights=weights,
                provisioned_concurrency=_int_or_none(
                    provisioned.get("ProvisionedConcurrentExecutions")
                ),
                logical_id=lid,
                description=as_text(ctx.prop(lid, props, "Description", "")),
            )
        )
    return tuple(aliases)


def _int_or_none(value: Any) -> int | None:
    if value is None or is_unresolved(value):
        return None
    return int(float(as_text(value)))
