"""Python cold starts from a spare interpreter: one started ahead, with the runtime client
imported, which becomes the next instance of any Python function.

A fresh interpreter costs each cold start its start and the runtime client's imports (~21 ms of
~23, bench/RESULTS.md). The process backend keeps two spares per Python interpreter
(runtime/bootstraps/python/spare.py), each started in a session and cgroups of its own as a
runtime is (joining cgroups costs a cold start ~7 ms on cgroup v1: an RCU grace period); a cold
start hands one the instance (its environment, folders, limits and descriptors) and starts
another in the background. The spare isolates itself as runtime/isolation.py does and becomes
what exec would have made it. samrun sees exactly a spawned runtime: its own child, with its pid,
process group, cgroups, output pipe and exit code, and a hash seed of its own.

An instance a spare could not make exactly as a fresh interpreter would be is spawned as before
(`take` returns None): another interpreter or bootstrap, Python or loader variables read only at
interpreter start (PYTHONHASHSEED, LC_*, LD_PRELOAD...), a shared library beside the code that
LD_LIBRARY_PATH would load, or a module on its PYTHONPATH named like one the spare has imported
(the function would get the spare's); and a cold start that finds no spare ready or starting
(in a burst the next spares are an interpreter start away, so the others start their own).
There are no spares where samrun has no cgroups (only that path is tested), nor with
SAMRUN_SPARES=0.
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

from samrun.runtime.cgroups import Cgroups
from samrun.runtime.runtimes import BOOTSTRAPS
from samrun.runtime.sandbox import LaunchSpec

logger = logging.getLogger(__name__)

SWITCH = "SAMRUN_SPARES"  # "0": every Python instance starts a fresh interpreter
PYTHON_BOOTSTRAP = str(BOOTSTRAPS / "python" / "bootstrap.py")
SPARE = str(BOOTSTRAPS / "python" / "spare.py")
# read at interpreter start (stdio's encoding, sys.flags): the spare's, and so the instance's
FIXED = {"LANG": "en_US.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
READ_LATER = {"PYTHONPATH", "PYTHONUNBUFFERED", *FIXED}  # the spare sets these, or -u does
ROOM = 64 * 1024  # Lambda allows 4 KB of variables; samrun's own add ~2 KB
SPARES = 2  # per interpreter: back-to-back cold starts find one ready while the next starts
START_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 10.0


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    return env.get(SWITCH, "") != "0"


class SpareGone(Exception):
    """The spare died or did not answer: start the instance the usual way."""


class Spare:
    """One pre-started interpreter, waiting for the instance it will become."""

    def __init__(self, interpreter: str, cgroups: list[Path]) -> None:
        self.interpreter = interpreter
        self.cgroups = cgroups  # its own, joined at its start: the instance's
        self.preloaded: frozenset[str] = frozenset()
        self.environment_room = 0  # bytes of its environment block (the instance reuses it)
        self.process: asyncio.subprocess.Process | None = None
        self._socket: socket.socket | None = None

    async def start(self, path: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = await asyncio.create_subprocess_exec(
                self.interpreter,
                "-u",
                "-S",
                SPARE,
                str(theirs.fileno()),
                str(os.getpid()),
                *map(str, self.cgroups),
                pass_fds=(theirs.fileno(),),
                # ROOM: its environment block, which the instance overwrites with its own
                env={**FIXED, "PATH": path, "SAMRUN_SPARE_ROOM": "." * ROOM},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # as a spawned runtime's: its own process group
            )
        except OSError as exc:
            ours.close()
            Cgroups.remove(self.cgroups)
            raise SpareGone(f"no spare {self.interpreter}: {exc}") from None
        finally:
            theirs.close()
        ours.setblocking(False)
        self._socket = ours
        try:
            ready = json.loads(await self._receive(START_TIMEOUT_S))
            self.preloaded = frozenset(ready["modules"])
            self.environment_room = int(ready["environment_room"])
        except BaseException as exc:
            await self.discard()
            if isinstance(exc, (SpareGone, ValueError, KeyError)):
                raise SpareGone(f"the spare {self.interpreter} did not start: {exc}") from None
            raise

    def serves(self, spec: LaunchSpec) -> bool:
        """Whether this spare gives the instance exactly what a fresh interpreter would."""
        if spec.argv != (self.interpreter, "-u", "-S", PYTHON_BOOTSTRAP):
            return False
        block = sum(len(os.fsencode(f"{k}={v}")) + 1 for k, v in spec.env.items())
        if block > self.environment_room:
            return False
        return faithful_environment(spec.env) and not shadows(
            spec.env.get("PYTHONPATH", ""), self.preloaded
        )

    async def become(
        self,
        spec: LaunchSpec,
        *,
        tmpfs: bool,
        uid: int | None,
        output: int,
        pass_fds: Sequence[int] = (),
    ) -> asyncio.subprocess.Process:
        """Hand it the instance; `output` becomes its stdout and stderr, `pass_fds` stay open
        in it at the same numbers. Returns once it is set up, as a spawn returns once exec
        succeeded, so REPORT's Init Duration counts from the same point."""
        if self._socket is None or self.process is None:
            raise SpareGone("the spare is gone")
        request = {
            "env": dict(spec.env),
            "cwd": str(spec.code_dir),
            "tmp_dir": str(spec.tmp_dir),
            "ephemeral_storage_mb": spec.ephemeral_storage_mb,
            "tmpfs": tmpfs,
            "uid": uid,
            "pass_fds": list(pass_fds),
            "argv": list(spec.argv),
        }
        try:
            socket.send_fds(self._socket, [json.dumps(request).encode()], [output, *pass_fds])
            json.loads(await self._receive(REPLY_TIMEOUT_S))
        except BaseException as exc:  # cancelled too: half an instance is no instance
            await self.discard()
            if isinstance(exc, (OSError, SpareGone, ValueError)):
                raise SpareGone(f"the spare did not become {spec.name}: {exc}") from None
            raise
        process, self.process = self.process, None
        self._close()
        return process

    async def _receive(self, timeout_s: float) -> bytes:
        assert self._socket is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                message = await loop.sock_recv(self._socket, 1 << 20)
        except TimeoutError:
            raise SpareGone(f"no answer within {timeout_s:.0f} s") from None
        if not message:
            raise SpareGone("it exited")
        return message

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def discard(self) -> None:
        """Close its socket (it exits), make sure it is gone, and remove its cgroups."""
        self._close()
        process, self.process = self.process, None
        if process is not None:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            await process.wait()
        for _ in range(50):  # a killed process takes a moment to leave its cgroups
            Cgroups.remove(self.cgroups)
            if not any(folder.exists() for folder in self.cgroups):
                return
            await asyncio.sleep(0.01)


class Spares:
    """The process backend's spares: SPARES per Python interpreter, replaced as each is taken."""

    def __init__(self, path: str, cgroups: Cgroups) -> None:
        self._path = path
        self._cgroups = cgroups
        self._numbers = itertools.count(1)
        self._next: dict[str, list[asyncio.Task[Spare | None]]] = {}  # ready, or starting
        self._broken: set[str] = set()
        self._closed = False

    def prepare(self, interpreter: str) -> None:
        """Start spares for `interpreter` until SPARES are ready or starting; from now on, each
        one taken is replaced."""
        if interpreter in self._broken or self._closed:
            return
        upcoming = self._next.setdefault(interpreter, [])
        while len(upcoming) < SPARES:
            upcoming.append(asyncio.create_task(self._start(interpreter)))

    async def take(
        self,
        spec: LaunchSpec,
        *,
        tmpfs: bool,
        uid: int | None,
        output: int,
        pass_fds: Sequence[int] = (),
    ) -> tuple[asyncio.subprocess.Process, list[Path]] | None:
        """The instance, started from one of its interpreter's spares (a ready one, else the
        one that started first), and its cgroups; None: spawn it as before."""
        if len(spec.argv) != 4 or spec.argv[1:] != ("-u", "-S", PYTHON_BOOTSTRAP):
            return None
        interpreter = spec.argv[0]
        upcoming = self._next.get(interpreter)
        if not upcoming:  # none left (a burst); none ever asked for (a one-shot `invoke`)
            if upcoming is not None:
                self.prepare(interpreter)  # for the next cold starts
            return None
        chosen = next((task for task in upcoming if task.done()), upcoming[0])
        spare = await asyncio.shield(chosen)  # no later than a fresh start begun now
        if spare is None or not spare.serves(spec) or chosen not in upcoming:
            return None  # it failed, it would not be faithful, or another cold start took it
        upcoming.remove(chosen)
        self.prepare(interpreter)
        try:
            process = await spare.become(
                spec, tmpfs=tmpfs, uid=uid, output=output, pass_fds=pass_fds
            )
        except SpareGone as exc:
            logger.debug("%s: started without a spare: %s", spec.name, exc)
            return None
        return process, spare.cgroups

    async def _start(self, interpreter: str) -> Spare | None:
        spare = None
        cgroups = self._cgroups.create(f"spare-{next(self._numbers)}")
        if cgroups:  # without them, orphans are found by /proc/PID/environ: the spare
            spare = Spare(interpreter, cgroups)  # rewrites it, but only the cgroup path is
            try:  # tested: spawned as before
                await spare.start(self._path)
            except (SpareGone, OSError) as exc:
                logger.warning("%s; its functions start fresh interpreters", exc)
                self._broken.add(interpreter)
                spare = None
        if spare is None:  # forgotten: a later prepare() may try again (unless broken)
            with contextlib.suppress(ValueError):
                self._next.get(interpreter, []).remove(asyncio.current_task())  # type: ignore[arg-type]
        return spare

    async def close(self) -> None:
        self._closed = True
        upcoming = [task for tasks in self._next.values() for task in tasks]
        self._next = {}
        for task in upcoming:
            task.cancel()
        for task in upcoming:
            with contextlib.suppress(asyncio.CancelledError):
                spare = await task
                if spare is not None:
                    await spare.discard()


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
