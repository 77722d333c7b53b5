"""A container as a sandbox: its output, its end, and what it used.

Output comes through a FIFO the runtime writes straight into (local engines), so a line written
before the runtime posts its response is read by then; the engine's attach stream carries the
rest and, by closing, says the container has ended. Then the container's state says why, and it
is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import struct
import threading
import time
from pathlib import Path
from typing import Any

from samrun.errors import BackendError
from samrun.runtime.docker_engine import Engine, first_line, remove_container
from samrun.runtime.process import MAX_LINE, signal_name
from samrun.runtime.sandbox import LaunchSpec, OutputSink

logger = logging.getLogger(__name__)

CPU_PERIOD_US = 100_000
FULL_VCPU_MB = 1769
FRAME = struct.Struct(">BxxxL")  # the engine's multiplexed stream: stream id, payload size
CGROUP_PEAKS = (
    "/sys/fs/cgroup/memory/docker/{id}/memory.max_usage_in_bytes",  # v1, cgroupfs driver
    "/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.peak",  # v2, systemd driver
    "/sys/fs/cgroup/docker/{id}/memory.peak",  # v2, cgroupfs driver
)


class DockerSandbox:
    """A started container, its attach stream, and why it ended."""

    runtime_lane = None  # a container's runtime speaks the HTTP Runtime API

    def __init__(
        self,
        engine: Engine,
        container: Any,
        stream: Any,
        spec: LaunchSpec,
        on_output: OutputSink,
        fifo: tuple[int, int] | None = None,
        extensions_boot: tuple[int, int] | None = None,
    ) -> None:
        self._engine = engine
        self._container = container
        self.extensions_boot = extensions_boot  # the Sandbox protocol's: the launcher takes it
        self._stream = stream  # keeps the engine's response (and so the socket) alive
        self._sock: Any = getattr(stream, "_sock", stream)
        self._memory_mb = spec.memory_mb
        self._on_output = on_output
        self._frames = b""
        self._partial = b""
        self._peak_mb = 0
        self.out_of_memory = False  # the Sandbox protocol's, read by the instance
        self.started_at = time.monotonic()
        self._started_wall = time.time()  # the engine's events are in wall-clock seconds
        self._stopping = False
        self.exit_reason: str | None = None
        self._cpu_task: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self._eof = loop.create_future()
        self._fd = -1
        if type(self._sock) in (socket.socket, ssl.SSLSocket):  # unix, tcp, tls: the loop reads
            self._sock.setblocking(False)
            self._fd = self._sock.fileno()
            loop.add_reader(self._fd, self.drain_output)
        else:  # an ssh engine's pipe to `ssh`: a thread reads it for the whole container's life
            threading.Thread(target=self._read_blocking, args=(loop,), daemon=True).start()
        self._fifo = fifo  # (read, write): the runtime's output, when the engine is local
        if fifo is not None:
            loop.add_reader(fifo[0], self._drain_fifo)
        self._waiter = loop.create_task(self._wait())

    def peak_memory_mb(self) -> int:
        """The container's cgroup high-water mark, where this machine can read it."""
        for template in CGROUP_PEAKS:
            try:
                with open(template.format(id=self._container.id), "rb") as peak:
                    self._peak_mb = max(self._peak_mb, round(int(peak.read()) / 1024 / 1024))
                    break
            except (OSError, ValueError):
                continue
        return max(1, self._peak_mb)

    def init_done(self) -> None:
        """Init is over: the CPU share of MemorySize from now on (Lambda boosts init)."""
        quota = max(1000, CPU_PERIOD_US * self._memory_mb // FULL_VCPU_MB)
        if self.exit_reason is None and self._cpu_task is None:
            self._cpu_task = asyncio.get_running_loop().create_task(
                self._call(self._container.update, cpu_period=CPU_PERIOD_US, cpu_quota=quota)
            )

    def freeze(self) -> None:
        """Not frozen: `container.pause()` is a round trip through the engine, milliseconds on
        the warm path (runtime/freeze.py)."""

    def thaw(self) -> None:
        """Never frozen (`freeze`)."""

    def drain_output(self) -> None:
        """Read all the output written so far; deliver each complete line."""
        self._drain_fifo()
        self._drain_stream()

    def _drain_fifo(self) -> None:
        """The FIFO is written straight by the runtime, so a line written before the runtime
        posts its response is here by then (the engine's attach stream lags behind)."""
        while self._fifo is not None:
            try:
                chunk = os.read(self._fifo[0], 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            self._emit(chunk)

    def _drain_stream(self) -> None:
        while self._fd >= 0:
            try:
                chunk = self._sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, InterruptedError):
                return
            except OSError:
                chunk = b""
            self._feed(chunk)

    def _feed(self, chunk: bytes) -> None:
        if not chunk:
            self._close_stream()
            return
        self._frames += chunk
        self._deframe()

    def _read_blocking(self, loop: asyncio.AbstractEventLoop) -> None:
        # The SDK's ssh socket reads `ssh`'s stdout with read(n), which waits for n bytes;
        # read1 returns what has come.
        pipe = getattr(getattr(self._sock, "proc", None), "stdout", None)
        read = pipe.read1 if pipe is not None else self._sock.recv
        chunk = b"-"
        while chunk:
            try:
                chunk = read(65536)
            except OSError:
                chunk = b""
            loop.call_soon_threadsafe(self._feed, chunk)

    async def wait(self) -> None:
        await asyncio.shield(self._waiter)

    async def stop(self) -> None:
        if self.exit_reason is None and not self._eof.done():
            self._stopping = True
            await self._call(self._container.kill)
        await self.wait()

    async def _call(self, method: Any, **kwargs: Any) -> None:
        try:
            await asyncio.to_thread(method, **kwargs)
        except Exception as exc:  # the container may be gone already: that is the goal
            logger.debug("container %s: %s", self._container.short_id, first_line(exc))

    def _deframe(self) -> None:
        while len(self._frames) >= FRAME.size:
            _, size = FRAME.unpack_from(self._frames)
            if len(self._frames) < FRAME.size + size:
                return
            payload = self._frames[FRAME.size : FRAME.size + size]
            self._frames = self._frames[FRAME.size + size :]
            self._emit(payload)

    def _emit(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._on_output(line[:MAX_LINE].decode("utf-8", "replace"))

    def _close_stream(self) -> None:
        if self._eof.done():
            return
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
        self._fd = -1
        with contextlib.suppress(OSError):
            self._sock.close()
        self._drain_fifo()
        if self._fifo is not None:
            asyncio.get_running_loop().remove_reader(self._fifo[0])
            for fd in self._fifo:
                os.close(fd)
            self._fifo = None
        if self._partial:
            self._on_output(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        if not self._eof.done():
            self._eof.set_result(None)

    async def _wait(self) -> None:
        """The attach stream ends when the container does; then its state says why."""
        await self._eof
        self.peak_memory_mb()  # its cgroup goes with it: keep the last high-water mark
        if self._cpu_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._cpu_task
        try:
            state = await asyncio.to_thread(self._final_state)
        finally:
            await self._call(remove_container, container=self._container)
        code = int(state.get("ExitCode", -1))
        self.out_of_memory = bool(state.get("OOMKilled"))
        if code == 137 and not self.out_of_memory and not self._stopping:
            self.out_of_memory = await asyncio.to_thread(
                self._engine.oom_event, self._container.id, self._started_wall
            )
        if self.out_of_memory or code == 137:
            self.exit_reason = "signal: killed"
        elif code > 128:
            self.exit_reason = f"signal: {signal_name(code - 128)}"
        else:
            self.exit_reason = f"exit status {code}"

    def _final_state(self) -> dict[str, Any]:
        """The container's state once it has stopped (its stream may close a moment before)."""
        result: dict[str, Any] = {}
        with contextlib.suppress(Exception):  # gone already (removed by the engine or a user)
            result = self._container.wait(timeout=30)
            self._container.reload()
        state: dict[str, Any] = dict(self._container.attrs.get("State") or {})
        if result:
            state.setdefault("ExitCode", result.get("StatusCode", -1))
        return state


def open_fifo(path: Path) -> tuple[int, int]:
    """A FIFO for the runtime's output: read here, kept open for writing so it never reads as
    ended before the container opens it."""
    path.unlink(missing_ok=True)  # a killed samrun's instance of the same id left one
    try:
        os.mkfifo(path)
        os.chmod(path, 0o622)  # the function's user writes it, whatever the umask
    except OSError as exc:
        raise BackendError(f"cannot make {path}: {exc.strerror}") from None
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    return reader, writer
