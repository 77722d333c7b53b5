"""The Docker engine samrun talks to: connection, where it runs, images, and what samrun owns.

Every container and volume samrun creates carries `LABEL_APP` (one value per app: its state
folder), so shutdown removes them all and the next start removes what a killed samrun left.
All calls here block; the backend runs them with `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import os
import socket
import tarfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from samrun.errors import BackendError
from samrun.model import ImageBuild

logger = logging.getLogger(__name__)

LABEL = "samrun"  # on everything samrun creates
LABEL_APP = "samrun.app"
LABEL_FUNCTION = "samrun.function"
LABEL_PID = "samrun.pid"  # the samrun process that started it, on the machine of LABEL_APP
OFFICIAL = "public.ecr.aws/lambda"
ARCH_TAG = {"x86_64": "x86_64", "arm64": "arm64"}
PLATFORM = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
OOM_EVENT_WAIT_S = 2.0  # how long a SIGKILLed container's `oom` event may lag its exit
ENGINE_ENV = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT")


def app_label(state_dir: Path) -> str:
    """One app is one state folder of one machine (an engine may serve several machines)."""
    where = f"{socket.gethostname()}\0{state_dir.resolve()}"
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def official_image(runtime: str, architecture: str) -> str:
    """The official base image of a runtime: public.ecr.aws/lambda/python:3.13-x86_64 ..."""
    arch = ARCH_TAG.get(architecture, "x86_64")
    if runtime.startswith("python"):
        name, version = "python", runtime.removeprefix("python")
    elif runtime.startswith("nodejs"):
        name, version = "nodejs", runtime.removeprefix("nodejs").removesuffix(".x")
    elif runtime.startswith("provided"):
        name, version = "provided", runtime.partition(".")[2] or "alami"
    elif runtime.startswith("java"):
        name, version = "java", runtime.removeprefix("java").replace(".al2", "")
    elif runtime.startswith("dotnet"):
        name, version = "dotnet", runtime.removeprefix("dotnet").removesuffix("core")
    elif runtime.startswith("ruby"):
        name, version = "ruby", runtime.removeprefix("ruby")
    else:
        raise BackendError(f"no official Lambda image is known for runtime {runtime}")
    return f"{OFFICIAL}/{name}:{version}-{arch}"


def over_ssh(docker_host: str | None) -> bool:
    """ssh:// engines go through the `ssh` program (no paramiko needed)."""
    return bool(docker_host and docker_host.startswith("ssh://"))


def is_local_engine(docker_host: str | None) -> bool:
    """True when the engine shares this machine's file system (bind mounts work)."""
    if not docker_host or docker_host.startswith(("unix://", "npipe://")):
        return True
    host = urlparse(docker_host).hostname or ""
    if docker_host.startswith("ssh://"):
        return False
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def probe(environment: Mapping[str, str]) -> str | None:
    """Why no engine can be reached with these DOCKER_* settings, or None when one answers."""
    import docker

    try:
        client = docker.from_env(
            environment=dict(environment),
            timeout=10,
            use_ssh_client=over_ssh(environment.get("DOCKER_HOST")),
        )
    except Exception as exc:
        return f"no Docker engine reachable ({first_line(exc)})"
    try:
        client.ping()
    except Exception as exc:
        return f"no Docker engine reachable ({first_line(exc)})"
    finally:
        client.close()
    return None


class Engine:
    """A connected client, the images it has made sure of, and the volumes it copied code to."""

    def __init__(
        self,
        environment: Mapping[str, str],
        *,
        app: str,
        image_map: Mapping[str, str],
        skip_pull: bool,
    ) -> None:
        import docker

        self.app = app
        self.image_map = dict(image_map)
        self.skip_pull = skip_pull
        docker_host = environment.get("DOCKER_HOST")
        self.local = is_local_engine(docker_host)
        try:
            self.client: Any = docker.from_env(
                environment=dict(environment), timeout=60, use_ssh_client=over_ssh(docker_host)
            )
            self.client.ping()
        except Exception as exc:  # the SDK raises many kinds; all mean "no engine"
            raise BackendError(f"no Docker engine reachable ({first_line(exc)})") from None
        self._images: dict[str, str] = {}  # wanted -> usable name
        self._volumes: dict[str, str] = {}  # local folder + content key -> volume name
        self._lock = threading.Lock()
        self._argv: dict[str, tuple[list[str], list[str]]] = {}
        self.shell_less: set[str] = set()  # images without /bin/sh to redirect output with
        self._image_locks: dict[str, threading.Lock] = {}

    def oom_event(self, container_id: str, since: float, wait_s: float = OOM_EVENT_WAIT_S) -> bool:
        """Whether the engine saw the kernel OOM-kill a process of the container. Its state's
        `OOMKilled` comes from the same event, which can reach the engine after the exit does;
        so wait for it a moment, and then only for a container killed by SIGKILL."""
        try:
            events = self.client.events(
                since=int(since) - 1,
                until=int(time.time() + wait_s) + 1,
                filters={"container": container_id, "event": "oom"},
                decode=True,
            )
            try:
                return any(True for _ in events)
            finally:
                events.close()
        except Exception as exc:  # the SDK raises many kinds; none is the function's fault
            logger.debug("events of %s: %s", container_id[:12], first_line(exc))
            return False

    def labels(self, function: str = "") -> dict[str, str]:
        labels = {LABEL: "1", LABEL_APP: self.app, LABEL_PID: str(os.getpid())}
        return {**labels, LABEL_FUNCTION: function} if function else labels

    def remove_leftovers(self, *, own: bool = False) -> int:
        """Remove this app's containers and volumes left by samruns that are gone (at start),
        or, with `own`, this samrun's (at shutdown); another samrun of the same app that still
        runs (an `invoke` beside an `up`) keeps its own."""
        wanted = {"label": f"{LABEL_APP}={self.app}"}
        found = [
            item
            for listed in (
                self.client.containers.list(all=True, filters=wanted),
                self.client.volumes.list(filters=wanted),
            )
            for item in listed
            if self._leftover(item.attrs.get("Config", item.attrs).get("Labels") or {}, own)
        ]
        for item in found:
            if hasattr(item, "kill"):
                remove_container(item)
        for item in found:
            if not hasattr(item, "kill"):
                try:
                    item.remove(force=True)
                except Exception as exc:
                    logger.debug("volume %s: %s", item.name, first_line(exc))
        return sum(1 for item in found if hasattr(item, "kill"))

    @staticmethod
    def _leftover(labels: Mapping[str, str], own: bool) -> bool:
        owner = labels.get(LABEL_PID, "")
        if own:
            return owner == str(os.getpid())
        return not owner.isdigit() or (int(owner) != os.getpid() and not alive(int(owner)))

    def image_for_runtime(self, runtime: str, architecture: str) -> str:
        wanted = self.image_map.get(runtime) or official_image(runtime, architecture)
        return self.ensure_image(wanted, architecture)

    def ensure_image(self, name: str, architecture: str = "x86_64") -> str:
        """`name`, pulled once when the engine lacks it (unless --skip-pull)."""
        with self._lock:
            lock = self._image_locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._images:
                return self._images[name]
            import docker.errors

            try:
                self.client.images.get(name)
            except docker.errors.ImageNotFound:
                if self.skip_pull:
                    raise BackendError(f"image {name} is not in the engine (--skip-pull)") from None
                logger.info("pulling %s", name)
                try:
                    self.client.images.pull(name, platform=PLATFORM.get(architecture))
                except docker.errors.APIError as exc:
                    raise BackendError(f"cannot pull {name}: {first_line(exc)}") from None
            self._images[name] = name
            return name

    def image_argv(self, name: str) -> tuple[list[str], list[str]]:
        """The image's own (Entrypoint, Cmd)."""
        with self._lock:
            if name in self._argv:
                return self._argv[name]
        config = self.client.images.get(name).attrs.get("Config") or {}
        argv = (list(config.get("Entrypoint") or []), list(config.get("Cmd") or []))
        with self._lock:
            self._argv[name] = argv
        return argv

    def image_env(self, name: str) -> dict[str, str]:
        """The image's own environment (its ENV lines), for a variable samrun extends."""
        config = self.client.images.get(name).attrs.get("Config") or {}
        pairs = (entry.partition("=") for entry in config.get("Env") or [])
        return {key: value for key, _, value in pairs}

    def build_image(self, build: ImageBuild, architecture: str) -> str:
        """Build an image function's image from its Dockerfile (the engine's cache keeps it
        quick when nothing changed), tagged as `sam build` tags it."""
        with self._lock:
            lock = self._image_locks.setdefault(build.tag, threading.Lock())
        with lock:
            import docker.errors

            self._argv.pop(build.tag, None)
            logger.info("building %s from %s", build.tag, Path(build.context) / build.dockerfile)
            try:
                self.client.images.build(
                    path=build.context,
                    dockerfile=build.dockerfile,
                    tag=build.tag,
                    buildargs=dict(build.build_args),
                    target=build.target,
                    platform=PLATFORM.get(architecture),
                    rm=True,
                    pull=False,
                )
            except (docker.errors.BuildError, docker.errors.APIError, TypeError) as exc:
                raise BackendError(f"cannot build {build.tag}: {first_line(exc)}") from None
            return build.tag

    def volume_with(self, folder: Path, key: str, helper_image: str) -> str:
        """A volume holding a copy of `folder` (remote engines cannot bind-mount this machine's
        folders): made once per content key, through a created, never started, container."""
        cache_key = f"{folder}\0{key}"
        with self._lock:
            if cache_key in self._volumes:
                return self._volumes[cache_key]
        name = f"samrun-{self.app}-{hashlib.sha256(cache_key.encode()).hexdigest()[:16]}"
        labels = self.labels()
        self.client.volumes.create(name=name, labels=labels)
        helper = self.client.containers.create(
            helper_image,
            command=["true"],
            volumes={name: {"bind": "/copy", "mode": "rw"}},
            labels=labels,
        )
        try:
            helper.put_archive("/copy", folder_tar(folder))
        finally:
            remove_container(helper)
        with self._lock:
            self._volumes[cache_key] = name
        return name

    def close(self) -> None:
        self.remove_leftovers(own=True)
        self.client.close()


def folder_tar(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for child in sorted(folder.iterdir()):
            archive.add(child, arcname=child.name)
    return buffer.getvalue()


def remove_container(container: Any) -> None:
    try:
        container.remove(force=True, v=True)
    except Exception as exc:  # already gone, or being removed by the engine
        logger.debug("container %s: %s", getattr(container, "id", "?")[:12], first_line(exc))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
