"""Everything a sandbox started dies with it, also what escaped its process group.

A daemon (`setsid`, a double fork) leaves the process group the sandbox is killed by. Where
samrun could make the instance's cgroups, the cgroup holds every descendant whatever it did, and
is killed whole (runtime/cgroups.py: `cgroup.kill` on v2, every member on v1). Elsewhere the
runtime process is made a child subreaper before exec (runtime/isolation.py), so orphans of its
descendants are re-parented to it instead of to init, and stay in its tree: stopping the
sandbox stops the whole tree (SIGSTOP, so nothing forks meanwhile), then kills it. When the
runtime exits on its own, its orphans go to init; they are found by the environment they
inherited (`AWS_LAMBDA_RUNTIME_API`, one address per instance) and killed.
"""

from __future__ import annotations

import contextlib
import os
import signal

PR_SET_CHILD_SUBREAPER = 36
ROUNDS = 20  # a tree that still grows after this many stop rounds is killed as it is


def parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    found: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            found[int(entry)] = int(fields[1])
    return found


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents().items():
        children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def kill_marked(marker: bytes) -> None:
    """SIGKILL every process whose initial environment holds `marker` (`NAME=value`)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        with contextlib.suppress(OSError), open(f"/proc/{entry}/environ", "rb") as environ:
            if marker in environ.read().split(b"\0"):
                os.kill(int(entry), signal.SIGKILL)


def kill_tree(root: int) -> None:
    """SIGKILL `root` and every descendant of it; stop them all first, so none forks away."""
    stopped: set[int] = set()
    for _ in range(ROUNDS):
        fresh = descendants(root) - stopped
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= fresh
    for pid in (*stopped, root):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
