"""How a Python runtime's command becomes debugpy's (pure functions, beside the end-to-end tests
in test_python_debug.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from samrun.errors import SamrunError
from samrun.runtime.debug_python import debugpy_folder, python_under_debugger
from samrun.runtime.debugging import DebugSpec
from samrun.runtime.runtimes import PYTHON_BOOTSTRAP, RuntimeCommand, python_argv

OWN = debugpy_folder(None)


def debugged(**spec: object) -> tuple[str, ...]:
    command = RuntimeCommand(python_argv(sys.executable), {"PYTHONPATH": "/code"}, lane=True)
    result = python_under_debugger(command, DebugSpec(port=5890, **spec))  # type: ignore[arg-type]
    assert result.lane and result.language_paths == {"PYTHONPATH": "/code"}
    return result.argv


def test_debugpy_runs_by_path_and_runs_the_bootstrap() -> None:
    assert debugged() == (
        *(sys.executable, "-u", "-S", "-Xfrozen_modules=off", str(OWN)),
        *("--listen", "127.0.0.1:5890", PYTHON_BOOTSTRAP),
    )
    assert debugged(wait=True, args=("-X", "dev"))[4:] == (
        *("-X", "dev", str(OWN), "--listen", "127.0.0.1:5890", "--wait-for-client"),
        PYTHON_BOOTSTRAP,
    )


def test_sam_cli_debug_args_run_debugpy_with_their_options() -> None:
    """`--debug-args "-m debugpy --listen 0.0.0.0:5858 --wait-for-client"` as SAM CLI users
    write it: debugpy's options as given, no second --listen."""
    argv = debugged(args=("-m", "debugpy", "--listen", "5858", "--wait-for-client"), wait=True)
    assert argv[4:] == (str(OWN), "--listen", "5858", "--wait-for-client", PYTHON_BOOTSTRAP)


def test_debugger_path_takes_a_target_folder_or_the_package(tmp_path: Path) -> None:
    package = tmp_path / "debugpy"
    package.mkdir()
    (package / "__main__.py").write_text("")
    assert debugpy_folder(str(tmp_path)) == package
    assert debugpy_folder(str(package)) == package
    with pytest.raises(SamrunError, match="no debugpy there"):
        debugpy_folder(str(tmp_path / "missing"))
