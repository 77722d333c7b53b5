"""`samrun plan` and `samrun invoke` with image functions and the docker backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import FIXTURES, backend_args
from tests.docker.test_containers import containers

CORE = FIXTURES / "templates" / "core.yaml"
IMAGE = FIXTURES / "templates" / "image.yaml"
SCHEMA = json.loads((FIXTURES.parent.parent / "schemas" / "plan.schema.json").read_text())


def samrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def test_plan_of_image_functions_built_from_a_dockerfile(tmp_path: Path) -> None:
    result = samrun(
        "plan",
        str(IMAGE),
        "--json",
        "--state-dir",
        str(tmp_path / ".samrun"),
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    jsonschema.validate(plan, SCHEMA)
    names = {function["name"] for function in plan["functions"]}
    assert {"Greeter", "OtherHandler", "Zipped"} <= names
    notes = [line for line in result.stderr.splitlines() if "will not run" in line]
    assert len(notes) == 2 and all("needs a Docker engine" in line for line in notes)


@pytest.mark.docker
def test_invoke_on_the_docker_backend(tmp_path: Path) -> None:
    state = tmp_path / ".samrun"
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"cli": "docker"}))
    result = samrun(
        "invoke", str(CORE), "Echo", "-e", str(event), "--state-dir", str(state),
        *backend_args("docker"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["event"] == {"cli": "docker"}
    assert 'echo {"cli": "docker"}' in result.stderr
    assert containers(state) == []


@pytest.mark.docker
def test_invoke_of_an_image_function_on_the_process_backend(tmp_path: Path) -> None:
    state = tmp_path / ".samrun"
    result = samrun("invoke", str(IMAGE), "Greeter", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"])["greeting"] == "bonjour"
    assert containers(state) == []
