"""Which pip installs a Python function's packages: the interpreter that runs it on the process
backend; Lambda's Python and machine (manylinux wheels, as SAM CLI's container builds) where
functions run in Lambda's images."""

from __future__ import annotations

import sys
from pathlib import Path

from samrun.build.items import BuildItem
from samrun.build.pip import pip_command, variant
from samrun.model import Code


def item(runtime: str, architecture: str = "x86_64") -> BuildItem:
    return BuildItem(
        names=("Fn",),
        kind="function",
        builder="pip",
        code=Code(path="/src"),
        source=Path("/src"),
        runtime=runtime,
        architecture=architecture,
    )


def test_for_lambda_fetches_wheels_for_the_functions_python_and_machine() -> None:
    argv = pip_command(item("python3.13", "arm64"), Path("/out"), {}, for_lambda=True)
    assert argv[:3] == [sys.executable, "-m", "pip"]
    for flag in (
        "--python-version=3.13",
        "--only-binary=:all:",
        "--implementation=cp",
        "--platform=manylinux2014_aarch64",
        "--target",
    ):
        assert flag in argv, argv
    assert variant(item("python3.13", "arm64"), True, {}) == "lambda-python3.13-arm64"


def test_on_the_process_backend_the_interpreter_that_runs_it_installs() -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    argv = pip_command(item(f"python{running}", "arm64"), Path("/out"), {}, for_lambda=False)
    assert argv[0] == sys.executable and "--platform" not in " ".join(argv)
    assert variant(item(f"python{running}"), False, {}).startswith(f"local-{running}-")
