"""As root, functions run as an unprivileged user: they cannot write samrun's state folder.

Each instance gets a uid of its own (no passwd entry needed; `HOME` is set), so instances can
neither signal one another nor share RLIMIT_NPROC. The switch is the last thing the child does
before exec (after its cgroups and its tmpfs, which need root). The instance's TMPDIR is its
own (chowned, or a mode 1777 tmpfs); everything else of samrun's is not writable for it.

Reading stays as it was: the code, the layers and the AWS SDK often live in folders only root
may enter (a 0700 home or temporary folder), so the process keeps one capability,
CAP_DAC_READ_SEARCH (read any file, enter any folder; write nothing), as an ambient capability
that survives exec. Where the kernel refuses any of this (probed once), functions run as samrun.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import subprocess
from collections.abc import Callable

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE = 47, 2
CAP_DAC_READ_SEARCH = 2
CAPABILITY_VERSION_3 = 0x20080522
FIRST_UID, UIDS = 900_000, 60_000  # far above the uids of people and system services


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def switcher(uid: int) -> Callable[[], None]:
    """A callable for the child: its structures are allocated now, in the parent."""
    header = CapHeader(CAPABILITY_VERSION_3, 0)
    keep = 1 << CAP_DAC_READ_SEARCH
    data = (CapData * 2)(CapData(keep, keep, keep), CapData(0, 0, 0))

    def switch() -> None:
        if LIBC.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_KEEPCAPS")
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        if LIBC.capset(ctypes.byref(header), data) != 0:
            raise OSError(ctypes.get_errno(), "capset")
        if LIBC.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_CAP_AMBIENT")
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # a uid change clears it

    return switch


class SandboxUsers:
    """Hands out one uid per instance, when samrun is root and the kernel allows the switch."""

    def __init__(self) -> None:
        self.enabled = os.geteuid() == 0 and _works()
        self._next = itertools.count()

    def next_uid(self) -> int | None:
        return FIRST_UID + next(self._next) % UIDS if self.enabled else None


def _works() -> bool:
    """Whether a child can become an unprivileged user and still read: tried once."""
    if not os.path.exists("/bin/true"):
        return False
    try:
        result = subprocess.run(["/bin/true"], preexec_fn=switcher(FIRST_UID), timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0
