"""No runtime left unnamed: a runtime this machine has no interpreter for (dotnet8, an unknown
one) runs on the docker backend when an engine answers; else `plan`, `up` and /_samrun/state
name it as not run, with the reason, and its invocations answer InvalidRuntimeException."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import jsonschema
import pytest

from samrun.runtime.runtimes import RuntimeLocator
from tests.conftest import ROOT, invoke_http, start_up

SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src
  Net:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: dotnet8
      Handler: Shop::Shop.Function::Handle
      CodeUri: dotnet
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /net
            Method: get
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 'py'\n")
    (tmp_path / "dotnet").mkdir()
    (tmp_path / "dotnet" / "Shop.dll").write_bytes(b"MZ")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path / "template.yaml"


def no_engine(tmp_path: Path) -> dict[str, str]:
    return {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}


def plan(template: Path, *extra: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(template), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=template.parent,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_plan_names_dotnet_as_not_run_without_an_engine(app: Path, tmp_path: Path) -> None:
    document = json.loads(plan(app, "--json", env=no_engine(tmp_path)))
    jsonschema.validate(document, SCHEMA)
    assert [(f["name"], f["backend"]) for f in document["functions"]] == [("Py", "process")]
    assert document["routes"] == []  # its route goes with it
    (entry,) = [n for n in document["not_run"] if n["what"] == "function"]
    assert (entry["name"], entry["type"]) == ("Net", "dotnet8")
    assert ".NET" in entry["reason"] and "Docker engine" in entry["reason"]
    table = plan(app, env=no_engine(tmp_path))
    functions = table.split("Not run locally")[0]
    assert "Py" in functions and "Net" not in functions and "dotnet8" not in functions
    assert "function  Net   dotnet8" in table


def test_up_runs_the_rest_and_dotnet_answers_invalid_runtime(
    app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", no_engine(tmp_path)["DOCKER_HOST"])
    server = start_up(app, tmp_path / ".samrun")
    try:
        server.wait_for(r"function Net \(dotnet8\): .*\.NET")
        status, _, body = invoke_http(server.lambda_endpoint, "Py")
        assert (status, body) == (200, "py")
        status, headers, body = invoke_http(server.lambda_endpoint, "Net")
        assert status == 502
        assert headers["x-amzn-ErrorType"] == "InvalidRuntimeException"
        assert "dotnet8" in body["message"]
        url = f"{server.lambda_endpoint}/_samrun/state"
        with urllib.request.urlopen(url, timeout=30) as response:
            state = json.loads(response.read())
        assert state["backends"] == {"Py": "process"}
        assert any(n["name"] == "Net" and n["what"] == "function" for n in state["not_run"])
    finally:
        server.stop()


@pytest.mark.docker
def test_dotnet_runs_on_the_docker_backend_when_an_engine_answers(app: Path) -> None:
    document = json.loads(plan(app, "--json"))
    jsonschema.validate(document, SCHEMA)
    backends = {f["name"]: f["backend"] for f in document["functions"]}
    assert backends == {"Py": "process", "Net": "docker"}
    assert not [n for n in document["not_run"] if n["what"] == "function"]
    assert "dotnet8 (docker)" in plan(app)


def test_what_the_process_backend_cannot_run_is_said() -> None:
    locator = RuntimeLocator({})
    assert locator.missing("python3.11") is None
    assert locator.missing("provided.al2023") is None
    assert ".NET" in (locator.missing("dotnet8") or "")
    assert "cobol1" in (locator.missing("cobol1") or "")
    assert locator.missing(None) is not None  # an image function: a container
