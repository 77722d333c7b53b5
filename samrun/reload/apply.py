"""Reconcile a running App with an edit, touching only what changed.

The order matters and has no await between the swap and the retirements: an invocation resolved
after `replace_graph` sees the new functions and lands in a new pool; one already running
finishes on its old instance, which is then discarded. Published versions never change: their
pools are left alone, and a version the running app already had keeps its snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from samrun.model import LATEST, AppGraph
from samrun.reload.diff import GraphDiff, diff_graphs

if TYPE_CHECKING:
    from samrun.app import App

logger = logging.getLogger(__name__)


def _reload_permissions(app: App, graph: AppGraph) -> None:
    """The template's Lambda permissions, again (a role's new policies need a restart)."""
    iam = getattr(app, "iam", None)
    if iam is not None:
        iam.update_graph(graph)


async def replace_graph(app: App, graph: AppGraph) -> GraphDiff:
    """Serve `graph`: functions, versions, aliases, routes, URLs, ALB rules, settings."""
    graph = await provisioned(app, graph)
    diff = diff_graphs(app.graph, graph)
    directory = app.directory
    names = {f.name for f in graph.functions}
    kept = {key: v for key, v in directory.versions.items() if key[0] in names}
    directory.update_graph(graph)
    for key in kept.keys() & directory.versions.keys():
        directory.versions[key] = kept[key]  # a published version is a snapshot: keep it
    app.graph = graph
    _reload_permissions(app, graph)
    for name in diff.functions.changed:
        app.pools.retire(name, LATEST)
    for name in diff.functions.removed:
        for function, version in list(app.pools.pools):
            if function == name:
                app.pools.retire(function, version)
    gate = getattr(app, "gate", None)
    if gate is not None and (diff.settings or diff.functions.added):
        gate.seed({f.name: f.reserved_concurrency for f in graph.functions})
    for line in await app.front_doors.update(graph):
        logger.info("%s", line)
    triggers = getattr(app, "triggers", None)
    if triggers is not None and (diff.event_sources or diff.functions.removed):
        for line in await triggers.reconcile(graph):  # push sources and schedules
            logger.info("%s", line)
    await app.scaler.replace_graph(graph)  # the endpoint's scaling targets follow the edit
    observe = getattr(app, "observe", None)
    if observe is not None:
        observe.alarms.update(graph.alarms)
    pollers = getattr(app, "pollers", None)
    if pollers is not None and diff.event_sources:
        for line in await pollers.reconcile(graph):  # event source mappings
            logger.info("%s", line)
    control = getattr(app, "control", None)
    if control is not None and diff.versions:
        await control.versions.freeze_graph_versions()  # versions the edit declared
    return diff


async def provisioned(app: App, graph: AppGraph) -> AppGraph:
    """`graph` with its AWS resources created in the app's endpoint, and named as it names them
    (what App.start does for the first graph); creating what exists already changes nothing."""
    aws = getattr(app, "aws", None)
    if aws is None or not graph.resources:
        return graph
    from samrun.aws.provision import localise, provision

    found = await provision(aws, graph)
    app.aws_substitutions = {**app.aws_substitutions, **found}
    return localise(graph, app.aws_substitutions)


def reload_code(app: App, function_names: Iterable[str]) -> list[str]:
    """New instances for the $LATEST of each function named; the names that exist."""
    reloaded = []
    for name in function_names:
        if app.graph.function(name) is not None:
            app.pools.retire(name, LATEST)
            reloaded.append(name)
    return reloaded


def replace_env_vars(app: App, env_vars: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Take a new --env-vars file; new instances for the functions whose overrides changed."""
    old = app.config.env_vars
    changed = {k for k in {*old, *env_vars} if old.get(k) != env_vars.get(k)}
    app.config = replace(app.config, env_vars={k: dict(v) for k, v in env_vars.items()})
    affected = [
        f.name
        for f in app.graph.functions
        if "Parameters" in changed or {f.name, f.logical_id} & changed
    ]
    return reload_code(app, affected)
