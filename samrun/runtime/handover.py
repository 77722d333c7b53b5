"""What the process backend holds of a runtime it started, however it started it: spawned fresh,
or a spare (runtime/spares.py) that became the instance. Either way a `Started` becomes a
ProcessSandbox, and samrun sees the same things: its own child with a pid, cgroups and output
pipe. And what the kinds of spare (Python, Node.js) share."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from samrun.runtime.cgroups import Cgroups
from samrun.runtime.sandbox import LaunchSpec


@dataclass(slots=True, kw_only=True)
class Started:
    process: asyncio.subprocess.Process
    output: int  # the read end of its stdout and stderr pipe, non-blocking
    cgroups: list[Path]
    origin: str  # "interpreter": spawned for the instance; "spare": a spare became it
    # when it began to run as the instance (its exec; the spare's word that it is set up)
    began: float = field(default_factory=time.monotonic)
    # a Node.js spare was started before its instance was known, with its own lane and TMPDIR:
    lane: socket.socket | None = None  # samrun's end of that lane, to serve instead of the spec's
    tmp_dir: Path | None = None  # that TMPDIR, removed when it ends


class SpareGone(Exception):
    """The spare died or did not answer: start the instance the usual way."""


class Spare(Protocol):
    """One runtime started ahead, waiting for the instance it will become."""

    cgroups: list[Path]

    async def start(self) -> None:
        """Start it and wait until it is ready; SpareGone when it is not."""
        ...

    def serves(self, spec: LaunchSpec) -> bool:
        """Whether it gives the instance exactly what a fresh runtime would."""
        ...

    async def become(self, spec: LaunchSpec) -> Started:
        """Hand it the instance; returns once it is set up, as a spawn returns once exec
        succeeded (REPORT's Init Duration counts from there). SpareGone: spawn it instead."""
        ...

    async def discard(self) -> None:
        """Make sure it is gone, with its cgroups and folders."""
        ...


@contextlib.asynccontextmanager
async def or_discard(spare: Spare, what: str) -> AsyncIterator[None]:
    """Whatever fails inside discards the spare (half a spare, or half an instance, is none;
    cancelled too); what the spare did (it died, did not answer, said nonsense) is SpareGone."""
    try:
        yield
    except BaseException as exc:
        await spare.discard()
        if isinstance(exc, (OSError, SpareGone, ValueError, KeyError)):
            raise SpareGone(f"{what}: {exc}") from None
        raise


async def end_spare(process: asyncio.subprocess.Process | None, cgroups: list[Path]) -> None:
    """Make sure a spare that did not become an instance is gone, and remove its cgroups."""
    if process is not None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
    for _ in range(50):  # a killed process takes a moment to leave its cgroups
        Cgroups.remove(cgroups)
        if not any(folder.exists() for folder in cgroups):
            return
        await asyncio.sleep(0.01)


def loads_a_library(env: Mapping[str, str]) -> bool:
    """Whether a folder on LD_LIBRARY_PATH holds a shared library: the loader reads the
    variable at a process's start, so a spare started without it would not find the library."""
    return any(
        has_shared_library(Path(folder))
        for folder in env.get("LD_LIBRARY_PATH", "").split(os.pathsep)
        if folder
    )


def has_shared_library(folder: Path) -> bool:
    try:
        return any(".so" in entry.name for entry in os.scandir(folder))
    except OSError:
        return False
