"""Python dependencies: `pip install -r requirements.txt --target`, for the function's Python.

With that Python on this machine (and the function's architecture this machine's), its own pip
installs, so wheels with compiled parts match the interpreter that runs them. Otherwise samrun's
pip fetches wheels for that version and platform (`--python-version`, `--platform manylinux…`,
`--only-binary=:all:`), as SAM CLI's container builds do; a package without such a wheel fails
with pip's own message.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from samrun.build import steps
from samrun.build.items import BuildItem, has_requirements, host_architecture
from samrun.runtime.runtimes import locate_python, python_homes

PLATFORMS = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64"),
    "arm64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64"),
}
QUIET = ("--disable-pip-version-check", "--no-input", "--no-warn-script-location")


def has_pip(interpreter: str) -> bool:
    try:
        done = subprocess.run(
            [interpreter, "-m", "pip", "--version"], capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def pip_command(item: BuildItem, target: Path, host_env: Mapping[str, str]) -> list[str]:
    """The pip that installs for `item`'s Python version and architecture."""
    version = item.runtime.removeprefix("python")
    requirements = str(item.source / "requirements.txt")
    base = ["install", "-r", requirements, "--target", str(target), *QUIET]
    interpreter = locate_python(version, python_homes(host_env))
    if interpreter and item.architecture == host_architecture() and has_pip(interpreter):
        return [interpreter, "-m", "pip", *base]
    platforms = [f"--platform={name}" for name in PLATFORMS.get(item.architecture, ())]
    return [
        sys.executable,
        "-m",
        "pip",
        *base,
        f"--python-version={version}",
        "--implementation=cp",
        "--only-binary=:all:",
        *platforms,
    ]


def build_function(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A function's packages into `out`, which goes on PYTHONPATH beside its code."""
    steps.run(pip_command(item, out, ws.host_env), what="pip install", cwd=item.source, log=ws.log)


def build_layer(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A layer as `sam build` lays it out: its content and its packages under python/."""
    python = out / "python"
    steps.copy_tree(item.source, python, ws.state_dir)
    if has_requirements(item.source):
        steps.run(
            pip_command(item, python, ws.host_env), what="pip install", cwd=item.source, log=ws.log
        )
