"""A loaded template -> the immutable `AppGraph`: parameters, SAM transform, conditions, converters.

Steps, in order: parameter values (overrides, defaults, constraints) and pseudo parameters;
a circular-reference check on the template as written (so the error points at the user's
text); the SAM transform when declared; resources whose Condition is false dropped; then one
converter per kind of graph node (build_functions, build_routes, build_events, build_alb).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from samrun.errors import TemplateError
from samrun.model import AppGraph, Resource, Unavailable
from samrun.template.build_alarms import build_alarms
from samrun.template.build_alb import build_target_groups
from samrun.template.build_cloudfront import build_distributions
from samrun.template.build_events import (
    build_event_source_mappings,
    build_push_sources,
    build_schedules,
)
from samrun.template.build_functions import (
    build_aliases,
    build_functions,
    build_layers,
    build_versions,
)
from samrun.template.build_iam import build_permissions, build_roles
from samrun.template.build_routes import build_routes
from samrun.template.build_scaling import build_scaling_targets
from samrun.template.build_states import state_machine_properties
from samrun.template.context import BuildContext, Notice, source_logical_id
from samrun.template.coverage import name_unrealised
from samrun.template.cycles import find_cycle
from samrun.template.intrinsics import Context, IntrinsicError, Resolver
from samrun.template.loader import LoadedTemplate, load_template
from samrun.template.nested import child_outputs, load_children, merge
from samrun.template.parameters import (
    Pseudo,
    inline_parameter_refs,
    no_echo_names,
    placeholder,
    resolve_parameters,
)
from samrun.template.refs import ResourceTable
from samrun.template.sam import (
    SAM_TRANSFORM,
    SERVERLESS,
    Rejected,
    has_sam_transform,
    run_transform,
)

_LOCAL_RESOURCES = {
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS::Topic": "sns",
    "AWS::S3::Bucket": "s3",
    "AWS::Kinesis::Stream": "kinesis",
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::DynamoDB::GlobalTable": "dynamodb",
    "AWS::Events::EventBus": "eventbridge",
    "AWS::SSM::Parameter": "ssm",
    "AWS::SecretsManager::Secret": "secretsmanager",
    "AWS::KMS::Key": "kms",
    "AWS::Logs::LogGroup": "logs",
    "AWS::IAM::Role": "iam",
    "AWS::StepFunctions::StateMachine": "states",
}
_ARN_ATTRIBUTE = {
    "sqs": "Arn",
    "sns": "TopicArn",
    "s3": "Arn",
    "kinesis": "Arn",
    "dynamodb": "Arn",
    "eventbridge": "Arn",
    "ssm": "Arn",
    "secretsmanager": "Id",
    "kms": "Arn",
    "logs": "Arn",
    "iam": "Arn",
    "states": "Arn",
}


@dataclass
class Compiled:
    """A template after parameters, the SAM transform and conditions: ready for converters."""

    loaded: LoadedTemplate
    context: BuildContext
    parameters: Mapping[str, Any]


def _check_cycles(
    loaded: LoadedTemplate, resources: Mapping[str, Any], source_id: Callable[[str], str | None]
) -> None:
    """CloudFormation's own rule: a cycle among the resources it deploys (after the SAM
    transform), located at the template resource each one comes from."""
    cycle = find_cycle(resources)
    if cycle:
        names = " -> ".join([*(name for name, _ in cycle), cycle[0][0]])
        first, path = cycle[0]
        source = source_id(first)
        where = (
            loaded.locate(("Resources", first, *path))
            if source == first
            else loaded.locate(("Resources", source) if source else ("Resources",))
        )
        raise TemplateError(f"circular reference: {names}", where, "cycles")


def _implicit_transform(loaded: LoadedTemplate, notices: list[Notice]) -> dict[str, Any]:
    """The template's data, with the SAM transform declared when it has AWS::Serverless::*
    resources and no Transform line (SAM CLI reads them as serverless too): one warning."""
    data = loaded.data
    if has_sam_transform(data):
        return data
    resources = data.get("Resources") or {}
    serverless = [
        lid
        for lid, resource in resources.items()
        if isinstance(resource, dict) and str(resource.get("Type", "")).startswith(SERVERLESS)
    ]
    if not serverless:
        return data
    notices.append(
        Notice(
            loaded.locate(("Resources", serverless[0], "Type")),
            "transform",
            f"{len(serverless)} AWS::Serverless::* resource(s) and no "
            f"'Transform: {SAM_TRANSFORM}' line: applying the SAM transform (add the line; "
            "CloudFormation refuses the template without it)",
        )
    )
    declared = data.get("Transform")
    names = declared if isinstance(declared, list) else [declared] if declared else []
    return {**data, "Transform": [*names, SAM_TRANSFORM]}


def _load_definition(path: Path) -> Any:
    """A local OpenAPI file named by DefinitionUri, read with the same loader."""
    return load_template(path).data


def compile_template(
    loaded: LoadedTemplate,
    *,
    parameter_overrides: Mapping[str, str],
    region: str,
    account_id: str,
    stack_name: str,
    cache_dir: Path | None = None,
    layer_map: Mapping[str, str] = {},
    prefix: str = "",
    chain: tuple[Path, ...] = (),
) -> Compiled:
    pseudo = Pseudo(region=region, account_id=account_id, stack_name=stack_name)
    notices: list[Notice] = []
    if not isinstance(loaded.data.get("Resources"), dict):
        raise TemplateError("the template has no Resources", loaded.locate(()), "template")
    missing: list[str] = []
    parameters: dict[str, Any] = {
        **resolve_parameters(
            loaded.data.get("Parameters") or {}, parameter_overrides, loaded.locate, missing
        ),
        **pseudo.values(),
    }
    for name in missing:
        notices.append(
            Notice(
                loaded.locate(("Parameters", name)),
                "parameters",
                f"parameter {name} has no Default and no --parameter-overrides value: "
                f"where it is used, its value is {placeholder(name)}",
                error_in_validate=True,
            )
        )
    data = _implicit_transform(loaded, notices)
    original_ids = frozenset(loaded.data.get("Resources") or {})
    sam_resources: Mapping[str, Any] = {}
    placeholders = None
    left_out: list[LeftOut] = []
    if has_sam_transform(data):
        transformed = run_transform(
            inline_parameter_refs(data, parameters),
            parameters,
            region=region,
            base_dir=loaded.path.parent,
            locate=loaded.locate,
            load_definition=_load_definition,
            cache_dir=cache_dir,
        )
        left_out.extend(_rejected_by_sam(loaded, transformed.rejected))
        data, placeholders = transformed.cfn, transformed.placeholders
        sam_resources = transformed.sam.get("Resources") or {}
    _check_cycles(
        loaded, data.get("Resources") or {}, lambda lid: source_logical_id(original_ids, lid)
    )
    resources = data.get("Resources") or {}
    table = ResourceTable(
        resources,
        region=region,
        account_id=account_id,
        partition=pseudo.partition,
        prefix=prefix,
    )
    resolver = Resolver(
        Context(
            parameters=parameters,
            conditions=data.get("Conditions") or {},
            mappings=data.get("Mappings") or {},
            ref=table.ref,
            get_att=table.get_att,
        )
    )
    table.resolver = resolver
    active = {}
    for lid, resource in resources.items():
        if not isinstance(resource, dict) or "Type" not in resource:
            where = loaded.locate(("Resources", lid))
            error = TemplateError(f"resource {lid} has no Type", where, "template")
            left_out.append(LeftOut("resource", lid, "?", error))
            continue
        condition = resource.get("Condition")
        try:
            keep = condition is None or resolver.condition(str(condition))
        except IntrinsicError as exc:
            source = source_logical_id(original_ids, lid) or lid
            if source not in {item.name for item in left_out}:  # SAM's resources of one
                left_out.append(_unconditional(loaded, source, TemplateError(str(exc))))
            continue
        if keep:
            active[lid] = resource
    table.resources = active
    context = BuildContext(
        resources=active,
        resolver=resolver,
        table=table,
        base_dir=loaded.path.parent.resolve(),
        locate=loaded.locate,
        original_ids=original_ids,
        sam_resources=sam_resources,
        placeholders=placeholders,
        notices=notices,
        layer_map=layer_map,
    )
    for item in left_out:
        context.reject(
            item.what,
            item.name,
            item.type,
            item.error,
            answers=item.answers,
            runtime_problem=item.runtime_problem,
        )
    _name_shared_function_names(context)

    def load_child(path: Path, overrides: dict[str, str], lid: str) -> tuple[AppGraph, Any]:
        child = compile_template(
            load_template(path),
            parameter_overrides=overrides,
            region=region,
            account_id=account_id,
            stack_name=f"{stack_name}-{lid}",
            cache_dir=cache_dir,
            layer_map=layer_map,
            prefix=f"{prefix}{lid}-",
            chain=(*chain, loaded.path.resolve()),
        )
        outputs = child_outputs(child.context, child.loaded.data.get("Outputs") or {})
        return build_graph(child), outputs

    context.children = load_children(context, load_child, (*chain, loaded.path.resolve()))
    return Compiled(loaded=loaded, context=context, parameters=parameters)


def build_resources(ctx: BuildContext) -> tuple[Resource, ...]:
    resources = []
    for lid, resource in ctx.resources.items():
        kind = _LOCAL_RESOURCES.get(resource.get("Type", ""))
        if kind is None or (kind == "iam" and ctx.source_id(lid) != lid):
            continue  # the roles SAM generates for functions are not the app's to read
        if kind == "states":
            properties = state_machine_properties(ctx, lid, resource.get("Properties") or {})
            if properties is None:
                continue
        else:
            properties = ctx.resolve(resource.get("Properties") or {}, lid)
        resources.append(
            Resource(
                logical_id=lid,
                type=kind,
                name=ctx.table.name(lid).lower() if kind == "s3" else ctx.table.name(lid),
                arn=str(ctx.table.get_att(lid, _ARN_ATTRIBUTE[kind])),
                properties=properties,
            )
        )
    return tuple(resources)


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A part of the template the app runs without, and the error that keeps it out."""

    what: str  # resource | function | event | property
    name: str
    type: str
    error: TemplateError
    answers: tuple[str, ...] = ()  # a function's names, which answer the error
    runtime_problem: bool = False  # Runtime, Handler or ImageUri: InvalidRuntimeException


_RUNTIME_WORDS = ("Runtime", "Handler", "ImageUri", "PackageType")
_FUNCTION_TYPES = ("AWS::Lambda::Function", f"{SERVERLESS}Function")


def _rejected_by_sam(loaded: LoadedTemplate, rejected: list[Rejected]) -> Iterator[LeftOut]:
    """What the SAM transform left out, located in the template as written."""
    resources = loaded.data.get("Resources") or {}
    for r in rejected:
        resource = resources.get(r.logical_id) or {}
        kind = str(resource.get("Type", "?"))
        props = resource.get("Properties")
        props = props if isinstance(props, dict) else {}
        if r.part == "global":
            where = loaded.locate(("Globals", *str(r.name).split(".")))
            error = TemplateError(r.message, where, "sam")
            yield LeftOut("property", f"Globals.{r.name}", str(r.name).split(".")[-1], error)
        elif r.part == "event":
            path: tuple[str | int, ...] = ("Resources", r.logical_id, "Properties", "Events")
            event = (props.get("Events") or {}).get(r.name) or {}
            error = TemplateError(r.message, loaded.locate((*path, str(r.name))), "sam")
            kind = str(event.get("Type", "?")) if isinstance(event, dict) else "?"
            yield LeftOut("event", f"{r.logical_id}.Events.{r.name}", kind, error)
        elif r.part == "property":
            where = loaded.locate(("Resources", r.logical_id, "Properties", str(r.name)))
            error = TemplateError(r.message, where, "sam")
            yield LeftOut("property", f"{r.logical_id}.{r.name}", str(r.name), error)
        else:
            error = TemplateError(r.message, loaded.locate(("Resources", r.logical_id)), "sam")
            if kind != f"{SERVERLESS}Function":
                yield LeftOut("resource", r.logical_id, kind, error)
                continue
            runtime = any(word in r.message for word in _RUNTIME_WORDS)
            answers = _function_names(r.logical_id, resource)
            yield LeftOut("function", r.logical_id, kind, error, answers, runtime)


def _unconditional(loaded: LoadedTemplate, source: str, error: TemplateError) -> LeftOut:
    """A resource whose Condition cannot be evaluated (it names no condition): left out."""
    resource = (loaded.data.get("Resources") or {}).get(source) or {}
    error.location = loaded.locate(("Resources", source, "Condition"))
    kind = str(resource.get("Type", "?"))
    if kind not in _FUNCTION_TYPES:
        return LeftOut("resource", source, kind, error)
    return LeftOut("function", source, kind, error, _function_names(source, resource))


def _function_names(source: str, resource: dict[str, Any]) -> tuple[str, ...]:
    """The names a function of the template as written answers to: its logical id, and its
    FunctionName when the template spells it out."""
    props = resource.get("Properties")
    name = props.get("FunctionName") if isinstance(props, dict) else None
    return (source, *([name] if isinstance(name, str) and name != source else []))


def _name_shared_function_names(ctx: BuildContext) -> None:
    """Two functions with one FunctionName (CloudFormation refuses to deploy them; SAM CLI
    runs both): each runs under its logical id, and the shared name answers an error naming
    them."""
    owners: dict[str, list[str]] = {}
    for lid, _ in ctx.of_type("AWS::Lambda::Function"):
        try:
            owners.setdefault(ctx.table.name(lid), []).append(lid)
        except IntrinsicError:
            continue  # its own error is reported where the function is built
    for name, lids in owners.items():
        if len(lids) < 2:
            continue
        ctx.table.rename_functions(lids)
        message = (
            f"{' and '.join(lids)} have the same FunctionName {name!r} (CloudFormation refuses "
            "two functions with one name): each runs under its logical id; invoke it by that"
        )
        ctx.notices.append(
            Notice(ctx.where(lids[-1], "FunctionName"), "function-name", message, True)
        )
        ctx.unavailable.append(
            Unavailable(name=name, error="ResourceNotFoundException", message=message)
        )


def build_graph(compiled: Compiled) -> AppGraph:
    """The graph of everything that can run: a resource whose values cannot be resolved is
    left out (named in the not-run list) and the graph built again without it."""
    ctx = compiled.context
    while True:
        checkpoint = ctx.checkpoint()
        try:
            return _build_graph(compiled)
        except TemplateError as exc:
            source = ctx.source_id(exc.logical_id) if exc.logical_id else None
            if exc.logical_id is None or source is None or source not in ctx.original_ids:
                raise
            ctx.rollback(checkpoint)
            if not _leave_out_event(ctx, exc.logical_id, source, exc):
                _leave_out(ctx, compiled.loaded, source, exc)


def _leave_out_event(ctx: BuildContext, lid: str, source: str, error: TemplateError) -> bool:
    """A resource SAM made of one of a function's events (its event source mapping, its
    subscription, its rule): left out alone, as that event, when the error is in it."""
    sam = ctx.sam_resources.get(source)
    events = ((sam or {}).get("Properties") or {}).get("Events") if isinstance(sam, dict) else None
    kind = str(ctx.resources.get(lid, {}).get("Type", ""))
    if lid == source or kind in _FUNCTION_TYPES or not isinstance(events, dict):
        return False
    named = [name for name in events if lid.startswith(f"{source}{name}")]
    if not named:
        return False
    event = max(named, key=len)
    ctx.resources = {k: r for k, r in ctx.resources.items() if not k.startswith(source + event)}
    event_type = events[event].get("Type", "?") if isinstance(events[event], dict) else "?"
    error.location = ctx.locate(("Resources", source, "Properties", "Events", event))
    ctx.reject("event", f"{source}.Events.{event}", str(event_type), error)
    return True


def _leave_out(
    ctx: BuildContext, loaded: LoadedTemplate, source: str, error: TemplateError
) -> None:
    """Build without every resource made from the template resource `source` (SAM makes
    several of one function)."""
    ctx.resources = {lid: r for lid, r in ctx.resources.items() if ctx.source_id(lid) != source}
    written = (loaded.data.get("Resources") or {}).get(source) or {}
    kind = str(written.get("Type", "?"))
    if kind not in _FUNCTION_TYPES:
        ctx.reject("resource", source, kind, error)
        return
    answers = _function_names(source, written)
    ctx.reject(
        "function", source, kind, error, answers=answers, runtime_problem=error.rule == "runtime"
    )


def _build_graph(compiled: Compiled) -> AppGraph:
    ctx = compiled.context
    layers = build_layers(ctx)
    functions = build_functions(ctx, layers)
    graph = AppGraph(
        template_path=str(compiled.loaded.path.resolve()),
        region=str(compiled.parameters["AWS::Region"]),
        account_id=str(compiled.parameters["AWS::AccountId"]),
        functions=functions,
        layers=layers,
        versions=build_versions(ctx, functions),
        aliases=build_aliases(ctx),
        routes=build_routes(ctx, functions),
        event_source_mappings=build_event_source_mappings(ctx),
        push_sources=build_push_sources(ctx),
        schedules=build_schedules(ctx),
        target_groups=build_target_groups(ctx),
        resources=build_resources(ctx),
        warnings=tuple(dict.fromkeys([*(n.render() for n in ctx.notices), *ctx.resolver.warnings])),
        secrets=_secrets(compiled),
        alarms=build_alarms(ctx),
        scaling_targets=build_scaling_targets(ctx),
        unavailable=tuple(ctx.unavailable),
        roles=build_roles(ctx),
        permissions=build_permissions(ctx),
    )
    graph = replace(graph, distributions=build_distributions(ctx, graph.functions, graph.versions))
    name_unrealised(ctx, functions, graph.event_source_mappings, graph.push_sources)
    graph = replace(graph, not_run=tuple(ctx.not_run))
    return merge(graph, ctx.children, ctx)


def _secrets(compiled: Compiled) -> tuple[str, ...]:
    """The values of NoEcho parameters, which displays must mask."""
    declared = compiled.loaded.data.get("Parameters") or {}
    values = (compiled.parameters.get(name) for name in no_echo_names(declared))
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    return tuple(sorted({str(v) for v in flat if v not in (None, "")}, key=len, reverse=True))
