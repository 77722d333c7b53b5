"""A spare Python interpreter: started ahead with the runtime client imported
(runtime/bootstraps/python/spare.py), it becomes the next instance of any Python function whose
instance it can make exactly as a fresh interpreter would.

A fresh interpreter costs each cold start its start and the runtime client's imports (~21 ms of
~23, bench/RESULTS.md). The spare is started in a session and cgroups of its own, as a runtime
is (joining cgroups costs a cold start ~7 ms on cgroup v1: an RCU grace period); when it becomes
an instance it is handed the instance's environment, folders, limits and descriptors, isolates
itself as runtime/isolation.py does and becomes what exec would have made it. samrun sees
exactly a spawned runtime: its own child, with its pid, process group, cgroups, output pipe and
exit code, and a hash seed of its own.

It does not serve (the instance is spawned as before) another interpreter or bootstrap, Python
or loader variables read only at interpreter start (PYTHONHASHSEED, LC_*, LD_PRELOAD...), a
shared library beside the code that LD_LIBRARY_PATH would load, or a module on its PYTHONPATH
named like one the spare has imported (the function would get the spare's).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from samrun.runtime.cgroups import Cgroups
from samrun.runtime.handover import (
    SpareGone,
    Started,
    end_spare,
    loads_a_library,
    or_discard,
)
from samrun.runtime.runtimes import BOOTSTRAPS, python_argv
from samrun.runtime.sandbox import LaunchSpec
from samrun.runtime.unprivileged import SandboxUsers

SPARE = str(BOOTSTRAPS / "python" / "spare.py")
# read at interpreter start (stdio's encoding, sys.flags): the spare's, and so the instance's
FIXED = {"LANG": "en_US.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
READ_LATER = {"PYTHONPATH", "PYTHONUNBUFFERED", *FIXED}  # the spare sets these, or -u does
ROOM = 64 * 1024  # Lambda allows 4 KB of variables; samrun's own add ~2 KB
START_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 10.0


class PythonSpare:
    """One pre-started interpreter, waiting for the instance it will become."""

    def __init__(
        self,
        interpreter: str,
        cgroups: list[Path],
        *,
        path: str,
        tmpfs: bool,
        users: SandboxUsers,
    ) -> None:
        self.interpreter = interpreter
        self.cgroups = cgroups  # its own, joined at its start: the instance's
        self.preloaded: frozenset[str] = frozenset()
        self.environment_room = 0  # bytes of its environment block (the instance reuses it)
        self.process: asyncio.subprocess.Process | None = None
        self._path = path
        self._tmpfs = tmpfs
        self._users = users
        self._socket: socket.socket | None = None

    async def start(self) -> None:
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
                env={**FIXED, "PATH": self._path, "SAMRUN_SPARE_ROOM": "." * ROOM},
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
        async with or_discard(self, f"the spare {self.interpreter} did not start"):
            ready = json.loads(await self._receive(START_TIMEOUT_S))
            self.preloaded = frozenset(ready["modules"])
            self.environment_room = int(ready["environment_room"])

    def serves(self, spec: LaunchSpec) -> bool:
        if spec.argv != python_argv(self.interpreter):
            return False
        block = sum(len(os.fsencode(f"{k}={v}")) + 1 for k, v in spec.env.items())
        if block > self.environment_room:
            return False
        return faithful_environment(spec.env) and not shadows(
            spec.env.get("PYTHONPATH", ""), self.preloaded
        )

    async def become(self, spec: LaunchSpec) -> Started:
        """Hand it the instance: its output pipe becomes the spare's stdout and stderr, the
        spec's `pass_fds` stay open in it at the same numbers."""
        uid = self._users.next_uid()
        if uid is not None:  # its TMPDIR is its own (a tmpfs over it is mode 1777 anyway)
            os.chown(spec.tmp_dir, uid, uid)
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        try:
            process = await self._become(spec, uid, write_end)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return Started(process=process, output=read_end, cgroups=self.cgroups, origin="spare")

    async def _become(
        self, spec: LaunchSpec, uid: int | None, output: int
    ) -> asyncio.subprocess.Process:
        if self._socket is None or self.process is None:
            raise SpareGone("the spare is gone")
        request = {
            "env": dict(spec.env),
            "cwd": str(spec.code_dir),
            "tmp_dir": str(spec.tmp_dir),
            "ephemeral_storage_mb": spec.ephemeral_storage_mb,
            "tmpfs": self._tmpfs,
            "uid": uid,
            "netns": spec.netns,  # a VPC function's network namespace (runtime/vpc.py)
            "pass_fds": list(spec.pass_fds),
            "argv": list(spec.argv),
        }
        async with or_discard(self, f"the spare did not become {spec.name}"):
            socket.send_fds(self._socket, [json.dumps(request).encode()], [output, *spec.pass_fds])
            json.loads(await self._receive(REPLY_TIMEOUT_S))
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
        await end_spare(self.process, self.cgroups)
        self.process = None


def faithful_environment(env: Mapping[str, str]) -> bool:
    """No variable that only an interpreter's (or the loader's) start would have read."""
    for key in env:
        if key.startswith("PYTHON") and key not in READ_LATER:
            return False
        if key.startswith(("LC_", "LD_", "MALLOC_", "GLIBC_")) and key != "LD_LIBRARY_PATH":
            return False
    if any(env.get(key) != value for key, value in FIXED.items()):
        return False
    return not loads_a_library(env)


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
