"""Compiled bytecode for the Python each function runs on, made once, outside the user's folders.

Lambda's Python runtimes ship the AWS SDK compiled; samrun links the SDK it runs with itself,
compiled only for its own Python, and functions run with PYTHONDONTWRITEBYTECODE (nothing may be
written beside the user's sources), so a function on another Python compiled boto3 from source
at every cold start: ~1 s of CPU, ten times that at 128 MB's CPU share. So samrun compiles, once
per Python version, ahead of the first cold start:

- the SDK, through a tree of links to its files in samrun's user cache (`~/.cache/samrun`,
  shared by every app; the tree's folders are real, so `__pycache__` lands there, never in
  samrun's own install, and the bytecode samrun's install has is linked in);
- the build step's dependency folders and the layers samrun built or unpacked (the state folder's,
  never a folder of the user's).

Functions keep PYTHONDONTWRITEBYTECODE: they only read what samrun compiled (as root, samrun
compiles and functions, running as other users, read). The user's own code is not compiled, as
Lambda does not compile it. PYTHONPYCACHEPREFIX would do neither: it makes Python ignore every
`__pycache__`, the standard library's included. SAMRUN_PYTHON_BYTECODE=off turns this off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

COMPILE_TIMEOUT_S = 600.0
SWITCH = "SAMRUN_PYTHON_BYTECODE"


def cache_dir(environ: Mapping[str, str]) -> Path | None:
    """samrun's user cache (SAMRUN_CACHE_DIR, else $XDG_CACHE_HOME/samrun, else
    ~/.cache/samrun); None when SAMRUN_PYTHON_BYTECODE=off."""
    if environ.get(SWITCH, "").lower() in ("0", "off", "no", "false"):
        return None
    if value := environ.get("SAMRUN_CACHE_DIR"):
        return Path(value).resolve()
    home = Path(environ.get("HOME") or Path.home())
    return Path(environ.get("XDG_CACHE_HOME") or home / ".cache").resolve() / "samrun"


def sdk_tree(site_packages: Path, packages: Iterable[str], cache: Path) -> Path:
    """A tree of links to the SDK's files under `cache`, one per SDK install (its folder and
    versions), made once and published whole (another samrun may make the same one)."""
    names = [name for name in packages if (site_packages / name).exists()]
    versions = [f"{d}={importlib.metadata.version(d)}" for d in ("boto3", "botocore")]
    key = hashlib.sha256("\0".join([str(site_packages), *versions, *names]).encode())
    final = cache / "python-sdk" / key.hexdigest()[:16]
    if final.is_dir():
        return final
    staging = final.with_name(f".{final.name}.{os.getpid()}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for name in names:
            mirror(site_packages / name, staging / name)
        with contextlib.suppress(OSError):  # published by another samrun first: theirs stands
            staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def mirror(source: Path, target: Path) -> None:
    """Folders that hold Python files become real folders (their `__pycache__` holds links to
    the bytecode already there, and what samrun compiles); files and data-only folders are
    links."""
    if not source.is_dir() or not holds_python(source):
        target.symlink_to(source)
        return
    target.mkdir()
    for entry in os.scandir(source):
        if entry.name != "__pycache__":
            mirror(Path(entry.path), target / entry.name)
            continue
        (target / entry.name).mkdir()
        for compiled in os.scandir(entry.path):
            if compiled.name.endswith(".pyc"):
                (target / entry.name / compiled.name).symlink_to(compiled.path)


def holds_python(folder: Path) -> bool:
    return any(name.endswith(".py") for _, _, names in os.walk(folder) for name in names)


class Compiler:
    """Compiles folders for a Python version once (a marker beside each says it was done); a
    folder and version being compiled makes whoever else wants it wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: dict[tuple[Path, str], threading.Lock] = {}

    def ensure(self, interpreter: str, folder: Path) -> None:
        marker = folder.parent / f".{folder.name}.compiled-{interpreter_key(interpreter)}"
        if marker.exists() or not folder.is_dir():
            return
        with self._lock:
            busy = self._busy.setdefault((folder, interpreter), threading.Lock())
        with busy:
            if marker.exists():
                return
            if compile_folder(interpreter, folder):
                with contextlib.suppress(OSError):
                    marker.touch()


def interpreter_key(interpreter: str) -> str:
    """`python3.13-1a2b3c4d`: which interpreter compiled a folder (its bytecode's tag is its
    version's; the path tells two installs of one version apart)."""
    digest = hashlib.sha256(interpreter.encode()).hexdigest()[:8]
    return f"{Path(interpreter).name}-{digest}"


def compile_folder(interpreter: str, folder: Path) -> bool:
    """`python -m compileall` of `folder` by the interpreter that will read it (its bytecode
    written atomically: a function reading meanwhile sees the old file or the new one)."""
    argv = [interpreter, "-m", "compileall", "-q", "-j", "0", str(folder)]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=COMPILE_TIMEOUT_S,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("could not compile %s for %s: %s", folder, interpreter, exc)
        return False
    if done.returncode != 0:  # a file that does not compile for that Python: said, not fatal
        lines = (done.stdout + done.stderr).strip().splitlines()
        logger.info("compileall %s (%s): %s", folder, interpreter, " / ".join(lines[-3:]))
    return True
