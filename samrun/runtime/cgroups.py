"""Per-instance cgroups, where the machine lets samrun make them.

Two of Lambda's limits need the kernel's help: a CPU share proportional to memory (1,769 MB is one
vCPU) and 1024 processes and threads, which RLIMIT_NPROC does not apply to root. samrun makes
one cgroup per instance under `samrun-<pid>` (cgroup v1 `cpu` and `pids` hierarchies, or the v2
unified one) and the child joins it before exec. Where cgroups are read-only or absent, nothing
is made and the README says what is not enforced.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(os.environ.get("SAMRUN_CGROUP_ROOT", "/sys/fs/cgroup"))  # a missing one: no cgroups
PERIOD_US = 100_000
MB_PER_VCPU = 1769
MAX_TASKS = 1024


def kill_members(folders: list[Path]) -> None:
    """Whatever a killed samrun's functions left running in their cgroups."""
    for folder in folders:
        with contextlib.suppress(OSError, ValueError):
            for pid in (folder / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)


def kill_all(folders: list[Path]) -> None:
    """Every process of an instance's cgroups, daemons included: `cgroup.kill` on v2; on v1
    its members, again until none is left (one may have forked meanwhile)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            (folder / "cgroup.kill").write_text("1")
            return
    for _ in range(50):
        members = set()
        for folder in folders:
            with contextlib.suppress(OSError):
                members.update((folder / "cgroup.procs").read_text().split())
        if not members:
            return
        for pid in members:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def cpu_quota_us(memory_mb: int) -> int:
    """Lambda's share: memory / 1769 MB of one CPU, per 100 ms period."""
    return max(1000, PERIOD_US * memory_mb // MB_PER_VCPU)


class Cgroups:
    """Makes, joins and removes the cgroups of instances; `available` says whether it can."""

    def __init__(self, root: Path = ROOT) -> None:
        name = f"samrun-{os.getpid()}"
        self.v2 = (root / "cgroup.controllers").exists()
        if self.v2:
            self.bases = {"cpu": root / name, "pids": root / name}
        else:
            self.bases = {kind: root / kind / name for kind in ("cpu", "pids")}
        self.available = self._prepare()

    def _prepare(self) -> bool:
        self._remove_stale()
        try:
            for base in set(self.bases.values()):
                base.mkdir(exist_ok=True)
            if self.v2:
                (self.bases["cpu"] / "cgroup.subtree_control").write_text("+cpu +pids")
        except OSError as exc:
            logger.debug("cgroups not available (%s): CPU share and task limit not enforced", exc)
            self.close()
            return False
        return True

    def create(self, instance: str) -> list[Path]:
        """The instance's cgroup folders with its task limit; [] where cgroups are unavailable.
        The CPU share comes with `limit_cpu`, once init is over: Lambda boosts the init phase."""
        if not self.available:
            return []
        folders = sorted({base / instance for base in self.bases.values()})
        try:
            for folder in folders:
                folder.mkdir(exist_ok=True)
            pids = folders[0] if self.v2 else self.bases["pids"] / instance
            (pids / "pids.max").write_text(str(MAX_TASKS))
        except OSError as exc:
            logger.warning("could not limit instance %s with cgroups: %s", instance, exc)
            self.remove(folders)
            return []
        return folders

    def limit_cpu(self, folders: list[Path], memory_mb: int) -> None:
        """Hold the instance to memory / 1769 MB of a CPU from now on."""
        quota = cpu_quota_us(memory_mb)
        cpu = next((f for f in folders if f.parent == self.bases["cpu"]), None)
        if cpu is None:
            return
        try:
            if self.v2:
                (cpu / "cpu.max").write_text(f"{quota} {PERIOD_US}")
            else:
                (cpu / "cpu.cfs_period_us").write_text(str(PERIOD_US))
                (cpu / "cpu.cfs_quota_us").write_text(str(quota))
        except OSError as exc:
            logger.warning("could not limit the CPU of %s: %s", cpu.name, exc)

    @staticmethod
    def join(folders: list[Path]) -> None:
        """Move the calling process into `folders` (run in the child, before exec)."""
        pid = str(os.getpid())
        for folder in folders:
            with open(folder / "cgroup.procs", "w") as procs:
                procs.write(pid)

    @staticmethod
    def remove(folders: list[Path]) -> None:
        for folder in folders:
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _remove_stale(self) -> None:
        """Folders left by a samrun that was killed (its pid is gone): empty, so removable."""
        for parent in {base.parent for base in self.bases.values()}:
            with contextlib.suppress(OSError):
                for stale in parent.glob("samrun-*"):
                    pid = stale.name.removeprefix("samrun-")
                    if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                        folders = [p for p in stale.iterdir() if p.is_dir()]
                        kill_members(folders)
                        self.remove([*folders, stale])

    def close(self) -> None:
        self.remove(sorted(set(self.bases.values())))
