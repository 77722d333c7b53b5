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
    fd = try_lock_state_dir(state_dir)
    if fd is None:
        raise SamrunError(
            f"the state folder {state_dir} is in use by another samrun (pid {holder(state_dir)}): "
            "stop that one, or give this one its own --state-dir"
        )
    return fd


def try_lock_state_dir(state_dir: Path) -> int | None:
    """The folder's lock (a descriptor to keep open), or None while another samrun holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def holder(state_dir: Path) -> str:
    """The pid written by the samrun holding the folder's lock."""
    try:
        return (state_dir / LOCK_NAME).read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def unlock_state_dir(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
