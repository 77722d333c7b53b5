"""AWS::CloudFront::Distribution -> `Distribution`: origins, cache behaviours, Lambda@Edge.

CloudFront checks a LambdaFunctionAssociation when the distribution is deployed; samrun checks
it when the template is read, with CloudFront's rules (a numbered version, not `$LATEST` or an
alias; no environment variables, no layers, no VPC; 128 MB and 5 s at viewer events, 30 s at
origin events; Node.js or Python), and leaves the distribution out with a located error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from samrun.errors import TemplateError
from samrun.model import (
    CacheBehavior,
    Distribution,
    EdgeFunction,
    Function,
    FunctionConfig,
    Origin,
    Version,
    is_unresolved,
)
from samrun.template.context import BuildContext, flag
from samrun.template.intrinsics import as_text
from samrun.template.refs import distribution_id

EVENT_TYPES = ("viewer-request", "origin-request", "origin-response", "viewer-response")
VIEWER_MEMORY_MB = 128
TIMEOUT_S = {"viewer": 5, "origin": 30}
_S3 = re.compile(r"^(.+?)\.s3(?:[.-][a-z0-9-]*)*\.amazonaws\.com$")
_API = re.compile(r"^([^.]+)\.execute-api\.[^.]+\.amazonaws\.com$")
_URL = re.compile(r"^([^.]+)\.lambda-url\.[^.]+\.on\.aws$")
_API_TYPES = ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api")


def build_distributions(
    ctx: BuildContext, functions: tuple[Function, ...], versions: tuple[Version, ...]
) -> tuple[Distribution, ...]:
    built = []
    for lid, props in ctx.of_type("AWS::CloudFront::Distribution"):
        config = ctx.resolve(props.get("DistributionConfig") or {}, lid, "DistributionConfig")
        if not isinstance(config, dict):
            raise _error(ctx, lid, "DistributionConfig must be an object", "DistributionConfig")
        origins = tuple(_origin(ctx, lid, i, o) for i, o in enumerate(_list(config, "Origins")))
        ids = {o.id for o in origins}
        behaviors = []
        for i, raw in enumerate(_list(config, "CacheBehaviors")):
            at: tuple[str | int, ...] = ("DistributionConfig", "CacheBehaviors", i)
            behaviors.append(_behavior(ctx, lid, at, raw, ids, functions, versions))
        default = config.get("DefaultCacheBehavior")
        if not isinstance(default, dict):
            raise _error(ctx, lid, "DefaultCacheBehavior is required", "DistributionConfig")
        path = ("DistributionConfig", "DefaultCacheBehavior")
        behaviors.append(_behavior(ctx, lid, path, default, ids, functions, versions))
        ident = distribution_id(lid)
        built.append(
            Distribution(
                logical_id=lid,
                id=ident,
                domain=f"{ident.lower()}.cloudfront.net",
                origins=origins,
                behaviors=tuple(behaviors),
                default_root_object=as_text(config.get("DefaultRootObject") or ""),
                enabled=flag(config.get("Enabled"), True),
            )
        )
    return tuple(built)


def _list(config: Mapping[str, Any], name: str) -> list[Any]:
    value = config.get(name) or []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _error(ctx: BuildContext, lid: str, message: str, *path: str | int) -> TemplateError:
    return TemplateError(message, ctx.where(lid, *path), "cloudfront", lid)


def _origin(ctx: BuildContext, lid: str, index: int, raw: Mapping[str, Any]) -> Origin:
    path = ("DistributionConfig", "Origins", index)
    domain = as_text(raw.get("DomainName") or "").lower().rstrip("/")
    domain = domain.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if not domain or is_unresolved(domain):
        raise _error(
            ctx, lid, f"origin {raw.get('Id')!r} has no DomainName samrun can resolve", *path
        )
    custom = (
        raw.get("CustomOriginConfig") if isinstance(raw.get("CustomOriginConfig"), dict) else None
    )
    headers = {
        as_text(h.get("HeaderName")): as_text(h.get("HeaderValue"))
        for h in raw.get("OriginCustomHeaders") or []
        if isinstance(h, dict)
    }
    kind, target = _origin_kind(ctx, domain, s3="S3OriginConfig" in raw or custom is None)
    policy = as_text((custom or {}).get("OriginProtocolPolicy") or "https-only")
    protocol = "http" if policy == "http-only" else "https"
    port_key = "HTTPPort" if protocol == "http" else "HTTPSPort"
    port = (custom or {}).get(port_key)
    return Origin(
        id=as_text(raw.get("Id") or domain),
        domain=domain,
        kind=kind,
        target=target,
        path=as_text(raw.get("OriginPath") or "").rstrip("/"),
        protocol=protocol,
        port=int(as_text(port)) if port is not None else None,
        custom_headers=headers,
    )


def _origin_kind(ctx: BuildContext, domain: str, *, s3: bool) -> tuple[str, str]:
    """What a domain names locally: one of the app's APIs or function URLs, a bucket on the AWS
    endpoint, or a server of its own (reached as written)."""
    found = _API.match(domain)
    if found:
        api = next((lid for lid, _ in ctx.of_type(*_API_TYPES) if lid.lower() == found[1]), None)
        if api is not None:
            return "api", api
    found = _URL.match(domain)
    if found:
        for lid, props in ctx.of_type("AWS::Lambda::Url"):
            if lid.lower() == found[1]:
                target = ctx.function_target(ctx.prop(lid, props, "TargetFunctionArn"))
                if target is not None:
                    return "function_url", target[0]
    found = _S3.match(domain)
    if found:
        return "s3", found[1]
    return ("s3", domain) if s3 and "." not in domain else ("custom", domain)


def _behavior(
    ctx: BuildContext,
    lid: str,
    path: tuple[str | int, ...],
    raw: Mapping[str, Any],
    origins: set[str],
    functions: tuple[Function, ...],
    versions: tuple[Version, ...],
) -> CacheBehavior:
    origin = as_text(raw.get("TargetOriginId") or "")
    if origin not in origins:
        raise _error(ctx, lid, f"TargetOriginId {origin!r} names no origin", *path)
    edge = []
    seen: set[str] = set()
    for i, association in enumerate(raw.get("LambdaFunctionAssociations") or []):
        where = (*path, "LambdaFunctionAssociations", i)
        found = _association(ctx, lid, where, association, functions, versions)
        if found.event_type in seen:
            message = f"only one function may be associated with {found.event_type}"
            raise _error(ctx, lid, message, *where)
        seen.add(found.event_type)
        edge.append(found)
    methods = raw.get("AllowedMethods") or ["GET", "HEAD"]
    return CacheBehavior(
        path_pattern=as_text(raw["PathPattern"]) if "PathPattern" in raw else None,
        origin=origin,
        functions=tuple(edge),
        allowed_methods=tuple(as_text(m).upper() for m in methods),
        min_ttl=_ttl(raw, "MinTTL", 0),
        default_ttl=_ttl(raw, "DefaultTTL", 86400),
        max_ttl=_ttl(raw, "MaxTTL", 31536000),
    )


def _ttl(raw: Mapping[str, Any], name: str, default: int) -> int:
    try:
        return int(as_text(raw[name])) if name in raw else default
    except ValueError:
        return default


def _association(
    ctx: BuildContext,
    lid: str,
    where: tuple[str | int, ...],
    raw: Any,
    functions: tuple[Function, ...],
    versions: tuple[Version, ...],
) -> EdgeFunction:
    if not isinstance(raw, dict):
        raise _error(ctx, lid, "a LambdaFunctionAssociation must be an object", *where)
    event_type = as_text(raw.get("EventType") or "")
    if event_type not in EVENT_TYPES:
        message = f"EventType {event_type!r} is not one of {', '.join(EVENT_TYPES)}"
        raise _error(ctx, lid, message, *where, "EventType")
    arn_at = (*where, "LambdaFunctionARN")
    arn = raw.get("LambdaFunctionARN")
    target = ctx.function_target(arn)
    if target is None:
        raise _error(ctx, lid, f"LambdaFunctionARN {arn!r} names no function of the app", *arn_at)
    name, qualifier = target
    if not qualifier or not qualifier.isdigit() or qualifier == "0":
        shown = qualifier or "no version"
        message = (
            f"LambdaFunctionARN {as_text(arn)} names {shown}: CloudFront refuses it "
            "(InvalidLambdaFunctionAssociation: the function ARN must reference a specific "
            "function version, not $LATEST or an alias)"
        )
        raise _error(ctx, lid, message, *arn_at)
    function = next(f for f in functions if f.name == name)
    version = next((v for v in versions if v.function == name and v.version == qualifier), None)
    if version is None:
        raise _error(ctx, lid, f"{name} has no version {qualifier} in the template", *arn_at)
    _check_function(ctx, lid, arn_at, name, event_type, version.config, function)
    return EdgeFunction(
        event_type=event_type,
        function=name,
        version=qualifier,
        include_body=flag(raw.get("IncludeBody"), False),
    )


def _check_function(
    ctx: BuildContext,
    lid: str,
    at: tuple[str | int, ...],
    name: str,
    event_type: str,
    config: FunctionConfig,
    function: Function,
) -> None:
    """Lambda@Edge's restrictions on the associated function, as CloudFront rejects them."""
    problems = []
    runtime = config.runtime or ""
    if not runtime.startswith(("nodejs", "python")):
        problems.append(f"runtime {runtime or 'PackageType Image'} (Node.js or Python only)")
    if config.environment:
        problems.append("environment variables")
    if config.layers:
        problems.append("layers")
    props = ctx.resources.get(function.logical_id, {}).get("Properties") or {}
    if props.get("VpcConfig"):
        problems.append("a VpcConfig")
    side = event_type.split("-")[0]
    if side == "viewer" and config.memory_mb > VIEWER_MEMORY_MB:
        problems.append(f"{config.memory_mb} MB of memory (viewer triggers: at most 128 MB)")
    if config.timeout_s > TIMEOUT_S[side]:
        limit = TIMEOUT_S[side]
        problems.append(f"a {config.timeout_s} s timeout ({side} triggers: at most {limit} s)")
    if problems:
        message = (
            f"{name} cannot be associated with {event_type} (InvalidLambdaFunctionAssociation): "
            f"Lambda@Edge does not allow {'; '.join(problems)}"
        )
        raise _error(ctx, lid, message, *at)
