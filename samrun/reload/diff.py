"""diff_graphs: what a template edit changed, as reconciling it needs to know. Pure: no I/O.

Functions are matched by name (the key of their pools and of the Lambda API), so renaming a
function's FunctionName is a removal plus an addition, as CloudFormation replaces it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from samrun.model import AppGraph, Function, RouteKind

# Function fields that change how it runs but not its instances (no new pool needed)
_SETTINGS = tuple(f.name for f in fields(Function) if f.name not in ("config", "logical_id"))


@dataclass(frozen=True, slots=True)
class Delta:
    """Keys added, removed and changed in one kind of thing."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        parts = [f"+{k}" for k in self.added] + [f"-{k}" for k in self.removed]
        return ", ".join(parts + [f"~{k}" for k in self.changed])


def delta(old: dict[str, Any], new: dict[str, Any]) -> Delta:
    return Delta(
        added=tuple(k for k in new if k not in old),
        removed=tuple(k for k in old if k not in new),
        changed=tuple(k for k in new if k in old and old[k] != new[k]),
    )


def keyed(items: Iterable[Any], key: Callable[[Any], Hashable]) -> dict[str, Any]:
    """Items by a readable key; repeated keys keep every item (compared as a tuple)."""
    grouped: dict[str, list[Any]] = {}
    for item in items:
        grouped.setdefault(str(key(item)), []).append(item)
    return {k: tuple(v) for k, v in grouped.items()}


@dataclass(frozen=True, slots=True)
class GraphDiff:
    functions: Delta  # by name; `changed`: the $LATEST configuration (code, memory, env, ...)
    settings: tuple[str, ...]  # functions whose other settings changed (concurrency, URL, ...)
    layers: Delta  # by logical id
    versions: Delta  # "Function:1"
    aliases: Delta  # "Function:live"
    routes: Delta  # "GET /path" (API routes)
    function_urls: Delta  # by function
    alb: Delta  # target groups by logical id (listeners and rules included)
    event_sources: Delta  # mappings, push sources and schedules
    resources: Delta  # queues, topics, buckets... by logical id
    scaling: Delta = Delta()  # Application Auto Scaling targets by ResourceId

    def __bool__(self) -> bool:
        return any(bool(getattr(self, f.name)) for f in fields(self))

    @property
    def restarted(self) -> tuple[str, ...]:
        """Functions whose $LATEST instances must be replaced: changed or removed."""
        return self.functions.changed + self.functions.removed

    def describe(self) -> str:
        """One short phrase per kind of change, for the reload line."""
        labels = {
            "functions": "functions",
            "layers": "layers",
            "versions": "versions",
            "aliases": "aliases",
            "routes": "routes",
            "function_urls": "function URLs",
            "alb": "ALB",
            "event_sources": "event sources",
            "resources": "resources",
            "scaling": "scaling targets",
        }
        parts = [f"{label} {getattr(self, name).describe()}" for name, label in labels.items()]
        parts = [p for p, name in zip(parts, labels, strict=True) if getattr(self, name)]
        if self.settings:
            parts.append("settings ~" + ", ~".join(self.settings))
        return "; ".join(parts) or "no change"


def _settings(function: Function) -> tuple[object, ...]:
    return tuple(getattr(function, name) for name in _SETTINGS)


def diff_graphs(old: AppGraph, new: AppGraph) -> GraphDiff:
    old_fns = {f.name: f for f in old.functions}
    new_fns = {f.name: f for f in new.functions}
    functions = delta(
        {n: f.config for n, f in old_fns.items()}, {n: f.config for n, f in new_fns.items()}
    )
    settings = tuple(
        n for n, f in new_fns.items() if n in old_fns and _settings(old_fns[n]) != _settings(f)
    )

    def routes(graph: AppGraph, urls: bool) -> dict[str, Any]:
        chosen = [r for r in graph.routes if (r.kind is RouteKind.FUNCTION_URL) == urls]
        if urls:
            return keyed(chosen, lambda r: r.function)
        return keyed(chosen, lambda r: f"{r.method} {r.path}")

    def sources(graph: AppGraph) -> dict[str, Any]:
        items = [*graph.event_source_mappings, *graph.push_sources, *graph.schedules]
        return keyed(items, lambda s: s.logical_id or f"{type(s).__name__}:{s.function}")

    return GraphDiff(
        functions=functions,
        settings=settings,
        layers=delta(keyed(old.layers, _id), keyed(new.layers, _id)),
        versions=delta(
            keyed(old.versions, lambda v: f"{v.function}:{v.version}"),
            keyed(new.versions, lambda v: f"{v.function}:{v.version}"),
        ),
        aliases=delta(
            keyed(old.aliases, lambda a: f"{a.function}:{a.name}"),
            keyed(new.aliases, lambda a: f"{a.function}:{a.name}"),
        ),
        routes=delta(routes(old, False), routes(new, False)),
        function_urls=delta(routes(old, True), routes(new, True)),
        alb=delta(keyed(old.target_groups, _id), keyed(new.target_groups, _id)),
        event_sources=delta(sources(old), sources(new)),
        resources=delta(keyed(old.resources, _id), keyed(new.resources, _id)),
        scaling=delta(
            keyed(old.scaling_targets, lambda t: t.resource_id),
            keyed(new.scaling_targets, lambda t: t.resource_id),
        ),
    )


def _id(item: Any) -> str:
    return str(item.logical_id)


def functions_using_layers(graph: AppGraph, layers: Iterable[str]) -> set[str]:
    """Names of the functions whose $LATEST lists one of `layers` (logical ids or ARNs)."""
    wanted = set(layers)
    return {
        f.name
        for f in graph.functions
        if any(ref.logical_id in wanted or ref.arn in wanted for ref in f.config.layers)
    }
