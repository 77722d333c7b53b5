"""Nested applications: an AWS::Serverless::Application or AWS::CloudFormation::Stack whose
template is a local file (or a CDK nested stack's cdk.out asset) runs as part of the app, as
SAM CLI runs it.

The child is compiled on its own (its Parameters from the parent, its physical names prefixed
so they do not meet the parent's), its Outputs become the parent's `!GetAtt Child.Outputs.X`,
and its graph joins the parent's with logical ids written `Child/Function` (SAM CLI's naming).
A remote location (SAR, S3, HTTPS) is named once in the "not run locally" list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from samrun.errors import TemplateError
from samrun.model import AppGraph, is_unresolved
from samrun.template.cdk import asset_path
from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text
from samrun.template.sam import PLACEHOLDER_BUCKET

MAX_DEPTH = 5
STACK_TYPES = ("AWS::CloudFormation::Stack", "AWS::Serverless::Application")
SAR_SCHEME = "sar://"  # stands for a SAR Location during the SAM transform (no network)

ChildLoader = Callable[[Path, dict[str, str], str], tuple[AppGraph, dict[str, Any]]]
"""(template path, parameter overrides, logical id) -> (child graph, its resolved Outputs)."""


@dataclass(frozen=True, slots=True)
class Child:
    logical_id: str
    graph: AppGraph
    path: Path | None = None  # its template (what `validate` checks in turn)
    parameters: Mapping[str, str] = field(default_factory=dict)  # what the parent passes it


def _local_template(ctx: BuildContext, url: Any) -> Path | None:
    """The local file a TemplateURL stands for, or None for a remote one."""
    if not isinstance(url, str) or is_unresolved(url):
        return None
    prefix = f"s3://{PLACEHOLDER_BUCKET}/"
    if url.startswith(prefix) and ctx.placeholders is not None:
        return ctx.placeholders.local_path(PLACEHOLDER_BUCKET, url.removeprefix(prefix))
    if "://" in url:
        return None
    return (ctx.base_dir / url).resolve()


def load_children(ctx: BuildContext, load: ChildLoader, chain: tuple[Path, ...]) -> list[Child]:
    """Each local nested stack of the (transformed) template, compiled with `load`."""
    children = []
    for lid, props in ctx.of_type("AWS::CloudFormation::Stack"):
        url = ctx.prop(lid, props, "TemplateURL")
        # a CDK nested stack: its template is a cdk.out asset (aws:asset:path), not the S3 URL
        path = asset_path(ctx.resources.get(lid), "TemplateURL", ctx.base_dir)
        path = path or _local_template(ctx, url)
        source = ctx.source_id(lid) or lid
        if path is None or not path.is_file():
            where = "SAR application " + str(url).removeprefix(SAR_SCHEME)
            shown = where if str(url).startswith(SAR_SCHEME) else f"template {url}"
            reason = "is not fetched: its resources do not run locally"
            if path is not None:
                reason = "does not exist"
            ctx.skip("location", source, "nested application", f"{shown} {reason}")
            continue
        if path in chain or len(chain) >= MAX_DEPTH:
            raise TemplateError(
                f"nested application {source} includes {path} again (or nests too deep)",
                ctx.where(lid, "TemplateURL"),
                "nested",
            )
        parameters = ctx.prop(lid, props, "Parameters", {}) or {}
        overrides = {
            str(k): ",".join(map(as_text, v)) if isinstance(v, list) else as_text(v)
            for k, v in parameters.items()
            if not is_unresolved(v)
        }
        graph, outputs = load(path, overrides, source)
        ctx.table.stack_outputs[lid] = outputs
        children.append(Child(logical_id=source, graph=graph, path=path, parameters=overrides))
    return children


def child_outputs(ctx: BuildContext, declared: Mapping[str, Any]) -> dict[str, Any]:
    """A child template's Outputs, resolved (what its parent's GetAtt Child.Outputs.X sees)."""
    outputs = {}
    for name, output in declared.items():
        if isinstance(output, dict) and "Value" in output:
            outputs[str(name)] = ctx.resolver.resolve(output["Value"], f"Outputs.{name}")
    return outputs


def merge(parent: AppGraph, children: list[Child], ctx: BuildContext) -> AppGraph:
    """`parent` with each child's graph joined in, logical ids as `Child/Id`."""
    for child in children:
        p = f"{child.logical_id}/"
        g = child.graph
        names = {f.name for f in parent.functions}
        for function in (f for f in g.functions if f.name in names):
            error = TemplateError(
                f"{p}{function.logical_id} and a function of the parent have the same "
                f"name {function.name!r} (CloudFormation refuses two functions with one name): "
                "the parent's runs",
                ctx.where(child.logical_id),
                "function-name",
            )
            ctx.reject("function", p + function.logical_id, "AWS::Lambda::Function", error)
        g = replace(g, functions=tuple(f for f in g.functions if f.name not in names))
        parent = replace(
            parent,
            functions=parent.functions
            + tuple(replace(f, logical_id=p + f.logical_id) for f in g.functions),
            layers=parent.layers
            + tuple(replace(la, logical_id=p + la.logical_id) for la in g.layers),
            versions=parent.versions + tuple(_prefixed(v, p) for v in g.versions),
            aliases=parent.aliases + tuple(_prefixed(a, p) for a in g.aliases),
            routes=parent.routes + tuple(replace(r, api=p + r.api) for r in g.routes),
            event_source_mappings=parent.event_source_mappings
            + tuple(_prefixed(m, p) for m in g.event_source_mappings),
            push_sources=parent.push_sources + tuple(_prefixed(s, p) for s in g.push_sources),
            schedules=parent.schedules + tuple(_prefixed(s, p) for s in g.schedules),
            target_groups=parent.target_groups
            + tuple(replace(t, logical_id=p + t.logical_id) for t in g.target_groups),
            resources=parent.resources
            + tuple(replace(r, logical_id=p + r.logical_id) for r in g.resources),
            warnings=parent.warnings + tuple(f"{child.logical_id}: {w}" for w in g.warnings),
            secrets=tuple(sorted({*parent.secrets, *g.secrets}, key=len, reverse=True)),
            not_run=parent.not_run
            + tuple(n if n.what == "layer" else replace(n, name=p + n.name) for n in g.not_run)
            + tuple(n for n in ctx.not_run if n not in parent.not_run),
            unavailable=parent.unavailable  # by the child's names, and as `Child/Function`
            + g.unavailable
            + tuple(replace(u, name=p + u.name) for u in g.unavailable),
        )
    return parent


def _prefixed(item: Any, prefix: str) -> Any:
    """A graph node whose optional logical id gets the child's prefix."""
    if getattr(item, "logical_id", None):
        return replace(item, logical_id=prefix + item.logical_id)
    return item
