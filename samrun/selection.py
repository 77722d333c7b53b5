"""`--function NAME …`: the app graph cut down to some functions and what they need, as
`sam local start-lambda FnA FnB` serves only those.

Kept: the named functions (logical id, FunctionName, or `Child/Function` of a nested app), the
functions they need to answer (a kept route's authorizer, a deployment's traffic hooks, a Lambda
destination), their versions, aliases and layers, and the routes, event source mappings, push
sources, schedules, target groups and alarms that reach a kept function. What targets no function
(a state machine, a queue) stays. Every function left out is named in the not-run list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from samrun.config import Config
from samrun.errors import SamrunError
from samrun.model import AppGraph, NotRun

REASON = "not among --function"


def load_selected(config: Config, *, placed: bool = True) -> AppGraph:
    """The app's graph as the command line asks for it: the template loaded with its
    parameters, cut down to `--function`'s functions when it names some; `placed`: less the
    functions whose runtime nothing on this machine runs (samrun.placement names them)."""
    from samrun.template import load_graph  # (the SAM transform is imported only when needed)

    graph = load_graph(
        config.template,
        parameter_overrides=config.parameter_overrides,
        region=config.region,
        account_id=config.account_id,
        cache_dir=config.state_dir / "cache",
        layer_map=config.layer_map,
    )
    graph = select_functions(graph, config.functions)
    if config.enforce_iam:  # the not-run list stops naming what it enforces
        from samrun.template.coverage import iam_enforced

        graph = iam_enforced(graph)
    if not placed:
        return graph
    from samrun.placement import placed as placed_graph

    return placed_graph(graph, config)


def select_functions(graph: AppGraph, names: Sequence[str]) -> AppGraph:
    """`graph` with only the functions `names` asks for and what they need; unchanged when
    `names` is empty. An unknown name is a usage error that lists the known ones."""
    if not names:
        return graph
    unavailable = {u.name for u in graph.unavailable}  # named, but answers an error
    wanted = {_resolve(graph, name) for name in names if name not in unavailable}
    kept = _needed(graph, wanted)
    dropped = {f.name for f in graph.functions if f.name not in kept}
    if not dropped and unavailable <= set(names):
        return graph
    smaller = without_functions(graph, dropped)
    return replace(
        smaller,
        unavailable=tuple(u for u in graph.unavailable if u.name in names),
        not_run=graph.not_run
        + tuple(
            NotRun(what="function", name=f.logical_id, type="function", reason=REASON)
            for f in graph.functions
            if f.name in dropped
        ),
    )


def without_functions(graph: AppGraph, dropped: set[str]) -> AppGraph:
    """`graph` less the functions named in `dropped`, and what reaches only them (routes,
    mappings, push sources, schedules, target groups, alarms, versions, aliases, layers)."""
    kept = {f.name for f in graph.functions if f.name not in dropped}
    layers = {ref.arn for f in graph.functions if f.name in kept for ref in f.config.layers}
    return replace(
        graph,
        functions=tuple(f for f in graph.functions if f.name in kept),
        layers=tuple(la for la in graph.layers if la.arn in layers),
        versions=tuple(v for v in graph.versions if v.function in kept),
        aliases=tuple(a for a in graph.aliases if a.function in kept),
        routes=tuple(r for r in graph.routes if r.state_machine or r.function not in dropped),
        event_source_mappings=tuple(
            m for m in graph.event_source_mappings if m.function not in dropped
        ),
        push_sources=tuple(
            p for p in graph.push_sources if p.state_machine or p.function not in dropped
        ),
        schedules=tuple(s for s in graph.schedules if s.state_machine or s.function not in dropped),
        target_groups=tuple(g for g in graph.target_groups if g.function not in dropped),
        alarms=tuple(a for a in graph.alarms if a.dimensions.get("FunctionName") not in dropped),
    )


def left_out(entry: NotRun) -> bool:
    """A not-run function that `--function` left out (not one that failed: smoke passes it)."""
    return entry.what == "function" and entry.reason == REASON


def _resolve(graph: AppGraph, name: str) -> str:
    found = graph.functions_named(name)
    if len(found) > 1:
        some = ", ".join(sorted(f.logical_id for f in found))
        raise SamrunError(f"--function {name}: ambiguous, it may be any of {some}")
    if not found:
        known = ", ".join(sorted(_known_names(graph))) or "none"
        raise SamrunError(f"--function {name}: no such function (the app's functions: {known})")
    return found[0].name


def _known_names(graph: AppGraph) -> set[str]:
    names = {u.name for u in graph.unavailable}
    for function in graph.functions:
        names.add(function.logical_id)
        names.add(function.name)
    return names


def _needed(graph: AppGraph, wanted: set[str]) -> set[str]:
    """`wanted` and, over and over, every function a kept one cannot answer without."""
    kept: set[str] = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept.add(name)
        todo += _needs(graph, name)
    return {f.name for f in graph.functions if f.name in kept}


def _needs(graph: AppGraph, name: str) -> list[str]:
    """The functions `name`'s own routes, deployment and destinations call."""
    function = graph.function(name)
    if function is None:
        return []
    found: list[str | None] = []
    for route in graph.routes:
        if route.function == name and not route.state_machine:
            found.append((route.details.get("authorizer") or {}).get("function"))
    preference = function.deployment_preference
    if preference is not None:
        found += [preference.pre_traffic_hook, preference.post_traffic_hook]
    invoke = function.invoke_config
    for destination in (invoke.on_success, invoke.on_failure) if invoke else ():
        if destination is not None and destination.type == "lambda":
            found.append(destination.arn.split(":function:", 1)[-1].split(":", 1)[0])
    resolved = (graph.function(each) for each in found if each)
    return [f.name for f in resolved if f is not None]
