"""Freezing an idle instance between invocations, as Lambda freezes an execution environment.

On Lambda, once the runtime (and every extension) has called `next`, the environment is frozen:
background threads, timers and child processes do not run until the next event (or SHUTDOWN).
samrun does the same, so code that only works because the process keeps running fails here as it
fails there. `--no-freeze` turns it off.

The mechanism is on the warm path (a thaw before each event), so it was measured (a socketpair
ping-pong with a runtime-like child, median of 2,000 exchanges, on the 2-core test machine):
nothing 14-16 us, SIGSTOP/SIGCONT of the process group +5-8 us, the cgroup v1 freezer
(`freezer.state` FROZEN/THAWED) +100-115 us, its thaw write alone up to 5 ms at worst. A warm
invocation costs ~450 us, so the cgroup freezer alone would take a quarter of it: the process
backend stops the instance's process group instead (each runtime is a session leader: its group
holds the function's threads and every child it starts, unless one leaves the group with
`setsid`, which then keeps running; it is still killed with its instance, runtime/descendants.py).

Stopping and continuing a group still costs: the kernel wakes each task to stop it, and again
to continue it, and samrun hears SIGCHLD both times. Measured in samrun (bench/freeze_bench.py,
alternating rounds, loaded machine), stopping right as the runtime parks put the warm p50 of
back-to-back invocations 12-18 % (Python) and 4-9 % (Node.js) over `--no-freeze`. So an instance
is frozen FREEZE_AFTER_S (2 ms, runtime/instance.py) after its runtime parks, if it is still idle
then: back-to-back invocations never stop it (warm p50 within 0.6-2 % of `--no-freeze`), and an
idle instance's threads get at most those 2 ms more than Lambda gives them.

SIGSTOP is faithful where it matters: no thread of the group runs, a SIGKILL (timeouts, the
memory watchdog, a stop) still ends a stopped process at once, and a blocking call the stop
interrupted resumes on SIGCONT (Python and libuv retry EINTR). Before anything that wants the
instance to run again (an event, SHUTDOWN, a stop) it is thawed.

Not frozen: a debugged function (its debugger must be able to pause and inspect it), spares not
yet assigned to an instance (not a function's environment), containers (`docker pause` and
`unpause` are round trips through the engine: ~19 and ~20 ms each here, against a warm invocation
of a few ms).
"""

from __future__ import annotations

import contextlib
import os
import signal


class GroupFreezer:
    """Stops and continues one process group; `frozen` says which it did last."""

    def __init__(self, pgid: int) -> None:
        """`pgid`: the instance's process group (its runtime's pid: a session leader)."""
        self.pgid = pgid
        self.frozen = False

    def freeze(self) -> None:
        if self.frozen:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGSTOP)
            self.frozen = True

    def thaw(self) -> None:
        if not self.frozen:
            return
        self.frozen = False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGCONT)
