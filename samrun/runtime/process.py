"""The process backend: each instance is a child process group on this machine.

The child sets itself up (runtime/isolation.py: rlimits, cgroups, a private /tmp); here, memory:
resident memory is sampled every `MEMORY_POLL_S` and the group is killed past MemorySize, as
Lambda kills it, and output is read from one pipe as it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

from samrun.errors import BackendError
from samrun.runtime.cgroups import Cgroups, kill_all
from samrun.runtime.descendants import kill_marked, kill_tree
from samrun.runtime.freeze import GroupFreezer
from samrun.runtime.handover import Started
from samrun.runtime.isolation import can_mount_tmpfs, child_setup
from samrun.runtime.sandbox import LaunchSpec, OutputSink
from samrun.runtime.spares import Spares, enabled
from samrun.runtime.unprivileged import SandboxUsers

logger = logging.getLogger(__name__)

MEMORY_POLL_S = 0.05
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
MAX_LINE = 256 * 1024  # a longer line is cut, as CloudWatch cuts events


class ProcessSandbox:
    """A runtime process group, its merged stdout/stderr pipe, and its memory watchdog."""

    def __init__(
        self,
        started: Started,
        spec: LaunchSpec,
        on_output: OutputSink,
        limit_cpu: Callable[[], None],
    ) -> None:
        process = self._process = started.process
        self.started_from = started.origin  # "spare": a spare became it (runtime/spares.py)
        self.started_at = started.began
        self.runtime_lane = started.lane  # a Node.js spare's own lane: the instance's
        self.extensions_boot = None  # (runtime/extensions.py's `Boot` serves its extensions)
        self._tmp_dir = started.tmp_dir  # a Node.js spare's own TMPDIR: removed at its end
        self._cgroup_folders = started.cgroups
        api = spec.env.get("AWS_LAMBDA_RUNTIME_API", "")
        self._marker = f"AWS_LAMBDA_RUNTIME_API={api}".encode()
        self._limit_cpu = limit_cpu
        self._pipe = pipe = started.output
        self._partial = b""
        self._on_output = on_output
        self._memory_limit_pages = spec.memory_mb / PAGE_MB
        self._peak_pages = 0
        self._status = open_status(process.pid)  # read again at each REPORT, never reopened
        self.out_of_memory = False  # the Sandbox protocol's, read by the instance
        self.exit_reason: str | None = None
        loop = asyncio.get_running_loop()
        loop.add_reader(pipe, self._read_available)
        self._watchdog = loop.create_task(self._watch_memory())
        self._waiter = loop.create_task(self._wait())
        self._freezer = GroupFreezer(process.pid) if leads_group(process.pid) else None

    def peak_memory_mb(self) -> int:
        """The kernel's exact high-water mark (VmHWM) while it runs; the last sample after."""
        peak_mb = self._peak_pages * PAGE_MB
        try:  # one pread and a find (an open, a read and a close cost ~5 % of samrun's CPU)
            text = os.pread(self._status, 8192, 0)
            start = text.find(b"VmHWM:")
            if start >= 0:
                peak_mb = max(peak_mb, int(text[start + 6 : text.index(b"kB", start)]) / 1024)
        except (OSError, ValueError, IndexError):
            pass
        return max(1, round(peak_mb))

    def init_done(self) -> None:
        self._limit_cpu()

    def drain_output(self) -> None:
        """Deliver all the pipe holds now, a last line without its newline included (Lambda
        logs what a function wrote before it replied, newline or not)."""
        self._read_available()
        if self._partial:
            self._on_output(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def freeze(self) -> None:
        """Stop its process group (runtime/freeze.py), while samrun has not reaped it (its
        group id cannot have been reused)."""
        if self._freezer is not None and self._process.returncode is None:
            self._freezer.freeze()

    def thaw(self) -> None:
        if self._freezer is not None and self._process.returncode is None:
            self._freezer.thaw()

    def _read_available(self) -> None:
        """Read all the pipe holds now; deliver each complete line."""
        while self._pipe >= 0:
            try:
                chunk = os.read(self._pipe, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._close_pipe()
                return
            self._emit(chunk)

    async def wait(self) -> None:
        await asyncio.shield(self._waiter)

    async def stop(self) -> None:
        """Kill the runtime and everything it started, daemons that left its group included."""
        if self._process.returncode is None:
            self._kill_everything()
        await self.wait()

    def _kill_everything(self) -> None:
        if self._cgroup_folders:
            kill_all(self._cgroup_folders)
        elif self._process.returncode is None:
            kill_tree(self._process.pid)
        else:  # the runtime is gone: its orphans went to init
            kill_marked(self._marker)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)

    def _emit(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            self._on_output(line[:MAX_LINE].decode("utf-8", "replace"))

    def _close_pipe(self) -> None:
        if self._pipe < 0:
            return
        asyncio.get_running_loop().remove_reader(self._pipe)
        os.close(self._pipe)
        self._pipe = -1
        if self._partial:
            self._on_output(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _resident_pages(self) -> int:
        try:
            with open(f"/proc/{self._process.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1])
        except (OSError, IndexError, ValueError):
            return 0

    async def _watch_memory(self) -> None:
        while self._process.returncode is None:
            pages = self._resident_pages()
            self._peak_pages = max(self._peak_pages, pages)
            if pages > self._memory_limit_pages:
                self.out_of_memory = True
                self._kill_everything()
                return
            await asyncio.sleep(MEMORY_POLL_S)

    async def _wait(self) -> None:
        code = await self._process.wait()
        if self._status >= 0:
            os.close(self._status)
            self._status = -1
        self._kill_everything()  # leave no grandchild behind, nor a daemon in its cgroups
        self._watchdog.cancel()
        self.drain_output()
        self._close_pipe()
        for _ in range(50):  # a killed group takes a moment to leave its cgroups
            Cgroups.remove(self._cgroup_folders)
            if not any(folder.exists() for folder in self._cgroup_folders):
                break
            await asyncio.sleep(0.01)
        if self._tmp_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._tmp_dir, True)
        self.exit_reason = f"signal: {signal_name(-code)}" if code < 0 else f"exit status {code}"


def leads_group(pid: int) -> bool:
    """Whether `pid` leads its own process group (a runtime is started in a session of its
    own): only then is stopping the group stopping the instance and nothing else."""
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def open_status(pid: int) -> int:
    """A descriptor of /proc/PID/status, or -1."""
    try:
        return os.open(f"/proc/{pid}/status", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


def signal_name(number: int) -> str:
    """Go's spelling, as Lambda reports it: `signal: killed`, `signal: segmentation fault`."""
    names = {
        signal.SIGKILL: "killed",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGTERM: "terminated",
        signal.SIGABRT: "aborted",
        signal.SIGXFSZ: "file size limit exceeded",
    }
    return names.get(signal.Signals(number), signal.Signals(number).name.lower())


class ProcessBackend:
    provides_runtime = False

    def __init__(self, spare_tmp: Path | None = None) -> None:
        """`spare_tmp`: where Node.js spares keep their TMPDIR (none without it)."""
        self.cgroups = Cgroups()
        self.tmpfs = can_mount_tmpfs()  # a sized tmpfs as each instance's TMPDIR
        self.users = SandboxUsers()  # as root: each instance its own unprivileged uid
        # instances from runtimes started ahead (spares.py); SAMRUN_SPARES=0: not
        self.spares = (
            Spares(
                path=os.environ.get("PATH", ""),
                cgroups=self.cgroups,
                users=self.users,
                tmpfs=self.tmpfs,
                tmp_root=spare_tmp,
            )
            if enabled() and self.cgroups.available  # (only the cgroup path is tested)
            else None
        )

    def prepare(self, argv: tuple[str, ...]) -> None:
        """Have a spare of the runtime client `argv` ready for the first cold start of it."""
        if self.spares is not None:
            self.spares.prepare(argv)

    async def start(self, spec: LaunchSpec, on_output: OutputSink) -> ProcessSandbox:
        try:
            started = await self.spares.take(spec) if self.spares is not None else None
            if started is None:
                started = await self._spawn(spec)
        except (OSError, subprocess.SubprocessError) as exc:
            what = getattr(exc, "filename", None) or spec.argv[0]
            reason = getattr(exc, "strerror", None) or exc
            raise BackendError(f"cannot start {spec.name}: {what}: {reason}") from None
        limit_cpu = partial(self.cgroups.limit_cpu, started.cgroups, spec.memory_mb)
        return ProcessSandbox(started, spec, on_output, limit_cpu)

    async def _spawn(self, spec: LaunchSpec) -> Started:
        """A fresh runtime process: fork, its setup (runtime/isolation.py), exec."""
        uid = self.users.next_uid()
        if uid is not None:  # its TMPDIR is its own (a tmpfs over it is mode 1777 anyway)
            os.chown(spec.tmp_dir, uid, uid)
        folders = self.cgroups.create(spec.name.replace(":", "-"))
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        setup = child_setup(
            spec.tmp_dir, spec.ephemeral_storage_mb, folders, self.tmpfs, uid, spec.netns
        )
        try:
            process = await asyncio.create_subprocess_exec(
                *spec.argv,
                env=dict(spec.env),
                cwd=spec.code_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                start_new_session=True,
                close_fds=True,  # nothing of samrun's (sockets, pipes, the queue) but stdio
                pass_fds=spec.pass_fds,  # and the runtime's end of its lane, when it has one
                preexec_fn=setup,
            )
        except BaseException:
            os.close(read_end)
            Cgroups.remove(folders)
            raise
        finally:
            os.close(write_end)
        return Started(process=process, output=read_end, cgroups=folders, origin="interpreter")

    async def close(self) -> None:
        if self.spares is not None:
            await self.spares.close()
        self.cgroups.close()
