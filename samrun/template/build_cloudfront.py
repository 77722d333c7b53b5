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
    ErrorResponse,
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
                error_responses=_error_responses(ctx, lid, config),
            )
        )
        name_unapplied(ctx, ctx.source_id(lid) or lid, config)
    return tuple(built)


NOT_APPLIED: Mapping[str, str] = {
    "OriginGroups": "origin failover groups: only each behaviour's TargetOriginId is reached",
    "Restrictions": "geographic restrictions: every viewer is served",
    "WebACLId": "the AWS WAF web ACL: requests are not filtered",
    "Aliases": "alternate domain names: the door answers on its local port only",
    "ViewerCertificate": "the TLS certificate: the local door serves plain HTTP",
    "Logging": "standard (access) logs are not written to S3",
    "ContinuousDeploymentPolicyId": "the staging distribution's traffic split",
}
"""DistributionConfig properties samrun reads but does not apply, with what they are."""

BEHAVIOR_NOT_APPLIED: Mapping[str, str] = {
    "FunctionAssociations": "CloudFront Functions: they do not run (Lambda@Edge does)",
    "CachePolicyId": (
        "the cache policy: the local cache keys on method, path and query string "
        "and keeps responses for the behaviour's MinTTL/DefaultTTL/MaxTTL"
    ),
    "OriginRequestPolicyId": (
        "the origin request policy: the viewer's headers, cookies and query "
        "string all reach the origin"
    ),
    "ResponseHeadersPolicyId": "the response headers policy: it adds no headers",
    "FieldLevelEncryptionId": "field-level encryption: POST fields reach the origin as sent",
    "TrustedSigners": "signed URLs and cookies are not required",
    "TrustedKeyGroups": "signed URLs and cookies are not required",
    "RealtimeLogConfigArn": "real-time logs are not sent to Kinesis",
}
"""Cache behaviour properties samrun does not apply, with what they are."""


def name_unapplied(ctx: BuildContext, lid: str, config: Mapping[str, Any]) -> None:
    """Name, once per distribution, each property of its config samrun does not apply."""
    for prop, reason in NOT_APPLIED.items():
        if config.get(prop) and not _default_certificate(prop, config.get(prop)):
            ctx.skip("property", f"{lid}.{prop}", prop, f"not applied: {reason}")
    behaviors = [*_list(config, "CacheBehaviors"), config.get("DefaultCacheBehavior")]
    raws = [b for b in behaviors if isinstance(b, dict)]
    for prop, reason in BEHAVIOR_NOT_APPLIED.items():
        if any(raw.get(prop) for raw in raws):
            ctx.skip("property", f"{lid}.{prop}", prop, f"not applied: {reason}")
    policies = {as_text(raw.get("ViewerProtocolPolicy") or "allow-all") for raw in raws}
    if policies - {"allow-all"}:
        shown = ", ".join(sorted(policies - {"allow-all"}))
        reason = (
            f"{shown} not applied: the local door serves HTTP; viewers are not redirected "
            "(redirect-to-https) nor refused (https-only)"
        )
        ctx.skip("property", f"{lid}.ViewerProtocolPolicy", "ViewerProtocolPolicy", reason)
    forwarded = [raw.get("ForwardedValues") for raw in raws]
    _name_forwarded(ctx, lid, [f for f in forwarded if isinstance(f, dict)])
    s3_access = [
        o.get("OriginAccessControlId") or _oai(o.get("S3OriginConfig"))
        for o in _list(config, "Origins")
    ]
    if any(s3_access):
        reason = (
            "subsumed: origin access control / identity is not needed locally, samrun reads "
            "the local S3 origin with its own signed requests"
        )
        ctx.skip("property", f"{lid}.OriginAccess", "OriginAccessControlId", reason)


def _oai(s3: Any) -> Any:
    return s3.get("OriginAccessIdentity") if isinstance(s3, dict) else None


def _default_certificate(prop: str, value: Any) -> bool:
    """A ViewerCertificate that only keeps the *.cloudfront.net certificate changes nothing."""
    if prop != "ViewerCertificate" or not isinstance(value, dict):
        return False
    return set(value) <= {"CloudFrontDefaultCertificate", "MinimumProtocolVersion"}


def _name_forwarded(ctx: BuildContext, lid: str, forwarded: list[dict[str, Any]]) -> None:
    """ForwardedValues (legacy cache settings) whose effect on the cache key and on what
    reaches the origin differs locally: samrun forwards everything and keys its cache on
    method, path and query string only."""
    parts = []
    if any(not flag(f.get("QueryString"), False) for f in forwarded):
        parts.append(
            "QueryString false (CloudFront neither forwards the query string nor caches on it; "
            "samrun does both)"
        )
    if any(f.get("Headers") or f.get("QueryStringCacheKeys") for f in forwarded):
        parts.append("Headers / QueryStringCacheKeys (the local cache does not key on them)")
    cookies = [f.get("Cookies") for f in forwarded]
    if any(isinstance(c, dict) and as_text(c.get("Forward") or "none") != "none" for c in cookies):
        parts.append("Cookies (the local cache does not key on them)")
    if parts:
        reason = "not applied: " + "; ".join(parts)
        ctx.skip("property", f"{lid}.ForwardedValues", "ForwardedValues", reason)


def _error_responses(
    ctx: BuildContext, lid: str, config: Mapping[str, Any]
) -> tuple[ErrorResponse, ...]:
    """CustomErrorResponses: ErrorCode 400-599; ResponsePagePath and ResponseCode together."""
    found = []
    for i, raw in enumerate(_list(config, "CustomErrorResponses")):
        at = ("DistributionConfig", "CustomErrorResponses", i)
        code = _code(ctx, lid, raw.get("ErrorCode"), (*at, "ErrorCode"))
        if code is None or not 400 <= code <= 599:
            raise _error(ctx, lid, f"ErrorCode {raw.get('ErrorCode')!r} is not 4xx or 5xx", *at)
        page = raw.get("ResponsePagePath")
        page_path = as_text(page) if page not in (None, "") else None
        response = _code(ctx, lid, raw.get("ResponseCode"), (*at, "ResponseCode"))
        if (page_path is None) != (response is None):
            message = "ResponsePagePath and ResponseCode must be specified together"
            raise _error(ctx, lid, message, *at)
        if page_path is not None and not page_path.startswith("/"):
            raise _error(ctx, lid, "ResponsePagePath must begin with /", *at, "ResponsePagePath")
        min_ttl = _code(ctx, lid, raw.get("ErrorCachingMinTTL"), (*at, "ErrorCachingMinTTL"))
        found.append(
            ErrorResponse(
                code=code,
                page_path=page_path,
                response_code=response,
                min_ttl=10 if min_ttl is None else min_ttl,
            )
        )
    return tuple(found)


def _code(ctx: BuildContext, lid: str, value: Any, at: tuple[str | int, ...]) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(as_text(value))
    except ValueError:
        raise _error(ctx, lid, f"{at[-1]} must be a number, not {value!r}", *at) from None


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
    # match-viewer uses the viewer's protocol, and the local door's viewers speak plain HTTP
    protocol = "http" if policy in ("http-only", "match-viewer") else "https"
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
