"""`breakpoint()` in `samrun invoke` on a terminal: pdb on that terminal.

A runtime runs in a session of its own (as another user when samrun is root), with no terminal:
its stdin is /dev/null and its output goes through samrun's pipe. So `samrun invoke`, when its
stdin is a terminal and no debugger was asked for, hands each Python runtime a descriptor of the
terminal and the write end of a pipe (`ENV` names both; samrun's bootstrap takes them before any
user code runs). `breakpoint()` then writes a byte on the pipe and runs pdb on the terminal;
samrun, reading it, lifts the invocation's timeout (a person at a pdb prompt takes longer than
Lambda's seconds), says so, and the REPORT line still gives the real duration. An invocation that
never calls breakpoint() keeps its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

ENV = "_SAMRUN_TERMINAL"  # "TTY:PIPE", two descriptor numbers; the bootstrap removes it


def open_terminal(stdin: int = 0) -> int | None:
    """A descriptor of the terminal `stdin` is (read and write), or None when it is none."""
    try:
        if not os.isatty(stdin):
            return None
        return os.open(os.ttyname(stdin), os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        try:
            return os.dup(stdin)  # a terminal samrun cannot open by name: the one it was given
        except OSError:
            return None


class TerminalLink:
    """One runtime's link to the terminal: the descriptors it inherits, and samrun's end of the
    pipe that says a breakpoint was hit. Without a terminal, it does nothing."""

    def __init__(self, terminal: int | None) -> None:
        self.terminal = terminal  # samrun's: the runtime inherits it at the same number
        self._read, self._write = os.pipe2(os.O_CLOEXEC) if terminal is not None else (-1, -1)
        if self._read >= 0:
            os.set_blocking(self._read, False)
        self._watching = False

    def environment(self) -> dict[str, str]:
        return {ENV: f"{self.terminal}:{self._write}"} if self.terminal is not None else {}

    @property
    def fds(self) -> tuple[int, ...]:
        return (self.terminal, self._write) if self.terminal is not None else ()

    def handed_over(self) -> None:
        """The runtime started (or could not): samrun keeps only its reading end."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1

    def watch(self, on_breakpoint: Callable[[], None]) -> None:
        """Call `on_breakpoint` each time the runtime stops at a breakpoint."""
        if self._read < 0:
            return

        def readable() -> None:
            try:
                data = os.read(self._read, 64)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:  # the runtime is gone
                self._unwatch()
                return
            on_breakpoint()

        asyncio.get_running_loop().add_reader(self._read, readable)
        self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            with contextlib.suppress(RuntimeError):  # the loop is closing
                asyncio.get_running_loop().remove_reader(self._read)

    def close(self) -> None:
        self.handed_over()
        self._unwatch()
        if self._read >= 0:
            os.close(self._read)
            self._read = -1
