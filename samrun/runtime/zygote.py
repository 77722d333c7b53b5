"""Python cold starts forked from a zygote: an interpreter with the runtime client imported.

A fresh interpreter costs each cold start its start and the runtime client's imports (~21 ms of
~23, bench/RESULTS.md). With SAMRUN_ZYGOTE=1 the process backend keeps one zygote per Python
interpreter (runtime/bootstraps/python/zygote.py) and asks it to fork each instance; the child
isolates itself as runtime/isolation.py does and becomes what exec would have made it.

samrun still sees everything it sees of a spawned runtime: the child's pid (its process group,
its cgroups, /proc for memory), its output pipe, and its exit code, which the zygote (its parent)
reports when it reaps it. An instance the zygote could not make exactly as a fresh interpreter
would be is spawned as before (`spawn` returns None): another interpreter or bootstrap, Python
or loader variables read only at interpreter start (PYTHONHASHSEED, LC_*, LD_PRELOAD...), a
shared library beside the code that LD_LIBRARY_PATH would load, or a module on its PYTHONPATH
named like one the zygote has imported (the function would get the zygote's); and every
instance where samrun has no cgroups (only that path is tested).

What still differs from a fresh interpreter: the hash seed (PYTHONHASHSEED unset: one random
seed per zygote, so per samrun and interpreter, not per instance), and a traceback of the
runtime client itself ending in zygote.py's `<module>` frame instead of bootstrap.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from samrun.runtime.runtimes import BOOTSTRAPS
from samrun.runtime.sandbox import LaunchSpec

logger = logging.getLogger(__name__)

SWITCH = "SAMRUN_ZYGOTE"  # "1": Python cold starts fork from a zygote
PYTHON_BOOTSTRAP = str(BOOTSTRAPS / "python" / "bootstrap.py")
ZYGOTE = str(BOOTSTRAPS / "python" / "zygote.py")
# read at interpreter start (stdio's encoding, sys.flags): the zygote's, and so the instance's
FIXED = {"LANG": "en_US.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
READ_LATER = {"PYTHONPATH", "PYTHONUNBUFFERED", *FIXED}  # the child sets these, or -u does
ROOM = 64 * 1024  # Lambda allows 4 KB of variables; samrun's own add ~2 KB
START_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 10.0


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(SWITCH, "") == "1"


class ForkedProcess:
    """A child of the zygote, seen as asyncio's Process is: pid, returncode, wait()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self.started: asyncio.Future[None] = loop.create_future()  # isolated, about to run

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def exited(self, code: int) -> None:
        if not self.started.done():
            self.started.set_result(None)
        if not self._exited.done():
            self.returncode = code
            self._exited.set_result(code)


class ZygoteGone(Exception):
    """The zygote died or did not answer: start the instance the usual way."""


class Zygote:
    """One pre-started interpreter and the children it forked."""

    def __init__(self, interpreter: str) -> None:
        self.interpreter = interpreter
        self.preloaded: frozenset[str] = frozenset()
        self.environment_room = 0  # bytes of its environment block (its children reuse it)
        self._socket: socket.socket | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._children: dict[int, ForkedProcess] = {}

    @property
    def alive(self) -> bool:
        return self._socket is not None

    async def start(self, path: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            await self._spawn(theirs, path)
        except BaseException:
            ours.close()
            await self._kill()
            raise
        ours.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                ready = json.loads(await loop.sock_recv(ours, 1 << 20))
        except BaseException as exc:
            ours.close()
            await self._kill()
            if isinstance(exc, (TimeoutError, ValueError, OSError)):
                raise ZygoteGone(f"the zygote of {self.interpreter} did not start: {exc}") from None
            raise
        self.preloaded = frozenset(ready["modules"])
        self.environment_room = int(ready["environment_room"])
        self._socket = ours
        loop.add_reader(ours, self._on_messages)

    async def _spawn(self, theirs: socket.socket, path: str) -> None:
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.interpreter,
                "-u",
                "-S",
                ZYGOTE,
                str(theirs.fileno()),
                str(os.getpid()),
                pass_fds=(theirs.fileno(),),
                # ROOM: its environment block, which each child overwrites with its own
                env={**FIXED, "PATH": path, "SAMRUN_ZYGOTE_ROOM": "." * ROOM},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            theirs.close()

    def serves(self, spec: LaunchSpec) -> bool:
        """Whether a fork gives this instance exactly what a fresh interpreter would."""
        if spec.argv != (self.interpreter, "-u", "-S", PYTHON_BOOTSTRAP):
            return False
        block = sum(len(os.fsencode(f"{k}={v}")) + 1 for k, v in spec.env.items())
        if block > self.environment_room:
            return False
        return faithful_environment(spec.env) and not shadows(
            spec.env.get("PYTHONPATH", ""), self.preloaded
        )

    async def spawn(
        self,
        spec: LaunchSpec,
        *,
        cgroups: Sequence[Path],
        tmpfs: bool,
        uid: int | None,
        output: int,
        pass_fds: Sequence[int] = (),
    ) -> ForkedProcess:
        """Fork an instance; `output` becomes its stdout and stderr, `pass_fds` stay open in it
        at the same numbers."""
        if self._socket is None:
            raise ZygoteGone("the zygote is gone")
        number = next(self._ids)
        request = {
            "id": number,
            "env": dict(spec.env),
            "cwd": str(spec.code_dir),
            "tmp_dir": str(spec.tmp_dir),
            "ephemeral_storage_mb": spec.ephemeral_storage_mb,
            "cgroups": [str(folder) for folder in cgroups],
            "tmpfs": tmpfs,
            "uid": uid,
            "pass_fds": list(pass_fds),
            "argv": list(spec.argv),
        }
        reply: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[number] = reply
        try:
            socket.send_fds(self._socket, [json.dumps(request).encode()], [output, *pass_fds])
            async with asyncio.timeout(REPLY_TIMEOUT_S):
                answer = await reply
        except (OSError, TimeoutError) as exc:
            raise ZygoteGone(f"the zygote did not fork: {exc}") from None
        finally:
            self._pending.pop(number, None)
        if "pid" not in answer:
            raise ZygoteGone(f"the zygote could not fork: {answer.get('error')}")
        child = self._children.setdefault(answer["pid"], ForkedProcess(answer["pid"]))
        await child.started  # as a spawn returns once exec succeeded (or the child is gone)
        return child

    def _on_messages(self) -> None:
        while self._socket is not None:
            try:
                message = self._socket.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if not message:
                self._gone()
                return
            answer = json.loads(message)
            if "started" in answer:
                started = self._children.get(answer["started"])
                if started is not None and not started.started.done():
                    started.started.set_result(None)
            elif "exit" in answer:
                child = self._children.pop(answer["exit"], None)
                if child is not None:
                    child.exited(answer["code"])
            elif (reply := self._pending.get(answer.get("id", 0))) and not reply.done():
                if "pid" in answer:  # registered now: its exit may be in this same read
                    self._children[answer["pid"]] = ForkedProcess(answer["pid"])
                reply.set_result(answer)

    def _gone(self) -> None:
        """The zygote died: its children die with it (PDEATHSIG), reported as killed."""
        if self._socket is None:
            return
        asyncio.get_running_loop().remove_reader(self._socket)
        self._socket.close()
        self._socket = None
        for child in self._children.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, 9)
            child.exited(-9)
        self._children.clear()
        for reply in self._pending.values():
            if not reply.done():
                reply.set_exception(ZygoteGone("the zygote died"))
        logger.debug("the zygote of %s is gone", self.interpreter)

    async def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def stop(self) -> None:
        self._gone()
        await self._kill()


class Zygotes:
    """The process backend's zygotes: one per interpreter, started at its first cold start."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._zygotes: dict[str, Zygote] = {}
        self._broken: set[str] = set()
        self._starting: dict[str, asyncio.Task[None]] = {}

    async def spawn(
        self,
        spec: LaunchSpec,
        *,
        cgroups: Sequence[Path],
        tmpfs: bool,
        uid: int | None,
        output: int,
        pass_fds: Sequence[int] = (),
    ) -> ForkedProcess | None:
        """The instance forked from its interpreter's zygote, or None: spawn it as before."""
        if len(spec.argv) != 4 or spec.argv[1:] != ("-u", "-S", PYTHON_BOOTSTRAP):
            return None
        if not cgroups:  # without them, orphans are found by /proc/PID/environ: the child
            return None  # rewrites it, but only the cgroup path is tested, so spawned as before
        zygote = await self._zygote(spec.argv[0])
        if zygote is None or not zygote.serves(spec):
            return None
        try:
            return await zygote.spawn(
                spec, cgroups=cgroups, tmpfs=tmpfs, uid=uid, output=output, pass_fds=pass_fds
            )
        except ZygoteGone as exc:
            logger.debug("%s: started without the zygote: %s", spec.name, exc)
            return None

    async def _zygote(self, interpreter: str) -> Zygote | None:
        """Its zygote, started by the first cold start that needs it (concurrent ones wait for
        the same start); None when it cannot start."""
        zygote = self._zygotes.get(interpreter)
        if zygote is not None and zygote.alive:
            return zygote
        if interpreter in self._broken:
            return None
        if interpreter not in self._starting:
            self._starting[interpreter] = asyncio.create_task(self._start(interpreter))
        await asyncio.shield(self._starting[interpreter])
        return self._zygotes.get(interpreter)

    async def _start(self, interpreter: str) -> None:
        zygote = Zygote(interpreter)
        try:
            await zygote.start(self._path)
        except (ZygoteGone, OSError) as exc:
            logger.warning("%s; its functions start without it", exc)
            self._broken.add(interpreter)
        else:
            self._zygotes[interpreter] = zygote
        finally:
            self._starting.pop(interpreter, None)

    async def close(self) -> None:
        for task in list(self._starting.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for zygote in self._zygotes.values():
            await zygote.stop()
        self._zygotes.clear()


def faithful_environment(env: Mapping[str, str]) -> bool:
    """No variable that only an interpreter's (or the loader's) start would have read."""
    for key in env:
        if key.startswith("PYTHON") and key not in READ_LATER:
            return False
        if key.startswith(("LC_", "LD_", "MALLOC_", "GLIBC_")) and key != "LD_LIBRARY_PATH":
            return False
    if any(env.get(key) != value for key, value in FIXED.items()):
        return False
    return not any(
        has_shared_library(Path(folder))
        for folder in env.get("LD_LIBRARY_PATH", "").split(os.pathsep)
        if folder
    )


def has_shared_library(folder: Path) -> bool:
    try:
        return any(".so" in entry.name for entry in os.scandir(folder))
    except OSError:
        return False


def shadows(pythonpath: str, preloaded: frozenset[str]) -> bool:
    """Whether a folder on PYTHONPATH holds a module or package named like a preloaded one."""
    for folder in pythonpath.split(os.pathsep):
        if not folder:
            continue
        try:
            names = {entry.name.split(".")[0] for entry in os.scandir(folder)}
        except OSError:
            continue
        if names & preloaded:
            return True
    return False
