"""One samrun per state folder: an exclusive lock on `<state>/samrun.lock`, held while it runs.

Two samruns on one folder would both run the async events left in its queue. The lock is
flock(2): the kernel drops it when the holder exits, even on `kill -9`, so a stale file never
blocks. The file holds the holder's pid, for the message of the one refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from samrun.errors import SamrunError

LOCK_NAME = "samrun.lock"


def lock_state_dir(state_dir: Path) -> int:
    """Take the folder's lock (a descriptor to keep open), or raise naming the pid holding it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise SamrunError(
            f"the state folder {state_dir} is in use by another samrun (pid {holder}): "
            "stop that one, or give this one its own --state-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def unlock_state_dir(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
