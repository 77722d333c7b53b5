"""The docker backend: each instance is a container of a Lambda image, run as Lambda runs it.

The image's own entrypoint starts the runtime against samrun's Runtime API (AWS_LAMBDA_RUNTIME_API);
the code is mounted read-only at /var/task and the merged layers at /opt (copied into volumes when
the engine is remote), the root file system is read-only, /tmp is a tmpfs of EphemeralStorage
size, memory is MemorySize with no swap, the CPU share is MemorySize/1769 vCPU once init is over
(Lambda boosts init, as the process backend does), pids and open files are 1024 each. Output is read
as it is written (runtime/docker_sandbox.py); a container that ends is removed.
On a local engine the image's entrypoint runs behind a small sh step that starts the external
extensions in /opt/extensions first (runtime/extensions.py's `CONTAINER_BOOT`): the layers' for a
.zip function, the image's own for an image function. AWS_LAMBDA_EXEC_WRAPPER is the image's
business: the official images' bootstraps start their runtime through it themselves.
The SDK's calls block, so they run with `asyncio.to_thread`; none of them lasts a container's life.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from samrun.errors import BackendError, InvalidEntrypoint
from samrun.runtime import extensions
from samrun.runtime.docker_debug import (
    debug_environment,
    debug_folders,
    provided_entrypoint,
    published_ports,
)
from samrun.runtime.docker_engine import Engine, first_line, remove_container
from samrun.runtime.docker_sandbox import DockerSandbox, open_fifo
from samrun.runtime.sandbox import CONTAINER_DEPS, LaunchSpec, OutputSink

logger = logging.getLogger(__name__)

TASK_ROOT = "/var/task"
OPT = "/opt"
SANDBOX_USER = "993:990"  # Lambda runs functions as sbx_user1051, not root
OUTPUT_NAME = "output.fifo"
OUTPUT_MOUNT = "/dev/samrun-output"
REDIRECT = f'exec "$@" >{OUTPUT_MOUNT} 2>&1'
EXTENSIONS_NAME, EXTENSIONS_GO_NAME = "extensions.fifo", "extensions-go.fifo"
EXTENSIONS_MOUNT, EXTENSIONS_GO_MOUNT = "/dev/samrun-extensions", "/dev/samrun-extensions-go"


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
        self._images: dict[str, str] = {}
        self._image_locks: dict[str, asyncio.Lock] = {}

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

    async def start(self, spec: LaunchSpec, on_output: OutputSink) -> DockerSandbox:
        engine = await self.connect()
        fifo = open_fifo(spec.tmp_dir / OUTPUT_NAME) if engine.local else None
        channel = boot_channel(spec.tmp_dir) if fifo is not None and extensions.ENABLED else None
        try:
            image = await self._image(engine, spec)
            created = await asyncio.to_thread(self._create, engine, spec, image, fifo, channel)
            container, stream, to_fifo = created
        except BaseException as exc:
            for fd in (*(fifo or ()), *(channel or ())):
                os.close(fd)
            if isinstance(exc, BackendError | asyncio.CancelledError) or not isinstance(
                exc, Exception
            ):
                raise
            raise BackendError(f"cannot start {spec.name}: {first_line(exc)}") from None
        if fifo is not None and not to_fifo:
            for fd in (*fifo, *(channel or ())):
                os.close(fd)
            fifo = channel = None
        return DockerSandbox(engine, container, stream, spec, on_output, fifo, channel)

    async def close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
            self._engine = None

    def _create(
        self,
        engine: Engine,
        spec: LaunchSpec,
        image: str,
        fifo: tuple[int, int] | None,
        channel: tuple[int, int] | None,
    ) -> tuple[Any, Any, bool]:
        """(container, attach stream, whether its output goes to the FIFO, and so whether
        its extensions start through the boot step on `channel`)."""
        command, entrypoint = argv(spec)
        if fifo is not None and image not in engine.shell_less:
            import docker.errors

            try:
                run = self._run(engine, spec, image, command, entrypoint, fifo, channel is not None)
                return (*run, True)
            except docker.errors.APIError as exc:
                if "/bin/sh" not in str(exc):
                    raise
                engine.shell_less.add(image)  # no shell to redirect with: the attach stream
        return (*self._run(engine, spec, image, command, entrypoint, None), False)

    def _run(
        self,
        engine: Engine,
        spec: LaunchSpec,
        image: str,
        command: list[str] | None,
        entrypoint: list[str] | None,
        fifo: tuple[int, int] | None,
        boot: bool = False,
    ) -> tuple[Any, Any]:
        """Create, attach, start (attached first, so not a line of output is missed); `boot`:
        external extensions start first (`extensions.CONTAINER_BOOT`)."""
        from docker.types import Ulimit

        mounts = self._mounts(engine, spec, image)
        default_entrypoint, default_command = engine.image_argv(image)
        entrypoint = default_entrypoint if entrypoint is None else entrypoint
        command = default_command if command is None else command  # kept past an EntryPoint
        if fifo is not None:  # the same argv, its output redirected into the FIFO
            script = REDIRECT
            if boot:  # and the extensions started first
                script = extensions.container_boot(
                    EXTENSIONS_MOUNT, EXTENSIONS_GO_MOUNT, OUTPUT_MOUNT
                )
                for name, where in (
                    (EXTENSIONS_NAME, EXTENSIONS_MOUNT),
                    (EXTENSIONS_GO_NAME, EXTENSIONS_GO_MOUNT),
                ):
                    mounts[str(spec.tmp_dir / name)] = {"bind": where, "mode": "rw"}
            entrypoint, command = ["/bin/sh", "-c", script, "sh"], [*entrypoint, *command]
            mounts[str(spec.tmp_dir / OUTPUT_NAME)] = {"bind": OUTPUT_MOUNT, "mode": "rw"}
        environment = self._environment(spec)
        ports = None
        if spec.debug is not None:  # its debugger mounted in, its port on loopback
            host_network = self._host_network(engine)
            environment.update(
                debug_environment(
                    spec.runtime,
                    spec.debug,
                    environment,
                    engine.image_env(image),
                    host_network=host_network,
                )
            )
            mounts.update(self._folders(engine, debug_folders(spec.runtime, spec.debug), image))
            ports = published_ports(spec.debug, host_network=host_network)

        container = engine.client.containers.create(
            image,
            command=command,
            entrypoint=entrypoint,
            environment=environment,
            ports=ports,
            working_dir=spec.image_config.working_directory if spec.image_config else None,
            volumes=mounts,
            read_only=True,
            user=SANDBOX_USER,
            tmpfs={"/tmp": f"rw,exec,size={spec.ephemeral_storage_mb}m,mode=1777"},
            mem_limit=f"{spec.memory_mb}m",
            memswap_limit=f"{spec.memory_mb}m",
            pids_limit=1024,
            ulimits=[Ulimit(name="nofile", soft=1024, hard=1024)],
            labels=engine.labels(spec.name.split(":")[0]),
            network_mode="host" if self._host_network(engine) else None,
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

    async def _image(self, engine: Engine, spec: LaunchSpec) -> str:
        """The image to run, made sure of once per backend (pulled, or built from a Dockerfile
        once per content of its context: a watch-mode edit builds again)."""
        build, arch = spec.image_build, spec.architecture
        if build is not None:
            context = await asyncio.to_thread(content_key, Path(build.context))
            key = f"build:{build.tag}:{context}"
            make = partial(engine.build_image, build, arch)
        elif spec.image_uri:
            key, make = f"uri:{spec.image_uri}", partial(engine.ensure_image, spec.image_uri, arch)
        elif spec.runtime is not None:
            key = f"runtime:{spec.runtime}:{arch}"
            make = partial(engine.image_for_runtime, spec.runtime, arch)
        else:
            raise BackendError(f"{spec.name}: neither a runtime nor an image")
        async with self._image_locks.setdefault(key, asyncio.Lock()):
            if key not in self._images:
                self._images[key] = await asyncio.to_thread(make)
        return self._images[key]

    def _host_network(self, engine: Engine) -> bool:
        """A local engine's containers share this machine's network (unless --container-host)."""
        return engine.local and not self._container_host

    def _mounts(self, engine: Engine, spec: LaunchSpec, image: str) -> dict[str, dict[str, str]]:
        if spec.image_uri or spec.image_build:
            return {}  # the code is in the image
        folders = {TASK_ROOT: spec.code_dir, **({OPT: spec.opt_dir} if spec.opt_dir else {})}
        if spec.deps_dir is not None:
            folders[CONTAINER_DEPS] = spec.deps_dir
        return self._folders(engine, folders, image)

    def _folders(
        self, engine: Engine, folders: Mapping[str, Path], image: str
    ) -> dict[str, dict[str, str]]:
        """Folders of this machine read-only at their places in the container."""
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
            for key in (
                "AWS_LAMBDA_RUNTIME_API",
                "AWS_ENDPOINT_URL_LAMBDA",
                "AWS_ENDPOINT_URL",
                "AWS_XRAY_DAEMON_ADDRESS",
            ):
                if key in env:
                    env[key] = retarget(env[key], self._container_host)
        return env


def argv(spec: LaunchSpec) -> tuple[list[str] | None, list[str] | None]:
    """(command, entrypoint): a runtime's base image runs the handler; an image function runs
    its own CMD/ENTRYPOINT unless ImageConfig overrides them."""
    if (spec.runtime or "").startswith("provided") and not (spec.image_uri or spec.image_build):
        bootstrap = provided_bootstrap(spec)  # as Lambda: the function's own bootstrap
        if spec.debug is not None and spec.debug.args:
            return [], provided_entrypoint(bootstrap, spec.debug)
        return [], [bootstrap]
    if not (spec.image_uri or spec.image_build):
        return [spec.handler or ""], None
    config = spec.image_config
    entrypoint = list(config.entry_point) if config and config.entry_point else None
    command = list(config.command) if config and config.command else None
    return command, entrypoint


def provided_bootstrap(spec: LaunchSpec) -> str:
    """An OS-only runtime runs /var/task/bootstrap, else /opt/bootstrap, as Lambda does."""
    for folder, inside in ((spec.code_dir, TASK_ROOT), (spec.opt_dir, OPT)):
        if folder is not None and (folder / "bootstrap").is_file():
            return f"{inside}/bootstrap"
    raise InvalidEntrypoint(
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )


def boot_channel(folder: Path) -> tuple[int, int]:
    """The FIFOs of a container's boot step (`extensions.CONTAINER_BOOT`): what it reports, and
    where it waits for "go". Both are opened read-write here, so neither end ever waits for
    the other and neither reads as ended while samrun holds them."""
    fds = []
    try:
        for name, mode in ((EXTENSIONS_NAME, 0o622), (EXTENSIONS_GO_NAME, 0o644)):
            path = folder / name
            path.unlink(missing_ok=True)  # a killed samrun's instance of the same id left one
            os.mkfifo(path)
            os.chmod(path, mode)  # the function's user opens it, whatever the umask
            fds.append(os.open(path, os.O_RDWR | os.O_NONBLOCK))
    except OSError as exc:
        for fd in fds:
            os.close(fd)
        raise BackendError(f"cannot make {folder / name}: {exc.strerror}") from None
    return fds[0], fds[1]


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
