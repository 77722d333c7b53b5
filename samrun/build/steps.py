"""One build step: a command run with its output appended to the build's log file.

The log keeps everything pip, npm, esbuild or make printed; a failure raises `StepFailed` with
the command's last lines, which the runner shows before its one-line error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 20
STEP_TIMEOUT_S = 900.0


class StepFailed(Exception):
    """A build command failed: `reason` is one line, `tail` the end of its output."""

    def __init__(self, reason: str, tail: Sequence[str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tail = tuple(tail)


def tool(name: str, hint: str) -> str:
    """The program `name` from the PATH, or StepFailed saying what to install."""
    found = shutil.which(name)
    if found is None:
        raise StepFailed(f"`{name}` is not on this machine's PATH ({hint})")
    return found


def run(
    argv: Sequence[str],
    *,
    what: str,
    cwd: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run `argv` in `cwd`, its output appended to `log`; StepFailed on a non-zero exit.
    `what` names the step for a person (`pip install`, `npm ci`, `make build-Fn`)."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}  (in {cwd})\n")
        out.flush()
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                timeout=STEP_TIMEOUT_S,
            )
        except FileNotFoundError:
            raise StepFailed(f"cannot run {argv[0]}") from None
        except subprocess.TimeoutExpired:
            name = Path(argv[0]).name
            raise StepFailed(f"{name} ran longer than {STEP_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise StepFailed(f"`{what}` failed (exit {done.returncode})", tail(log))


def tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


COPY_SKIPPED = (".git", "node_modules", "__pycache__", ".aws-sam", ".samrun", ".venv")


def copy_tree(source: Path, target: Path, state_dir: Path) -> None:
    """Copy a source folder for a build that writes where it runs (make, npm, esbuild), without
    caches, installed packages, or samrun's state folder when it sits inside the sources."""
    state = state_dir.resolve()
    patterns = shutil.ignore_patterns(*COPY_SKIPPED)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(patterns(folder, names))
        return skipped | {n for n in names if Path(folder, n).resolve() == state}

    shutil.copytree(source, target, symlinks=True, ignore=ignore, dirs_exist_ok=True)


@dataclass(frozen=True, slots=True)
class Workspace:
    """What every builder gets besides its item: the state folder, the host's variables, and
    the log file of this build."""

    state_dir: Path
    host_env: Mapping[str, str]
    log: Path
    for_lambda: bool = False  # functions run in Lambda's images: build for Lambda's machine

    def scratch(self, name: str) -> Path:
        """An empty folder to copy sources into, for builds that write where they run."""
        folder = self.state_dir / "build" / "scratch" / name
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return folder
