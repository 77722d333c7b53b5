"""What a function's process does to itself between fork and exec, on Linux.

- it dies with samrun, even when samrun is killed with `kill -9` (PR_SET_PDEATHSIG);
- without cgroups, it is a child subreaper, so a daemon it starts stays in its tree;
- Lambda's rlimits: 1024 file descriptors, 1024 processes;
- its cgroups (CPU share, task limit), where samrun could make them;
- its TMPDIR, a folder of the instance's: as root, a tmpfs of EphemeralStorage size in a private
  mount namespace, so it is full at Lambda's limit (ENOSPC), as Lambda's /tmp is; elsewhere a
  plain folder where no one file may exceed EphemeralStorage;
- as root, last of all, it becomes an unprivileged user of its own (runtime/unprivileged.py).

Only syscalls run in the child (no allocation-heavy Python): it is forked from a threaded process.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from samrun.runtime.cgroups import Cgroups
from samrun.runtime.descendants import PR_SET_CHILD_SUBREAPER
from samrun.runtime.unprivileged import switcher

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 16384
MS_PRIVATE = 1 << 18
MAX_FILES = MAX_PROCESSES = 1024


def child_setup(
    tmp_folder: Path,
    storage_mb: int,
    cgroup_folders: list[Path],
    tmpfs: bool,
    uid: int | None = None,
    netns: str | None = None,
) -> Callable[[], None]:
    """The child's setup; `tmp_folder` is its TMPDIR, of `storage_mb` (EphemeralStorage): with
    `tmpfs` (probed by `can_mount_tmpfs`), a tmpfs; with `uid`, it runs as that user; with
    `netns`, in that network namespace (a VPC function's, runtime/vpc.py)."""
    netns_path = os.fsencode(netns) if netns else None
    become = switcher(uid) if uid is not None else None
    fsize = storage_mb * 1024 * 1024
    tmp_dir = os.fsencode(tmp_folder)
    tmpfs_options = f"size={storage_mb}m,mode=1777".encode()

    def apply() -> None:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        Cgroups.join(cgroup_folders)
        if netns_path is not None:  # before the user switch: setns needs CAP_SYS_ADMIN
            join_netns(netns_path)
        if not cgroup_folders:  # orphans of its descendants stay in its tree (descendants.py)
            LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1)
        if not (tmpfs and private_tmp(tmp_dir, tmpfs_options)):
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))  # at least no file over it
        # Last: until exec closes them, the child still holds samrun's descriptors (thousands
        # under load), so under Lambda's 1024 it could open nothing more (cgroup.procs: EMFILE).
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_FILES, MAX_FILES))
        resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
        if become is not None:
            become()

    return apply


def join_netns(path: bytes) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if LIBC.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def private_tmp(folder: bytes, options: bytes) -> bool:
    """A sized tmpfs on the instance's own folder, in a mount namespace of the child's own.
    (Not over /tmp itself: the app's code, layers or samrun may live under /tmp.)"""
    if LIBC.unshare(CLONE_NEWNS) != 0:
        return False
    if LIBC.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    return bool(LIBC.mount(b"tmpfs", folder, b"tmpfs", 0, options) == 0)


def can_mount_tmpfs() -> bool:
    """Whether a child may have a private /tmp here (root, mount namespaces allowed): tried once
    on a throwaway child."""
    if os.geteuid() != 0 or not os.path.exists("/bin/true"):
        return False

    with tempfile.TemporaryDirectory() as folder:

        def check() -> None:
            if not private_tmp(os.fsencode(folder), b"size=1m"):
                raise OSError("no private tmpfs")

        try:
            return subprocess.run(["/bin/true"], preexec_fn=check, timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False
