"""The seam between instances and the things that run them (processes, containers).

A `Backend` starts a `Sandbox` from a `LaunchSpec`; the instance only ever talks to the runtime
inside it through the Runtime API, so backends stay small.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from samrun.model import ImageBuild, ImageConfig

if TYPE_CHECKING:
    from samrun.runtime.debugging import DebugSpec

CONTAINER_DEPS = "/var/deps"  # where a container sees the function's built dependencies


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchSpec:
    """Everything a backend needs to start one instance of one function version."""

    name: str  # for logs: function name and instance id
    argv: tuple[str, ...]  # the runtime's bootstrap
    env: Mapping[str, str]
    code_dir: Path  # /var/task
    opt_dir: Path | None  # /opt (merged layers), when the function has layers
    tmp_dir: Path  # the instance's private /tmp
    memory_mb: int
    ephemeral_storage_mb: int
    runtime: str | None = None
    image_uri: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    handler: str | None = None
    architecture: str = "x86_64"
    image_config: ImageConfig | None = None  # an image function's CMD/ENTRYPOINT/WORKDIR
    image_build: ImageBuild | None = None  # an image function built from its Dockerfile
    deps_dir: Path | None = None  # built dependencies (samrun.build), beside the code
    pass_fds: tuple[int, ...] = ()  # descriptors the runtime inherits (its lane, runtime/lane.py)
    debug: DebugSpec | None = None  # a container starts its runtime under it (docker_debug.py)
    netns: str | None = None  # a VPC function's network namespace (runtime/vpc.py)


class Sandbox(Protocol):
    """One running instance: a process tree or a container."""

    @property
    def started_at(self) -> float:
        """time.monotonic() when the runtime began to run as this instance: its init phase
        (REPORT's Init Duration) counts from there."""
        ...

    @property
    def runtime_lane(self) -> socket.socket | None:
        """samrun's end of a lane the runtime was started with before its instance was known
        (a Node.js spare's, runtime/node_spare.py), to serve instead of the spec's."""
        ...

    @property
    def extensions_boot(self) -> tuple[int, int] | None:
        """A container's boot step's FIFOs, for its ExtensionHub to serve
        (`ExtensionHub.follow_container`), when its extensions start through one."""
        ...

    @property
    def exit_reason(self) -> str | None:
        """Why it ended, in Lambda's words (`exit status 1`, `signal: killed`), once it has."""
        ...

    @property
    def out_of_memory(self) -> bool:
        """True when it was killed for going over its memory size."""
        ...

    def peak_memory_mb(self) -> int:
        """The most resident memory it has used so far (for REPORT's Max Memory Used)."""
        ...

    def init_done(self) -> None:
        """The init phase is over: apply what Lambda lifts during init (the CPU share)."""
        ...

    def drain_output(self) -> None:
        """Deliver every output line already written, now (before a reply is acted on)."""
        ...

    def freeze(self) -> None:
        """Stop everything in it from running while it is idle, as Lambda freezes an execution
        environment between invocations (runtime/freeze.py); a no-op where it cannot."""
        ...

    def thaw(self) -> None:
        """Let it run again (before an event, SHUTDOWN or a stop); a no-op unless frozen."""
        ...

    async def wait(self) -> None:
        """Return once it has ended, for whatever reason."""
        ...

    async def stop(self) -> None:
        """Kill it and everything it started; idempotent."""
        ...


OutputSink = Callable[[str], None]


class Backend(Protocol):
    # True when the sandbox brings its own runtime (a Lambda image): the launcher then gives it
    # Lambda's paths (/var/task, /opt, /tmp) instead of this machine's and no bootstrap to run.
    provides_runtime: bool

    async def start(self, spec: LaunchSpec, on_output: OutputSink) -> Sandbox:
        """Start the runtime; output lines go to `on_output` as they are written."""
        ...

    async def close(self) -> None:
        """Release what the backend holds (clients, images); sandboxes are stopped before."""
        ...
