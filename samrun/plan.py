"""`samrun plan`: what `samrun up` would run, as JSON (schemas/plan.schema.json) or a table.

The JSON names are a contract (tests and tools read them); the table is for people, one
section per kind of thing, columns aligned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from samrun.iam.resource_policy import ResourcePolicies
from samrun.iam.roles import mapping_problem, push_problem, role_lines, schedule_problem
from samrun.model import (
    AppGraph,
    Code,
    Destination,
    Function,
    ScalableTarget,
    TargetGroup,
)
from samrun.observe.alarms import unsupported_reason
from samrun.observe.not_run import not_run_document
from samrun.runtime.vpc_config import function_network

PLAN_VERSION = "1"


def _code_uri(code: Code) -> str | None:
    if code.path:
        return code.path
    if code.inline is not None:
        return "inline"
    return code.image_uri or code.remote


def _destination(dest: Destination | None) -> dict[str, str] | None:
    return {"type": dest.type, "arn": dest.arn} if dest else None


def _function(function: Function) -> dict[str, Any]:
    document = _function_fields(function)
    if function.construct_path:
        document["construct_path"] = function.construct_path
    durable = function.config.durable
    if durable is not None:  # DurableConfig: invocations start durable executions
        document["durable"] = {
            "execution_timeout_s": durable.execution_timeout_s,
            "retention_days": durable.retention_days,
            "kms_key_arn": durable.kms_key_arn,
        }
    build = function.config.image_build
    if build is not None:
        document["image_build"] = {
            "context": build.context,
            "dockerfile": build.dockerfile,
            "tag": build.tag,
            "build_args": dict(build.build_args),
            "target": build.target,
        }
    return document


def _function_fields(function: Function) -> dict[str, Any]:
    config = function.config
    invoke = function.invoke_config
    pref = function.deployment_preference
    url = function.function_url
    return {
        "name": function.name,
        "logical_id": function.logical_id,
        "arn": function.arn,
        "runtime": config.runtime,
        "handler": config.handler,
        "package_type": str(config.package_type),
        "code_uri": _code_uri(config.code),
        "memory_mb": config.memory_mb,
        "timeout_s": config.timeout_s,
        "ephemeral_storage_mb": config.ephemeral_storage_mb,
        "architectures": list(config.architectures),
        "environment": dict(config.environment),
        "layers": [layer.arn for layer in config.layers],
        "reserved_concurrency": function.reserved_concurrency,
        "auto_publish_alias": function.auto_publish_alias,
        "deployment_preference": {
            "type": pref.type,
            "enabled": pref.enabled,
            "pre_traffic_hook": pref.pre_traffic_hook,
            "post_traffic_hook": pref.post_traffic_hook,
            "alarms": list(pref.alarms),
        }
        if pref
        else None,
        "event_invoke_config": {
            "maximum_retry_attempts": invoke.maximum_retry_attempts,
            "maximum_event_age_s": invoke.maximum_event_age_s,
            "on_success": _destination(invoke.on_success),
            "on_failure": _destination(invoke.on_failure),
            "qualifier": invoke.qualifier,
        }
        if invoke
        else None,
        "dead_letter": _destination(function.dead_letter),
        "tracing": config.tracing,
        "function_url": {
            "auth_type": url.auth_type,
            "invoke_mode": url.invoke_mode,
            "qualifier": url.qualifier,
            "cors": dict(url.cors),
        }
        if url
        else None,
    }


def _target_group(group: TargetGroup) -> dict[str, Any]:
    return {
        "logical_id": group.logical_id,
        "function": group.function,
        "arn": group.arn,
        "multi_value_headers": group.multi_value_headers,
        "health_check": dict(group.health_check),
        "listeners": [
            {
                "logical_id": listener.logical_id,
                "port": listener.port,
                "protocol": listener.protocol,
                "default_actions": [dict(a) for a in listener.default_actions],
                "rules": [
                    {
                        "logical_id": rule.logical_id,
                        "priority": rule.priority,
                        "conditions": [dict(c) for c in rule.conditions],
                        "actions": [dict(a) for a in rule.actions],
                    }
                    for rule in listener.rules
                ],
            }
            for listener in group.listeners
        ],
    }


def plan_document(
    graph: AppGraph,
    backends: Mapping[str, str] | None = None,
    *,
    vpc_subnets: Mapping[str, str] | None = None,
    enforce_iam: bool = False,
) -> dict[str, Any]:
    """The plan as plain JSON-able data; validates against schemas/plan.schema.json. NoEcho
    parameter values are masked wherever they appear, as CloudFormation masks them.
    `backends`: where each function runs (process | docker), when the command knows it."""
    document: dict[str, Any] = masked(_document(graph), graph.secrets)
    networks = {f.name: _network(f, vpc_subnets or {}) for f in graph.functions}
    roles = {f.name: role_document(graph, f) for f in graph.functions}
    for function in document["functions"]:
        function["role"] = roles.get(function["name"])  # its execution role (samrun.iam)
        if function["name"] in networks:  # `--vpc-config`'s subnets too
            function["network"] = networks[function["name"]]
        if backends and function["name"] in backends:
            function["backend"] = backends[function["name"]]
    if enforce_iam:  # the mappings the role cannot poll, as Lambda reports them
        shown_mappings = document["event_source_mappings"]
        for esm, shown in zip(graph.event_source_mappings, shown_mappings, strict=True):
            problem = mapping_problem(graph, esm)
            shown["state"] = "Disabled" if problem else "Enabled"
            shown["state_transition_reason"] = problem or "USER_INITIATED"
        _invoke_permissions(graph, document)
    return document


def _invoke_permissions(graph: AppGraph, document: dict[str, Any]) -> None:
    """--enforce-iam: the permission a push source or a rule's schedule lacks to invoke its
    function (S3 refuses the notification; SNS and EventBridge fail each delivery)."""
    policies = ResourcePolicies(graph)
    pushes = zip(graph.push_sources, document["push_sources"], strict=True)
    for push, shown in pushes:
        problem = push_problem(graph, policies, push)
        if problem:
            shown["invoke_permission"] = problem
    for schedule, shown in zip(graph.schedules, document["schedules"], strict=True):
        problem = schedule_problem(graph, policies, schedule)
        if problem:
            shown["invoke_permission"] = problem


def _network(function: Function, subnets: Mapping[str, str]) -> dict[str, Any]:
    vpc = function.config.vpc
    if vpc is None:
        return {"mode": "host"}
    network = function_network(vpc, subnets)
    return {
        "mode": "vpc",
        "egress": network.egress,
        "subnets": list(network.notes),
        "security_group_ids": list(vpc.security_group_ids),
    }


def _network_cell(network: Mapping[str, Any]) -> str:
    if network.get("mode") != "vpc":
        return "host"
    return "vpc, NAT egress" if network.get("egress") else "vpc, no egress"


def masked(value: Any, secrets: tuple[str, ...]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "****")
        return value
    if isinstance(value, dict):
        return {key: masked(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, secrets) for item in value]
    return value


def _document(graph: AppGraph) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "template": graph.template_path,
        "region": graph.region,
        "account_id": graph.account_id,
        "functions": [_function(f) for f in graph.functions],
        "layers": [
            {
                "logical_id": layer.logical_id,
                "name": layer.name,
                "arn": layer.arn,
                "code_uri": _code_uri(layer.code),
                "compatible_runtimes": list(layer.compatible_runtimes),
                "compatible_architectures": list(layer.compatible_architectures),
            }
            for layer in graph.layers
        ],
        "versions": [
            {
                "function": v.function,
                "version": v.version,
                "logical_id": v.logical_id,
                "provisioned_concurrency": v.provisioned_concurrency,
            }
            for v in graph.versions
        ],
        "aliases": [
            {
                "function": a.function,
                "name": a.name,
                "version": a.version,
                "additional_version_weights": dict(a.additional_version_weights),
                "provisioned_concurrency": a.provisioned_concurrency,
            }
            for a in graph.aliases
        ],
        "routes": [
            {
                "api": r.api,
                "kind": str(r.kind),
                "method": r.method,
                "path": r.path,
                "function": r.function,
                "qualifier": r.qualifier,
                "payload_format": r.payload_format,
                "auth": r.auth,
                "stage": r.stage,
                "timeout_ms": r.timeout_ms,
                "state_machine": r.state_machine,
            }
            for r in graph.routes
        ],
        "event_source_mappings": [
            {
                "function": m.function,
                "qualifier": m.qualifier,
                "source_type": m.source_type,
                "source": m.source,
                "batch_size": m.batch_size,
                "starting_position": m.starting_position,
                "maximum_batching_window_s": m.maximum_batching_window_s,
                "function_response_types": list(m.function_response_types),
                "filters": [dict(f) for f in m.filters],
                "enabled": m.enabled,
                "details": dict(m.details),
            }
            for m in graph.event_source_mappings
        ],
        "push_sources": [
            {
                "function": p.function,
                "qualifier": p.qualifier,
                "type": p.type,
                "source": p.source,
                "details": dict(p.details),
                "state_machine": p.state_machine,
            }
            for p in graph.push_sources
        ],
        "schedules": [
            {
                "function": s.function,
                "qualifier": s.qualifier,
                "name": s.name,
                "expression": s.expression,
                "enabled": s.enabled,
                "input": s.input,
                "state_machine": s.state_machine,
            }
            for s in graph.schedules
        ],
        "target_groups": [_target_group(g) for g in graph.target_groups],
        "resources": [
            {
                "logical_id": r.logical_id,
                "type": r.type,
                "name": r.name,
                "arn": r.arn,
                "properties": dict(r.properties),
            }
            for r in graph.resources
        ],
        "warnings": list(graph.warnings),
        "alarms": [
            {
                "logical_id": a.logical_id,
                "name": a.name,
                "metric": f"{a.namespace} {a.metric}",
                "dimensions": dict(a.dimensions),
                "condition": f"{a.statistic} {a.comparison} {a.threshold:g}",
                "periods": f"{a.datapoints_to_alarm or a.evaluation_periods} of "
                f"{a.evaluation_periods} x {a.period_s} s",
                "evaluated": unsupported_reason(a) is None,
                "not_evaluated": unsupported_reason(a),
            }
            for a in graph.alarms
        ],
        "distributions": [d.document() for d in graph.distributions],
        "scaling_targets": [_scaling_target(t) for t in graph.scaling_targets],
        "not_run": not_run_document(graph),
    }


def _scaling_target(target: ScalableTarget) -> dict[str, Any]:
    """A provisioned concurrency scalable target with its policies and scheduled actions."""
    return {
        "logical_id": target.logical_id,
        "resource_id": target.resource_id,
        "min": target.min_capacity,
        "max": target.max_capacity,
        "policies": [
            f"{p.name}: {p.metric} {p.statistic} at {p.target_value:g}"
            + (" (no scale-in)" if p.disable_scale_in else "")
            for p in target.policies
        ],
        "scheduled_actions": [
            f"{a.name}: {a.schedule} -> min {a.min_capacity}, max {a.max_capacity}"
            for a in target.scheduled_actions
        ],
    }


def _table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        return []
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    return [
        f"{title} ({len(cells)})",
        line(headers),
        line(["-" * w for w in widths]),
        *(line(r) for r in cells),
        "",
    ]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return str(value)


def _code_cell(function: Mapping[str, Any]) -> Any:
    """The code, and for an image built here the Dockerfile it is built from."""
    build = function.get("image_build")
    if build is None:
        return function["code_uri"]
    return f"{function['code_uri']} (built from {build['context']}/{build['dockerfile']})"


def _runtime_cell(function: Mapping[str, Any]) -> str:
    runtime = str(function["runtime"] or function["package_type"])
    return (
        f"{runtime} (docker)"
        if function.get("backend") == "docker" and function["runtime"]
        else runtime
    )


def plan_table(
    graph: AppGraph,
    backends: Mapping[str, str] | None = None,
    *,
    vpc_subnets: Mapping[str, str] | None = None,
    enforce_iam: bool = False,
) -> str:
    """A readable plan: one aligned table per non-empty section; a function that runs in a
    container while the rest do not shows `(docker)` beside its runtime."""
    doc = plan_document(graph, backends, vpc_subnets=vpc_subnets, enforce_iam=enforce_iam)
    out: list[str] = []
    functions = doc["functions"]
    cdk = any("construct_path" in f for f in functions)  # a CDK app: its construct paths too
    out += _table(
        "Functions",
        [
            "NAME",
            *(["CONSTRUCT"] if cdk else []),
            "RUNTIME",
            "HANDLER",
            "MEMORY",
            "TIMEOUT",
            "CODE",
            "NETWORK",
        ],
        [
            (
                f["name"],
                *([f.get("construct_path")] if cdk else []),
                _runtime_cell(f),
                f["handler"],
                f["memory_mb"],
                f["timeout_s"],
                _code_cell(f),
                _network_cell(f.get("network") or {}),
            )
            for f in functions
        ],
    )
    out += _table(
        "Durable functions (DurableConfig)",
        ["FUNCTION", "EXECUTION TIMEOUT", "RETENTION"],
        [
            (f["name"], f"{d['execution_timeout_s']} s", f"{d['retention_days']} days")
            for f in functions
            if (d := f.get("durable"))
        ],
    )
    out += _table(
        "Execution roles",
        ["FUNCTION", "ROLE", "STATEMENTS (summarised)"],
        [
            (f["name"], (f["role"] or {}).get("arn") or "-", line)
            for f in functions
            for line in ((f["role"] or {}).get("statements") or ["-"])
        ],
    )
    out += _table(
        "Layers",
        ["NAME", "ARN", "CODE"],
        [(la["name"], la["arn"], la["code_uri"]) for la in doc["layers"]],
    )
    out += _table(
        "Aliases",
        ["FUNCTION", "ALIAS", "VERSION", "WEIGHTS", "PROVISIONED"],
        [
            (
                a["function"],
                a["name"],
                a["version"],
                a["additional_version_weights"],
                a["provisioned_concurrency"],
            )
            for a in doc["aliases"]
        ],
    )
    out += _table(
        "Routes",
        ["KIND", "METHOD", "PATH", "FUNCTION", "API", "PAYLOAD", "AUTH"],
        [
            (
                r["kind"],
                r["method"],
                r["path"],
                f"state machine {r['function']}" if r.get("state_machine") else r["function"],
                r["api"],
                r["payload_format"],
                r["auth"],
            )
            for r in doc["routes"]
        ],
    )
    out += _table(
        "Event source mappings",
        ["FUNCTION", "TYPE", "SOURCE", "BATCH", "ENABLED"],
        [
            (
                m["function"],
                m["source_type"],
                m["source"],
                m["batch_size"],
                # --enforce-iam: a mapping its role cannot poll, with Lambda's reason
                f"Disabled: {m['state_transition_reason']}"
                if m.get("state") == "Disabled"
                else m["enabled"],
            )
            for m in doc["event_source_mappings"]
        ],
    )
    out += _table(
        "Push sources",
        ["FUNCTION", "TYPE", "SOURCE"],
        [(p["function"], p["type"], p["source"]) for p in doc["push_sources"]],
    )
    out += _table(  # --enforce-iam: what each delivery (or S3's configuration) fails with
        "Missing invoke permissions",
        ["FUNCTION", "SOURCE", "PROBLEM"],
        [
            (p["function"], p.get("source") or p.get("expression"), p["invoke_permission"])
            for p in [*doc["push_sources"], *doc["schedules"]]
            if p.get("invoke_permission")
        ],
    )
    out += _table(
        "Schedules",
        ["FUNCTION", "EXPRESSION", "ENABLED", "INPUT"],
        [(s["function"], s["expression"], s["enabled"], s["input"]) for s in doc["schedules"]],
    )
    out += _table(
        "Target groups",
        ["TARGET GROUP", "FUNCTION", "PORTS", "MULTI-VALUE"],
        [
            (
                g["logical_id"],
                g["function"],
                [li["port"] for li in g["listeners"]],
                g["multi_value_headers"],
            )
            for g in doc["target_groups"]
        ],
    )
    out += _table(
        "Resources",
        ["TYPE", "NAME", "ARN"],
        [(r["type"], r["name"], r["arn"]) for r in doc["resources"]],
    )
    out += _table(
        "Alarms",
        ["NAME", "METRIC", "CONDITION", "PERIODS", "EVALUATED"],
        [
            (a["name"], a["metric"], a["condition"], a["periods"], a["not_evaluated"] or "yes")
            for a in doc["alarms"]
        ],
    )
    out += _table(
        "Provisioned concurrency scaling",
        ["TARGET", "MIN", "MAX", "POLICIES", "SCHEDULED ACTIONS"],
        [
            (
                t["resource_id"],
                t["min"],
                t["max"],
                "; ".join(t["policies"]) or "-",
                "; ".join(t["scheduled_actions"]) or "-",
            )
            for t in doc.get("scaling_targets", [])
        ],
    )
    out += _table(
        "CloudFront distributions",
        ["DISTRIBUTION", "BEHAVIOUR", "ORIGIN", "LAMBDA@EDGE"],
        [
            (
                d["logical_id"],
                b["path_pattern"],
                next(
                    f"{o['id']} ({o['kind']} {o['target']})"
                    for o in d["origins"]
                    if o["id"] == b["origin"]
                ),
                ", ".join(f"{k}={v}" for k, v in b["functions"].items()) or "-",
            )
            for d in doc.get("distributions", [])
            for b in d["behaviors"]
        ],
    )
    out += _table(
        "Not run locally",
        ["WHAT", "NAME", "TYPE", "REASON"],
        [
            (n["what"], n["name"], n["type"], f"{n['location']}: {n['reason']}")
            if "location" in n
            else (n["what"], n["name"], n["type"], n["reason"])
            for n in doc["not_run"]
        ],
    )
    if not out:
        out = ["(nothing to run)", ""]
    return "\n".join(out).rstrip("\n")


def role_document(graph: AppGraph, function: Function) -> dict[str, Any] | None:
    """A function's execution role and its statements, summarised (None: it names none)."""
    arn, lines = role_lines(graph, function)
    return {"arn": arn, "statements": lines} if arn else None
