"""Cold starts from spares: runtimes started ahead, each of which becomes the next instance of
any function of its runtime client, so a cold start does not wait for an interpreter to start.

The process backend keeps SPARES per Python interpreter (runtime/python_spare.py) and per node
(runtime/node_spare.py) that `prepare` was asked for; a cold start takes one (a ready one, else
the one that started first) and another starts in the background. An instance a spare could not
make exactly as a fresh runtime would is spawned as before (`take` returns None), as is a cold
start that finds no spare ready or starting (in a burst the next spares are an interpreter
start away, so the others start their own). There are no spares where samrun has no cgroups
(only that path is tested), nor with SAMRUN_SPARES=0.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from samrun.runtime.cgroups import Cgroups
from samrun.runtime.handover import Spare, SpareGone, Started
from samrun.runtime.node_spare import NodeSpare
from samrun.runtime.python_spare import PythonSpare
from samrun.runtime.runtimes import node_argv, python_argv
from samrun.runtime.sandbox import LaunchSpec
from samrun.runtime.unprivileged import SandboxUsers

logger = logging.getLogger(__name__)

SWITCH = "SAMRUN_SPARES"  # "0": every instance starts a fresh runtime
SPARES = 2  # per runtime client: back-to-back cold starts find one ready while the next starts


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(SWITCH, "") != "0"


class Spares:
    """The process backend's spares, by the argv of the runtime client they become."""

    def __init__(
        self,
        *,
        path: str,
        cgroups: Cgroups,
        users: SandboxUsers,
        tmpfs: bool,
        tmp_root: Path | None,
    ) -> None:
        self._path = path
        self._cgroups = cgroups
        self._users = users
        self._tmpfs = tmpfs
        self._tmp_root = tmp_root  # where Node.js spares keep their TMPDIR; None: no such spares
        self._numbers = itertools.count(1)
        self._next: dict[tuple[str, ...], list[asyncio.Task[Spare | None]]] = {}
        self._broken: set[tuple[str, ...]] = set()
        self._closed = False

    def prepare(self, argv: tuple[str, ...]) -> None:
        """Start spares of the runtime client `argv` until SPARES are ready or starting; from
        now on, each one taken is replaced."""
        if argv in self._broken or self._closed or kind(argv, self._tmp_root) is None:
            return
        upcoming = self._next.setdefault(argv, [])
        while len(upcoming) < SPARES:
            upcoming.append(asyncio.create_task(self._start(argv)))

    async def take(self, spec: LaunchSpec) -> Started | None:
        """The instance, started from one of its runtime client's spares; None: spawn it."""
        if spec.netns is not None and kind(spec.argv, self._tmp_root) != "python":
            return None  # a Node.js spare is isolated ahead, on the host network
        upcoming = self._next.get(spec.argv)
        if not upcoming:  # none left (a burst); none ever asked for (a one-shot `invoke`)
            if upcoming is not None:
                self.prepare(spec.argv)  # for the next cold starts
            return None
        chosen = next((task for task in upcoming if task.done()), upcoming[0])
        spare = await asyncio.shield(chosen)  # no later than a fresh start begun now
        if spare is None or not spare.serves(spec) or chosen not in upcoming:
            return None  # it failed, it would not be faithful, or another cold start took it
        upcoming.remove(chosen)
        self.prepare(spec.argv)
        try:
            return await spare.become(spec)
        except SpareGone as exc:
            logger.debug("%s: started without a spare: %s", spec.name, exc)
            return None

    def _make(self, argv: tuple[str, ...], name: str, cgroups: list[Path]) -> Spare:
        if kind(argv, self._tmp_root) == "python":
            return PythonSpare(
                argv[0], cgroups, path=self._path, tmpfs=self._tmpfs, users=self._users
            )
        assert self._tmp_root is not None
        return NodeSpare(
            argv[0],
            cgroups,
            path=self._path,
            tmp_dir=self._tmp_root / f"{name}-{os.getpid()}",
            tmpfs=self._tmpfs,
            users=self._users,
        )

    async def _start(self, argv: tuple[str, ...]) -> Spare | None:
        spare = None
        name = f"spare-{next(self._numbers)}"
        cgroups = self._cgroups.create(name)
        if cgroups:  # without them, orphans are found by /proc/PID/environ: a spare's is not
            spare = self._make(argv, name, cgroups)  # its instance's (only cgroups are tested)
            try:
                await spare.start()
            except (SpareGone, OSError) as exc:
                logger.warning("%s; its functions start fresh runtimes", exc)
                self._broken.add(argv)
                spare = None
        if spare is None:  # forgotten: a later prepare() may try again (unless broken)
            with contextlib.suppress(ValueError):
                self._next.get(argv, []).remove(asyncio.current_task())  # type: ignore[arg-type]
        return spare

    async def close(self) -> None:
        self._closed = True
        upcoming = [task for tasks in self._next.values() for task in tasks]
        self._next = {}
        for task in upcoming:
            task.cancel()
        for task in upcoming:
            with contextlib.suppress(asyncio.CancelledError):
                spare = await task
                if spare is not None:
                    await spare.discard()


def kind(argv: tuple[str, ...], tmp_root: Path | None) -> str | None:
    """Which spares become instances started as `argv`: "python", "node", or none."""
    if argv == python_argv(argv[0]):
        return "python"
    if argv == node_argv(argv[0]) and tmp_root is not None:
        return "node"
    return None
