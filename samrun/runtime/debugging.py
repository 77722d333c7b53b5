"""A function under a debugger: how its runtime starts, and what changes while it is debugged.

A debugged function runs one instance at a time (further calls wait for it, as in SAM CLI), never
from a spare runtime (its command differs), and with Lambda's timeouts suspended (a paused handler
would be killed at its deadline; the REPORT line still gives the real duration). The debugger is
the language's own: debugpy for Python (runtime/debug_python.py), the inspector for Node.js
(runtime/debug_node.py); a `provided` runtime runs under the command `--debug-args` gives.
"""

from __future__ import annotations

import shlex
import socket
from dataclasses import dataclass, replace

from samrun.errors import SamrunError
from samrun.runtime.runtimes import PROVIDED, RuntimeCommand

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True, kw_only=True)
class DebugSpec:
    """How one function is debugged: `--debug NAME[=PORT]`, or SAM CLI's `--debug-port`."""

    port: int  # where the debugger listens, on loopback (picked free when none was given)
    wait: bool = False  # --debug-wait: the first invocation waits for a client to attach
    args: tuple[str, ...] = ()  # --debug-args: the interpreter's extra arguments
    debugger_path: str | None = None  # --debugger-path: where the debugger lives

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def free_port() -> int:
    """A loopback port nothing listens on now, for a debugger whose port was not given."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def debuggable(runtime: str | None, spec: DebugSpec) -> str | None:
    """Why a function of `runtime` cannot be debugged, or None when it can."""
    if runtime is None:
        return None  # an image function: its container's runtime is debugged (docker backend)
    if runtime.startswith(("python", "nodejs")):
        return None
    if runtime in PROVIDED:
        return (
            None
            if spec.args
            else (
                f"{runtime} runs the function's own bootstrap: give the debugger to run it under "
                'with --debug-args (e.g. "dlv exec --headless --listen=127.0.0.1:5858 --")'
            )
        )
    return f"samrun cannot debug {runtime} functions"


def debug_command(runtime: str, command: RuntimeCommand, spec: DebugSpec) -> RuntimeCommand:
    """`command` (how the runtime starts) as it starts under the debugger."""
    if runtime.startswith("python"):
        from samrun.runtime.debug_python import python_under_debugger

        return python_under_debugger(command, spec)
    if runtime.startswith("nodejs"):
        from samrun.runtime.debug_node import node_under_inspector

        return node_under_inspector(command, spec)
    if runtime in PROVIDED and spec.args:  # the debugger runs the bootstrap
        return replace(command, argv=(*spec.args, *command.argv))
    raise SamrunError(debuggable(runtime, spec) or f"samrun cannot debug {runtime} functions")


def split_args(text: str | None) -> tuple[str, ...]:
    """`--debug-args "..."`: split as a shell would."""
    try:
        return tuple(shlex.split(text or ""))
    except ValueError as exc:
        raise SamrunError(f"--debug-args: {exc}") from None
