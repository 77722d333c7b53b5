"""Watch mode: `samrun up --watch` turns each burst of file changes into one checked reload.

Each reload prints one line, what changed and how long it took:

    samrun: reloaded (code: HelloFunction) in 12 ms

A refused edit prints its problems once, located as `samrun validate` locates them, and the last
good app keeps serving; the refused change is retried with the next one, so fixing one file of a
broken batch still reloads the rest. With `--watch-publish`, a reloaded function that has an
AutoPublishAlias gets a new version, and its alias moves to it with its DeploymentPreference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from samrun.build import Progress, build_app, source_graph
from samrun.errors import BuildFailed, SamrunError
from samrun.model import AppGraph
from samrun.observe.not_run import located
from samrun.placement import placed
from samrun.reload.apply import replace_env_vars
from samrun.reload.check import (
    EditRefused,
    Loaded,
    check_code,
    known_problems,
    load_checked,
    read_env_vars,
)
from samrun.reload.diff import functions_using_layers
from samrun.selection import select_functions
from samrun.template.loader import LoadedTemplate, load_template
from samrun.watch import Change, Watcher, WatchTargets, included_files

if TYPE_CHECKING:
    from samrun.app import App

logger = logging.getLogger(__name__)


def forget_bytecode(files: Iterable[Path]) -> None:
    """Drop the cached bytecode of edited modules: CPython trusts a .pyc whose source has the same
    size and mtime second, so a quick same-size edit would otherwise run the old code."""
    for path in files:
        if path.suffix == ".py":
            for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
                cached.unlink(missing_ok=True)


class WatchSession:
    """Watches one App's files and reloads it; `start` after the app starts, `stop` before."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.template: LoadedTemplate | None = None
        self.reloads = 0
        self._carry = Change()  # a refused change, retried with the next one
        self._last_refusal: tuple[str, ...] = ()
        self._deploys: dict[str, asyncio.Task[None]] = {}
        self.watcher: Watcher | None = None

    async def start(self) -> None:
        config = self.app.config
        self.template = await asyncio.to_thread(load_template, config.template)
        self.watcher = Watcher(self._targets(), self.on_change, ignore_dirs=[config.state_dir])
        await self.watcher.start()
        logger.info("watching %d folders for changes", len(self.watcher.targets.roots()))

    async def stop(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        for task in self._deploys.values():
            task.cancel()
        for task in self._deploys.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _targets(self) -> WatchTargets:
        config = self.app.config
        data = self.template.data if self.template else {}
        return WatchTargets.of(
            self.app.graph,
            config.template,
            includes=included_files(data, config.template.parent),
            env_vars=getattr(config, "env_vars_file", None),
        )

    async def on_change(self, change: Change) -> None:
        began = time.perf_counter()
        change.merge(self._carry)
        self._carry = Change()
        try:
            loaded, env_vars, code = await self._check(change)
            rebuilt = await self._rebuild(code | change.layers) if loaded is None else None
        except EditRefused as refused:
            self._carry = change
            fresh = [p for p in refused.problems if p not in self._last_refusal]
            for problem in fresh:  # each problem once, however often the files are saved
                logger.error("%s", problem)
            if fresh:
                logger.warning("edit not applied; the last good app keeps serving")
            self._last_refusal = refused.problems
            return
        self._last_refusal = ()
        parts, published = [], set(code)
        if loaded is not None:
            before = set(self.app.graph.not_run)
            for entry in (n for n in loaded.graph.not_run if n not in before):
                logger.warning(
                    "not run: %s %s (%s): %s", entry.what, entry.name, entry.type, located(entry)
                )
            diff = await self.app.replace_graph(loaded.graph)
            self.template = loaded.template
            assert self.watcher is not None
            await self.watcher.retarget(self._targets())
            parts.append(f"template: {diff.describe()}")
            published |= {*diff.functions.changed, *diff.functions.added}
            code -= set(diff.functions.changed)  # replaced already
        if rebuilt is not None:  # a manifest or a built source changed: its build is ready
            diff = await self.app.replace_graph(rebuilt)
            assert self.watcher is not None
            await self.watcher.retarget(self._targets())
            parts.append(f"build: {', '.join(diff.functions.changed) or 'layers'}")
            code -= set(diff.functions.changed)
        if env_vars is not None:
            names = replace_env_vars(self.app, env_vars)
            parts.append(f"env-vars: {', '.join(names) or 'no function affected'}")
        if code:
            parts.append(f"code: {', '.join(sorted(self.app.reload_code(code)))}")
        if change.layers:
            parts.append(f"layer: {', '.join(sorted(change.layers))}")
        self.reloads += 1
        elapsed = (time.perf_counter() - began) * 1000
        logger.info("reloaded (%s) in %.0f ms", "; ".join(parts), elapsed)
        if getattr(self.app.config, "watch_publish", False):
            for name in sorted(published):
                self._publish(name)

    async def _check(
        self, change: Change
    ) -> tuple[Loaded | None, dict[str, dict[str, str]] | None, set[str]]:
        """The new graph (template edits), env vars (--env-vars edits) and functions whose code
        changed, once every check passes; else EditRefused with every problem found."""
        config = self.app.config
        problems: list[str] = []
        loaded = None
        if change.template:
            known = await asyncio.to_thread(known_problems, self.template, self.app.graph)
            try:
                loaded = await asyncio.to_thread(
                    load_checked,
                    config.template,
                    parameter_overrides=config.parameter_overrides,
                    region=config.region,
                    account_id=config.account_id,
                    known=known,
                )
                # `--function`: the reloaded app serves the same few functions
                loaded = Loaded(select_functions(loaded.graph, config.functions), loaded.template)
                # and without what nothing here runs (a runtime with no interpreter, no engine)
                placed_graph = await asyncio.to_thread(placed, loaded.graph, config)
                loaded = Loaded(placed_graph, loaded.template)
            except EditRefused as refused:
                problems += refused.problems
            except SamrunError as exc:  # a function `--function` names is gone from the template
                problems.append(str(exc))
        env_vars = None
        env_file = getattr(config, "env_vars_file", None)
        if change.env_vars and env_file is not None:
            try:
                env_vars = read_env_vars(env_file)
            except EditRefused as refused:
                problems += refused.problems
        graph = loaded.graph if loaded else self.app.graph
        code = change.functions | functions_using_layers(graph, change.layers)
        code = {name for name in code if graph.function(name) is not None}
        template = loaded.template if loaded else self.template
        if code and change.files and template is not None:
            try:
                await asyncio.to_thread(check_code, template, graph, code, change.files)
            except EditRefused as refused:
                problems += refused.problems
        if loaded is not None and not problems:
            try:  # a template edit runs once what it names is built; the old app serves meanwhile
                built = await asyncio.to_thread(self._build, loaded.graph)
                loaded = Loaded(graph=built, template=loaded.template)
            except BuildFailed as failed:
                problems.append(str(failed))
        if problems:
            raise EditRefused(problems)
        await asyncio.to_thread(forget_bytecode, change.files)
        return loaded, env_vars, code

    def _build(self, graph: AppGraph) -> AppGraph:
        """Watch mode's builds name only what they build, not what is cached."""
        return build_app(graph, self.app.build_options, Progress(show_cached=False))

    async def _rebuild(self, names: set[str]) -> AppGraph | None:
        """After a code or layer edit: the app with its builds redone where their inputs changed
        (a manifest, a lock file, a bundled or Makefile-built source), or None when every build
        is as it was. The build runs off the loop: the old code keeps serving meanwhile."""
        if not names:
            return None
        try:
            graph = await asyncio.to_thread(self._build, source_graph(self.app.graph))
        except BuildFailed as failed:
            raise EditRefused((str(failed),)) from None
        return graph if graph != self.app.graph else None

    def _publish(self, name: str) -> None:
        """--watch-publish: publish $LATEST and shift its AutoPublishAlias, one at a time."""
        function = self.app.graph.function(name)
        control = getattr(self.app, "control", None)
        if function is None or not function.auto_publish_alias or control is None:
            return
        previous = self._deploys.get(name)

        async def publish_and_shift() -> None:
            if previous is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await previous
            version = await control.versions.publish(function.name, "samrun --watch-publish")
            logger.info("published %s version %s", function.name, version.version)
            await control.deployer.deploy(
                function.name,
                function.auto_publish_alias,
                version.version,
                function.deployment_preference,
            )

        task = asyncio.get_running_loop().create_task(publish_and_shift())
        self._deploys[name] = task
