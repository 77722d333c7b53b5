"""Python dependencies: `pip install -r requirements.txt --target`, for the Python that runs them.

On the process backend, functions run on this machine's interpreter of their version when it is
installed (else on the one running samrun, with a warning), natively: that interpreter's own pip
installs, so wheels with compiled parts match what imports them. Where functions run in Lambda's
own images (`for_lambda`), samrun's pip fetches wheels for the function's Python version and
architecture (`--python-version`, `--platform manylinux…`, `--only-binary=:all:`), as SAM CLI's
container builds do; a package without such a wheel fails with pip's own message.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from samrun.build import steps
from samrun.build.items import BuildItem, has_requirements
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


def runs_with(item: BuildItem, host_env: Mapping[str, str]) -> tuple[str, str]:
    """(interpreter, X.Y): the Python that runs `item`'s functions on this machine, as the
    runtime locator picks it: that version when installed, else the one running samrun."""
    version = item.runtime.removeprefix("python")
    found = locate_python(version, python_homes(host_env))
    if found is not None:
        return found, version
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


def variant(item: BuildItem, for_lambda: bool, host_env: Mapping[str, str]) -> str:
    """What the packages are built for, part of the cache key."""
    if for_lambda:
        return f"lambda-{item.runtime}-{item.architecture}"
    _, version = runs_with(item, host_env)
    return f"local-{version}-{platform.machine()}-{sys.platform}"


def pip_command(
    item: BuildItem, target: Path, host_env: Mapping[str, str], for_lambda: bool
) -> list[str]:
    """The pip that installs for `item`: for Lambda's Python and machine (`for_lambda`, where
    functions run in Lambda's images), else for the interpreter that runs them here."""
    requirements = str(item.source / "requirements.txt")
    base = ["install", "-r", requirements, "--target", str(target), *QUIET]
    if for_lambda:
        version = item.runtime.removeprefix("python")
        platforms = [f"--platform={name}" for name in PLATFORMS.get(item.architecture, ())]
        return [sys.executable, "-m", "pip", *base, *cross(version), *platforms]
    interpreter, version = runs_with(item, host_env)
    if has_pip(interpreter):
        return [interpreter, "-m", "pip", *base]
    return [sys.executable, "-m", "pip", *base, *cross(version)]  # a Python without pip


def cross(version: str) -> list[str]:
    """Wheels for another interpreter than pip's own (no builds from source: they would
    compile for pip's)."""
    return [f"--python-version={version}", "--implementation=cp", "--only-binary=:all:"]


def build_function(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A function's packages into `out`, which goes on PYTHONPATH beside its code."""
    argv = pip_command(item, out, ws.host_env, ws.for_lambda)
    steps.run(argv, what="pip install", cwd=item.source, log=ws.log)


def build_layer(item: BuildItem, out: Path, ws: steps.Workspace) -> None:
    """A layer as `sam build` lays it out: its content and its packages under python/."""
    python = out / "python"
    steps.copy_tree(item.source, python, ws.state_dir)
    if has_requirements(item.source):
        argv = pip_command(item, python, ws.host_env, ws.for_lambda)
        steps.run(argv, what="pip install", cwd=item.source, log=ws.log)
