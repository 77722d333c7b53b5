"""The embedded moto server's process (samrun/aws/moto_child.py), as samrun starts and awaits it.

Started with `subprocess` rather than through an event loop, so that `up` can start it first of
all, before samrun's own imports and the template's load, which its ~0.3 s start then overlaps
(bench cold: `up` of 200 functions). It is awaited through a pidfd. The Lambda API's URL, which
its state machines' Lambda tasks call, is known only once that API has its port: it goes to the
child on its stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

LOOPBACKS = ("127.0.0.1", "localhost", "::1")


def moto_host(host: str) -> str:
    """Where moto listens: `--host`'s loopback, else 127.0.0.1 (never exposed with the app)."""
    return host if host in LOOPBACKS else "127.0.0.1"


class MotoProcess:
    """One run of the moto child: its pid, the port it bound, its exit."""

    def __init__(self, host: str, state_dir: Path, port: int = 0) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        with open(state_dir / "moto.log", "ab") as log:  # the child keeps it
            # PDEATHSIG in the child fires when the forking *thread* exits: started from the
            # main thread, which is also the event loop's
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "samrun.aws.moto_child", host, str(os.getpid()), str(port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                # its own session: a Ctrl-C or SIGTERM to samrun's process group is samrun's to
                # handle (it drains, and may still need the endpoint), never a death to restart
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.pid = self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.poll()

    async def port(self, timeout_s: float) -> int:
        """The port it bound (its first line); TimeoutError or ValueError when it did not start."""
        assert self._popen.stdout is not None
        async with asyncio.timeout(timeout_s):  # a stuck read ends when the child is killed
            line = await asyncio.to_thread(self._popen.stdout.readline)
        return int(line)

    def follow(self, on_line: Callable[[str], None]) -> None:
        """Hand each later stdout line (IAM denials, samrun.iam.moto_auth) to `on_line`, from a
        thread of its own, so the pipe never fills."""
        out = self._popen.stdout
        assert out is not None

        def read() -> None:
            with contextlib.suppress(OSError, ValueError):
                for line in iter(out.readline, b""):
                    on_line(line.decode("utf-8", "replace").rstrip("\n"))

        threading.Thread(target=read, name="moto-stdout", daemon=True).start()

    def tell(self, lambda_endpoint: str | None, xray_daemon: str | None = None) -> None:
        """The Lambda API's URL, for its state machines' Lambda tasks, and the X-Ray daemon's
        address, for traced executions' segments (`-` for none)."""
        assert self._popen.stdin is not None
        line = f"{lambda_endpoint or '-'} {xray_daemon or '-'}\n"
        with contextlib.suppress(OSError, ValueError):  # it died: its watcher says so
            self._popen.stdin.write(line.encode())
            self._popen.stdin.flush()

    async def wait(self) -> int:
        """Its exit code (negative: the signal), once it has exited."""
        if self._popen.poll() is None:
            try:
                pidfd = os.pidfd_open(self.pid)
            except ProcessLookupError:  # reaped meanwhile
                return self._popen.wait()
            loop = asyncio.get_running_loop()
            exited: asyncio.Future[None] = loop.create_future()

            def on_exit() -> None:
                if not exited.done():
                    exited.set_result(None)

            loop.add_reader(pidfd, on_exit)
            try:
                await exited
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
        code = self._popen.wait()
        for pipe in (self._popen.stdin, self._popen.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        return code

    def terminate(self) -> None:
        self._popen.terminate()

    def kill(self) -> None:
        self._popen.kill()
