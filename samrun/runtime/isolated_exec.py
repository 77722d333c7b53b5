"""`python -m samrun.runtime.isolated_exec SETTINGS PROGRAM [ARG...]`: the setup a spawned
runtime gets between fork and exec (runtime/isolation.py), applied by a process of its own,
which then becomes PROGRAM with SETTINGS' environment.

For a runtime started ahead of its instance (a Node.js spare, runtime/node_spare.py): spawned
through this, it does not hold samrun's event loop while it joins its cgroups (an RCU grace
period on cgroup v1), mounts its tmpfs and changes user, as a spawn with preexec_fn does for
~20 ms; a cold start then waiting on the loop would wait that long too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samrun.runtime.isolation import child_setup


def command(
    program: list[str],
    *,
    env: dict[str, str],
    tmp_dir: Path,
    storage_mb: int,
    cgroups: list[Path],
    tmpfs: bool,
    uid: int | None,
) -> list[str]:
    """The argv that starts `program` so isolated."""
    settings = {
        "env": env,
        "tmp_dir": str(tmp_dir),
        "storage_mb": storage_mb,
        "cgroups": [str(folder) for folder in cgroups],
        "tmpfs": tmpfs,
        "uid": uid,
    }
    return [sys.executable, "-m", __name__, json.dumps(settings), *program]


def main(argv: list[str]) -> None:
    settings = json.loads(argv[1])
    program = argv[2:]
    try:
        child_setup(
            Path(settings["tmp_dir"]),
            settings["storage_mb"],
            [Path(folder) for folder in settings["cgroups"]],
            settings["tmpfs"],
            settings["uid"],
        )()
        os.execve(program[0], program, settings["env"])
    except OSError as exc:  # as a failed exec: samrun sees the exit, nothing runs
        sys.exit(f"samrun: cannot start {program[0]}: {exc}")


if __name__ == "__main__":
    main(sys.argv)
