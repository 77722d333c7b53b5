"""The docker backend: each instance is a container of a Lambda image, run as Lambda runs it.

The image's own entrypoint starts the runtime against samrun's Runtime API (AWS_LAMBDA_RUNTIME_API);
the code is mounted read-only at /var/task and the merged layers at /opt (copied into volumes when
the engine is remote), the root file system is read-only, /tmp is a tmpfs of EphemeralStorage
size, memory is MemorySize with no swap, the CPU share is MemorySize/1769 vCPU once init is over
(Lambda boosts init, as the process backend does), pids and open files are 1024 each. Output is read
from the container's attach stream as it is written; a container that ends is removed.
The SDK's calls block, so they run with `asyncio.to_thread`; none of them lasts a container's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import ssl
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samrun.errors import BackendError
from samrun.runtime.docker_engine import Engine, first_line, remove_container
from samrun.runtime.process import MAX_LINE, signal_name
from samrun.runtime.sandbox import LaunchSpec, OutputSink

logger = logging.getLogger(__name__)

TASK_ROOT = "/var/task"
OPT = "/opt"
CPU_PERIOD_US = 100_000
FULL_VCPU_MB = 1769
OUTPUT_NAME = "output.fifo"
OUTPUT_MOUNT = "/dev/samrun-output"
REDIRECT = f'exec "$@" >{OUTPUT_MOUNT} 2>&1'
FRAME = struct.Struct(">BxxxL")  # the engine's multiplexed stream: stream id, payload size
CGROUP_PEAKS = (
    "/sys/fs/cgroup/memory/docker/{id}/memory.max_usage_in_bytes",  # v1, cgroupfs driver
    "/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.peak",  # v2, systemd driver
    "/sys/fs/cgroup/docker/{id}/memory.peak",  # v2, cgroupfs driver
)


class DockerSandbox:
    """A started container, its attach stream, and why it ended."""

    def __init__(
        self,
        engine: Engine,
        container: Any,
        stream: Any,
        spec: LaunchSpec,
        on_output: OutputSink,
        fifo: tuple[int, int] | None = None,
    ) -> None:
        self._engine = engine
        self._container = container
        self._stream = stream  # keeps the engine's response (and so the socket) alive
        self._sock: Any = getattr(stream, "_sock", stream)
        self._memory_mb = spec.memory_mb
        self._on_output = on_output
        self._frames = b""
        self._partial = b""
        self._peak_mb = 0
        self._oom = False
        self._exit_reason: str | None = None
        self._cpu_task: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self._eof = loop.create_future()
        self._sock.setblocking(False)
        self._fd: int = self._sock.fileno()
        loop.add_reader(self._fd, self.drain_output)
        self._fifo = fifo  # (read, write): the runtime's output, when the engine is local
        if fifo is not None:
            loop.add_reader(fifo[0], self._drain_fifo)
        self._waiter = loop.create_task(self._wait())

    @property
    def exit_reason(self) -> str | None:
        return self._exit_reason

    @property
    def out_of_memory(self) -> bool:
        return self._oom

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
        if self._exit_reason is None and self._cpu_task is None:
            self._cpu_task = asyncio.get_running_loop().create_task(
                self._call(self._container.update, cpu_period=CPU_PERIOD_US, cpu_quota=quota)
            )

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
            if not chunk:
                self._close_stream()
                return
            self._frames += chunk
            self._deframe()

    async def wait(self) -> None:
        await asyncio.shield(self._waiter)

    async def stop(self) -> None:
        if self._exit_reason is None and not self._eof.done():
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
        if self._fd < 0:
            return
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
        self._oom = bool(state.get("OOMKilled"))
        if self._oom or code == 137:
            self._exit_reason = "signal: killed"
        elif code > 128:
            self._exit_reason = f"signal: {signal_name(code - 128)}"
        else:
            self._exit_reason = f"exit status {code}"

    def _final_state(self) -> dict[str, Any]:
        """The container's state once it has stopped (its stream may close a moment before)."""
        result = self._container.wait(timeout=30)
        self._container.reload()
        state: dict[str, Any] = self._container.attrs.get("State") or {}
        state.setdefault("ExitCode", result.get("StatusCode", -1))
        return state


class DockerBackend:
    """Containers on a Docker engine, local or remote (DOCKER_HOST)."""

    provides_runtime = True  # the image carries the runtime and its bootstrap

    def __init__(
        self,
        engine_env: Mapping[str, str],
        *,
        app: str,
        image_map: Mapping[str, str],
        skip_pull: bool = False,
        container_host: str | None = None,
    ) -> None:
        self._engine_env = dict(engine_env)
        self._app = app
        self._image_map = dict(image_map)
        self._skip_pull = skip_pull
        self._container_host = container_host
        self._engine: Engine | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> Engine:
        """Reach the engine once and remove what a killed samrun of this app left behind."""
        async with self._connecting:
            if self._engine is None:
                engine = await asyncio.to_thread(
                    Engine,
                    self._engine_env,
                    app=self._app,
                    image_map=self._image_map,
                    skip_pull=self._skip_pull,
                )
                removed = await asyncio.to_thread(engine.remove_leftovers)
                if removed:
                    logger.info("removed %d container(s) left by an earlier samrun", removed)
                self._engine = engine
            return self._engine

    @property
    def local(self) -> bool:
        return self._engine is None or self._engine.local

    async def start(self, spec: LaunchSpec, on_output: OutputSink) -> DockerSandbox:
        engine = await self.connect()
        fifo = open_fifo(spec.tmp_dir / OUTPUT_NAME) if engine.local else None
        try:
            container, stream = await asyncio.to_thread(self._create, engine, spec, fifo)
        except BaseException as exc:
            for fd in fifo or ():
                os.close(fd)
            if isinstance(exc, BackendError | asyncio.CancelledError) or not isinstance(
                exc, Exception
            ):
                raise
            raise BackendError(f"cannot start {spec.name}: {first_line(exc)}") from None
        return DockerSandbox(engine, container, stream, spec, on_output, fifo)

    async def close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
            self._engine = None

    def _create(
        self, engine: Engine, spec: LaunchSpec, fifo: tuple[int, int] | None
    ) -> tuple[Any, Any]:
        """Create, attach, start (attached first, so not a line of output is missed)."""
        image, command, entrypoint = self._image(engine, spec)
        from docker.types import Ulimit

        mounts = self._mounts(engine, spec, image)
        if fifo is not None:  # the image's own argv, its output redirected into the FIFO
            default_entrypoint, default_command = engine.image_argv(image)
            argv = [*(entrypoint or default_entrypoint), *(command or default_command)]
            entrypoint, command = ["/bin/sh", "-c", REDIRECT, "sh"], argv
            mounts[str(spec.tmp_dir / OUTPUT_NAME)] = {"bind": OUTPUT_MOUNT, "mode": "rw"}

        container = engine.client.containers.create(
            image,
            command=command,
            entrypoint=entrypoint,
            environment=self._environment(spec),
            working_dir=spec.image_config.working_directory if spec.image_config else None,
            volumes=mounts,
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,size={spec.ephemeral_storage_mb}m,mode=1777"},
            mem_limit=f"{spec.memory_mb}m",
            memswap_limit=f"{spec.memory_mb}m",
            pids_limit=1024,
            ulimits=[Ulimit(name="nofile", soft=1024, hard=1024)],
            labels=engine.labels(spec.name.split(":")[0]),
            network_mode="host" if engine.local and not self._container_host else None,
            detach=True,
        )
        try:
            params = {"stdout": 1, "stderr": 1, "stream": 1, "logs": 1}
            stream = engine.client.api.attach_socket(container.id, params=params)
            container.start()
        except BaseException:
            remove_container(container)
            raise
        return container, stream

    def _image(
        self, engine: Engine, spec: LaunchSpec
    ) -> tuple[str, list[str] | None, list[str] | None]:
        """(image, command, entrypoint): a runtime's base image runs the handler; an image
        function runs its own CMD/ENTRYPOINT unless ImageConfig overrides them."""
        config = spec.image_config
        entrypoint = list(config.entry_point) if config and config.entry_point else None
        command = list(config.command) if config and config.command else None
        if spec.image_build is not None:
            return engine.build_image(spec.image_build, spec.architecture), command, entrypoint
        if spec.image_uri:
            return engine.ensure_image(spec.image_uri, spec.architecture), command, entrypoint
        if spec.runtime is None:
            raise BackendError(f"{spec.name}: neither a runtime nor an image")
        image = engine.image_for_runtime(spec.runtime, spec.architecture)
        return image, [spec.handler or ""], None

    def _mounts(self, engine: Engine, spec: LaunchSpec, image: str) -> dict[str, dict[str, str]]:
        if spec.image_uri or spec.image_build:
            return {}  # the code is in the image
        folders = {TASK_ROOT: spec.code_dir, **({OPT: spec.opt_dir} if spec.opt_dir else {})}
        if engine.local:  # a mount, so an edit shows at the next cold start (hot reload)
            return {str(path): {"bind": where, "mode": "ro"} for where, path in folders.items()}
        return {
            engine.volume_with(path, content_key(path), image): {"bind": where, "mode": "ro"}
            for where, path in folders.items()
        }

    def _environment(self, spec: LaunchSpec) -> dict[str, str]:
        """Lambda's variables; addresses of samrun's endpoints as the container reaches them."""
        env = dict(spec.env)
        if self._container_host:
            for key in ("AWS_LAMBDA_RUNTIME_API", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"):
                if key in env:
                    env[key] = retarget(env[key], self._container_host)
        return env


def open_fifo(path: Path) -> tuple[int, int]:
    """A FIFO for the runtime's output: read here, kept open for writing so it never reads as
    ended before the container opens it."""
    path.unlink(missing_ok=True)  # a killed samrun's instance of the same id left one
    try:
        os.mkfifo(path, 0o666)
    except OSError as exc:
        raise BackendError(f"cannot make {path}: {exc.strerror}") from None
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    return reader, writer


def retarget(address: str, host: str) -> str:
    """`127.0.0.1:4567` or `http://127.0.0.1:4567` with the host the containers can reach."""
    scheme, sep, rest = address.rpartition("://")
    port = rest.rsplit(":", 1)[1] if ":" in rest else ""
    target = f"{host}:{port}" if port else host
    return f"{scheme}{sep}{target}"


def content_key(folder: Path) -> str:
    """Changes when a file under `folder` changes (size or time): a new volume copy."""
    stamps = [
        f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}"
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (stat := path.stat())
    ]
    return hashlib.sha256("\0".join(stamps).encode()).hexdigest()[:16]
