"""Python under debugpy: the instance's runtime (samrun's bootstrap) runs as debugpy's target.

debugpy is run by its folder's path (`python -S .../debugpy --listen ... bootstrap.py`), never
put on the function's path: its `__main__` puts the folder above it on sys.path just long enough
to import itself, then takes it off again; the bootstrap then runs in that same process (so the
lane's descriptor reaches it). A function sees the modules debugpy imported (`debugpy`, pydevd)
and nothing else of samrun's site-packages; functions that are not debugged never see debugpy.
The code runs from its real path, so an IDE needs no path mappings on the process backend.
"""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import replace
from functools import cache
from pathlib import Path

from samrun.errors import SamrunError
from samrun.runtime.debugging import DebugSpec
from samrun.runtime.runtimes import RuntimeCommand, as_tuple

# 3.11+ freeze some stdlib modules, where breakpoints would not hit (pydevd warns so); older
# Pythons take unknown -X options silently
NO_FROZEN = "-Xfrozen_modules=off"
OWN_OPTIONS = ("--listen", "--connect")  # given in --debug-args: debugpy listens where they say


def python_under_debugger(command: RuntimeCommand, spec: DebugSpec) -> RuntimeCommand:
    """`command` (interpreter, its flags, the bootstrap) as debugpy's target, listening on
    `spec.address` (waiting for a client first with `spec.wait`). `spec.args` are interpreter
    arguments; SAM CLI's form (`-m debugpy --listen ... [--wait-for-client]`) is read as
    interpreter arguments, then debugpy's own options."""
    interpreter, *flags, script = command.argv
    before, debugpy_options = split_sam_form(spec.args)
    folder = debugpy_folder(spec.debugger_path)
    check_version(interpreter, folder)
    listen = () if any(o in debugpy_options for o in OWN_OPTIONS) else ("--listen", spec.address)
    waits = spec.wait and "--wait-for-client" not in debugpy_options
    wait = ("--wait-for-client",) if waits else ()
    argv = (
        interpreter,
        *flags,
        NO_FROZEN,
        *before,
        str(folder),
        *listen,
        *wait,
        *debugpy_options,
        script,
    )
    return replace(command, argv=argv)


def split_sam_form(args: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Interpreter arguments, and debugpy's options when `args` run it (`-m debugpy ...`)."""
    for i in range(len(args) - 1):
        if args[i] == "-m" and args[i + 1] == "debugpy":
            return args[:i], args[i + 2 :]
    return args, ()


def debugpy_folder(debugger_path: str | None) -> Path:
    """The debugpy package to run: `--debugger-path`'s (a folder holding `debugpy/`, as
    `pip install --target` makes, or that package folder itself), else samrun's own."""
    if debugger_path is not None:
        given = Path(debugger_path).expanduser().resolve()
        for folder in (given / "debugpy", given):
            if (folder / "__main__.py").is_file() and folder.name == "debugpy":
                return folder
        raise SamrunError(
            f"--debugger-path {debugger_path}: no debugpy there (expected a folder holding "
            "debugpy/, e.g. made by `pip install debugpy --target FOLDER`)"
        )
    found = importlib.util.find_spec("debugpy")  # found, not imported: samrun never runs it
    if found is None or found.origin is None:
        raise SamrunError(
            "debugging Python needs debugpy, which is installed with samrun: reinstall samrun, "
            "or give one with --debugger-path"
        )
    return Path(found.origin).parent


def check_version(interpreter: str, folder: Path) -> None:
    """Refuse, with the reason, a Python older than the debugpy supports (it would fail with a
    traceback in the instance's log instead)."""
    oldest = oldest_python(folder)
    version = interpreter_version(interpreter)
    if oldest and version and version < oldest:
        shown = ".".join(map(str, version))
        raise SamrunError(
            f"the debugpy in {folder.parent} needs Python {'.'.join(map(str, oldest))} or newer, "
            f"and this function runs on Python {shown}: give an older debugpy with "
            "--debugger-path (a release that supports it, `pip install debugpy==X --target DIR`)"
        )


@cache
def oldest_python(folder: Path) -> tuple[int, ...] | None:
    """The Requires-Python floor of the debugpy installed in `folder`'s parent, when known."""
    for info in sorted(folder.parent.glob("debugpy-*.dist-info")):
        for line in (info / "METADATA").read_text(errors="replace").splitlines():
            if line.startswith("Requires-Python:") and ">=" in line:
                return as_tuple(line.split(">=", 1)[1].split(",")[0].strip())
    return None


@cache
def interpreter_version(interpreter: str) -> tuple[int, ...] | None:
    try:
        done = subprocess.run(
            [interpreter, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return as_tuple(done.stdout.strip()) if done.returncode == 0 else None
