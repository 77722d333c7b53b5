"""A spare Node.js runtime: a node started ahead (runtime/bootstraps/nodejs/spare.js), which
becomes the next instance of a Node.js function. A fresh node costs each cold start ~50 ms of
its own start on a 2-core machine (`node -e 0`, bench/RESULTS.md), more than Lambda's whole
Node.js cold start.

A Python spare isolates itself once it knows its instance (runtime/python_spare.py); node cannot
(no unshare, mount, capset or descriptors received over a socket). So a Node.js spare is started
as its instance will be, before the instance is known: runtime/isolation.py's setup (session,
cgroups, rlimits, a tmpfs TMPDIR of its own, an unprivileged uid of its own; applied by
runtime/isolated_exec.py, off samrun's event loop) with an output pipe and a lane
(runtime/lane.py) of its own, all of which the instance takes over. What it learns at
the end is what node can apply to itself: the environment (replaced whole; TZ and NODE_PATH
re-read), the working folder and its argv; then it runs the runtime client.

It serves only what it can make exactly as a fresh node would: not another node or bootstrap,
not variables node or the loader read only at start (NODE_OPTIONS and the other NODE_*, UV_*,
OPENSSL_*, LC_*, LD_PRELOAD..., a LANG of another), not a shared library that LD_LIBRARY_PATH
would load, not an EphemeralStorage of another size than its tmpfs, not a TMPDIR of the
function's own choosing, and not an instance without a lane. What still tells it from a fresh
node: /proc/PID/cmdline (what ps shows) names spare.js, and process.uptime() counts from the
spare's start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Mapping
from pathlib import Path

from samrun.runtime.handover import (
    SpareGone,
    Started,
    end_spare,
    loads_a_library,
    or_discard,
)
from samrun.runtime.isolated_exec import command as isolated
from samrun.runtime.lane import LANE_ENV
from samrun.runtime.runtimes import BOOTSTRAPS, node_argv
from samrun.runtime.sandbox import LaunchSpec
from samrun.runtime.unprivileged import SandboxUsers

SPARE = str(BOOTSTRAPS / "nodejs" / "spare.js")
LANG = "en_US.UTF-8"  # ICU's default locale is read at node's start: the spare's is Lambda's
STORAGE_MB = 512  # Lambda's default EphemeralStorage: the size of the spare's tmpfs
READ_AT_START = ("NODE_", "UV_", "OPENSSL_", "LC_", "LD_", "MALLOC_", "GLIBC_")
READ_LATER = {"NODE_PATH", "LD_LIBRARY_PATH"}  # re-read by the spare; checked for libraries
START_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 10.0


class NodeSpare:
    """One node started ahead as its instance will be, waiting to learn which instance."""

    def __init__(
        self,
        node: str,
        cgroups: list[Path],
        *,
        path: str,
        tmp_dir: Path,
        tmpfs: bool,
        users: SandboxUsers,
    ) -> None:
        self.node = node
        self.cgroups = cgroups  # its own, joined before exec: the instance's
        self.tmp_dir = tmp_dir  # its own TMPDIR, the instance's
        self.process: asyncio.subprocess.Process | None = None
        self._path = path
        self._tmpfs = tmpfs
        self._uid = users.next_uid()
        self._control: socket.socket | None = None
        self._lane: socket.socket | None = None  # samrun's end
        self._lane_number = -1  # the runtime's end, its number in the spare
        self._output = -1  # the read end of its output pipe
        self._received = b""

    async def start(self) -> None:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        if self._uid is not None:
            os.chown(self.tmp_dir, self._uid, self._uid)
        control, control_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        lane, lane_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        self._control, self._lane, self._output = control, lane, read_end
        self._lane_number = lane_theirs.fileno()
        argv = isolated(
            [self.node, SPARE, str(control_theirs.fileno())],
            env={"PATH": self._path, "LANG": LANG},
            tmp_dir=self.tmp_dir,
            storage_mb=STORAGE_MB,
            cgroups=self.cgroups,
            tmpfs=self._tmpfs,
            uid=self._uid,
        )
        try:
            async with or_discard(self, f"the spare {self.node} did not start"):
                self.process = await self._spawn(argv, write_end, control_theirs, lane_theirs)
                control.setblocking(False)
                ready = json.loads(await self._receive(START_TIMEOUT_S))
                if not isinstance(ready, dict) or "ready" not in ready:
                    raise SpareGone(f"it said {ready!r}")
        finally:
            os.close(write_end)
            control_theirs.close()
            lane_theirs.close()

    async def _spawn(
        self, argv: list[str], output: int, *passed: socket.socket
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *argv,
            env={},  # (isolated_exec gives node its own)
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
            close_fds=True,
            pass_fds=[end.fileno() for end in passed],
        )

    def serves(self, spec: LaunchSpec) -> bool:
        env = spec.env
        return (
            spec.argv == node_argv(self.node)
            and spec.ephemeral_storage_mb == STORAGE_MB
            and env.get("TMPDIR") == str(spec.tmp_dir)
            and LANE_ENV in env
            and faithful_environment(env)
        )

    async def become(self, spec: LaunchSpec) -> Started:
        if self._control is None or self.process is None or self._lane is None:
            raise SpareGone("the spare is gone")
        env = {**spec.env, "TMPDIR": str(self.tmp_dir), LANE_ENV: str(self._lane_number)}
        request = {"env": env, "cwd": str(spec.code_dir), "bootstrap": spec.argv[1]}
        loop = asyncio.get_running_loop()
        async with or_discard(self, f"the spare did not become {spec.name}"):
            await loop.sock_sendall(self._control, json.dumps(request).encode() + b"\n")
            json.loads(await self._receive(REPLY_TIMEOUT_S))
        started = Started(
            began=time.monotonic(),
            process=self.process,
            output=self._output,
            cgroups=self.cgroups,
            origin="spare",
            lane=self._lane,
            tmp_dir=self.tmp_dir,
        )
        self.process, self._lane, self._output = None, None, -1
        self._close_control()
        return started

    async def _receive(self, timeout_s: float) -> bytes:
        """One line from the spare."""
        assert self._control is not None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                while b"\n" not in self._received:
                    chunk = await loop.sock_recv(self._control, 65536)
                    if not chunk:
                        raise SpareGone("it exited")
                    self._received += chunk
        except TimeoutError:
            raise SpareGone(f"no answer within {timeout_s:.0f} s") from None
        line, _, self._received = self._received.partition(b"\n")
        return line

    def _close_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    async def discard(self) -> None:
        """Close its socket (it exits), make sure it is gone; remove its cgroups and TMPDIR."""
        self._close_control()
        if self._lane is not None:
            self._lane.close()
            self._lane = None
        if self._output >= 0:
            os.close(self._output)
            self._output = -1
        await end_spare(self.process, self.cgroups)
        self.process = None
        with contextlib.suppress(OSError):
            await asyncio.to_thread(shutil.rmtree, self.tmp_dir, True)


def faithful_environment(env: Mapping[str, str]) -> bool:
    """No variable that only node's (or the loader's) start would have read."""
    if env.get("LANG", LANG) != LANG:
        return False
    if any(key.startswith(READ_AT_START) and key not in READ_LATER for key in env):
        return False
    return not loads_a_library(env)
