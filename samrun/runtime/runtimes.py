"""Which program runs a runtime on this machine, and the paths Lambda adds for it."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from samrun.errors import InvalidEntrypoint, InvalidRuntime

logger = logging.getLogger(__name__)

BOOTSTRAPS = Path(__file__).parent / "bootstraps"
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
NODE_MAJORS = ("18", "20", "22", "24")
PROVIDED = ("provided", "provided.al2", "provided.al2023")


@dataclass(frozen=True, slots=True)
class RuntimeCommand:
    argv: tuple[str, ...]
    language_paths: dict[str, str]  # env var -> path entries under /opt (or the task root)


class RuntimeLocator:
    """Finds interpreters once per runtime; warns once when it falls back."""

    def __init__(self) -> None:
        self._pythons: dict[str, str] = {}
        self._node: str | bool | None = False  # False: not looked up yet

    def command(self, runtime: str | None, code_dir: Path, opt_dir: Path | None) -> RuntimeCommand:
        if runtime is None:
            raise InvalidRuntime("PackageType Image needs the docker backend")
        if runtime.startswith("python"):
            return self._python(runtime, code_dir, opt_dir)
        if runtime.startswith("nodejs"):
            return self._nodejs(runtime, code_dir, opt_dir)
        if runtime in PROVIDED:
            return provided(code_dir, opt_dir)
        raise InvalidRuntime(
            f"The runtime parameter of {runtime} is not supported by samrun's process backend."
        )

    def python_for(self, version: str) -> str:
        """That interpreter when it is on the machine and runs, else the running one."""
        if version not in self._pythons:
            self._pythons[version] = find_python(version)
        return self._pythons[version]

    def _python(self, runtime: str, code_dir: Path, opt_dir: Path | None) -> RuntimeCommand:
        version = runtime.removeprefix("python")
        if version not in PYTHON_VERSIONS:
            raise InvalidRuntime(f"The runtime parameter of {runtime} is not supported.")
        interpreter = self.python_for(version)
        paths = [str(code_dir)]
        if opt_dir is not None:
            paths += [
                str(opt_dir / "python"),
                str(opt_dir / "python" / "lib" / f"python{version}" / "site-packages"),
            ]
        bootstrap = str(BOOTSTRAPS / "python" / "bootstrap.py")
        return RuntimeCommand((interpreter, "-u", bootstrap), {"PYTHONPATH": ":".join(paths)})

    def _nodejs(self, runtime: str, code_dir: Path, opt_dir: Path | None) -> RuntimeCommand:
        major = runtime.removeprefix("nodejs").removesuffix(".x")
        if major not in NODE_MAJORS:
            raise InvalidRuntime(f"The runtime parameter of {runtime} is not supported.")
        if self._node is False:
            self._node = shutil.which("node")
        if not self._node:
            raise InvalidRuntime(f"{runtime} needs `node` on this machine's PATH")
        paths = []
        if opt_dir is not None:
            paths = [
                str(opt_dir / "nodejs" / f"node{major}" / "node_modules"),
                str(opt_dir / "nodejs" / "node_modules"),
            ]
        paths.append(str(code_dir))  # Lambda's NODE_PATH ends with /var/task
        bootstrap = str(BOOTSTRAPS / "nodejs" / "bootstrap.js")
        return RuntimeCommand((str(self._node), bootstrap), {"NODE_PATH": ":".join(paths)})


def provided(code_dir: Path, opt_dir: Path | None) -> RuntimeCommand:
    """OS-only runtimes run the function's own `bootstrap`, from the code or from a layer."""
    for candidate in (code_dir / "bootstrap", *([opt_dir / "bootstrap"] if opt_dir else [])):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise InvalidEntrypoint(f"fork/exec {candidate}: permission denied")
            return RuntimeCommand((str(candidate),), {})
    raise InvalidEntrypoint(
        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
    )


def find_python(version: str) -> str:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if version == running:
        return sys.executable
    found = shutil.which(f"python{version}")
    if found and runs(found):
        return found
    logger.warning("python%s is not on this machine: python%s runs its functions", version, running)
    return sys.executable


def runs(interpreter: str) -> bool:
    """pyenv shims exist for versions that are not active; only a run tells."""
    try:
        return (
            subprocess.run([interpreter, "-c", "pass"], capture_output=True, timeout=10).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
