"""The docker backend's own promises: image functions, and no container outliving samrun."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from samrun.runtime.docker_engine import app_label
from tests.conftest import FIXTURES, backend_args, invoke_http, start_up, wait_until

CORE = FIXTURES / "templates" / "core.yaml"
IMAGE = FIXTURES / "templates" / "image.yaml"


def containers(state_dir: Path) -> list[object]:
    """Every container of the app whose state folder is `state_dir`, running or not."""
    import docker

    client = docker.from_env()
    try:
        label = f"samrun.app={app_label(state_dir)}"
        return list(client.containers.list(all=True, filters={"label": label}))
    finally:
        client.close()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.docker
def test_image_function_built_from_a_dockerfile_answers_an_http_route(tmp_path: Path) -> None:
    server = start_up(IMAGE, tmp_path / ".samrun")  # the process backend: images still run
    try:
        status, body = get(server.api + "/hello")
        assert status == 200, body
        answer = json.loads(body)
        assert answer == {"greeting": "bonjour", "cwd": "/var/task", "path": "/hello"}
        status, body = get(server.api + "/other")  # ImageConfig.Command picks another handler
        assert (status, body) == (200, b"other handler")
        status, _, zipped = invoke_http(server.lambda_endpoint, "Zipped", {"x": 1})
        assert status == 200 and zipped["event"] == {"x": 1}  # type: ignore[index]
        assert containers(tmp_path / ".samrun")  # the image functions' warm containers
    finally:
        assert server.stop() == 0
    assert containers(tmp_path / ".samrun") == []


@pytest.mark.docker
def test_sigterm_leaves_no_container(tmp_path: Path) -> None:
    state = tmp_path / ".samrun"
    server = start_up(CORE, state, *backend_args("docker"))
    try:
        for name in ("Echo", "Counter", "Layered"):
            status, _, body = invoke_http(server.lambda_endpoint, name)
            assert status == 200, body
        assert len(containers(state)) == 3
    finally:
        assert server.stop(signal.SIGTERM) == 0
    assert containers(state) == []


@pytest.mark.docker
def test_containers_left_by_kill_9_are_removed_by_the_next_up(tmp_path: Path) -> None:
    state = tmp_path / ".samrun"
    server = start_up(CORE, state, *backend_args("docker"))
    for name in ("Echo", "Counter"):
        assert invoke_http(server.lambda_endpoint, name)[0] == 200
    server.stop(signal.SIGKILL)
    assert len(containers(state)) == 2  # nothing could remove them: samrun had no say

    def stopped() -> bool:  # their runtimes lost the Runtime API, so they end on their own
        return all(c.status != "running" for c in containers(state))  # type: ignore[attr-defined]

    wait_until(stopped, timeout=30, interval=0.5)
    again = start_up(CORE, state, *backend_args("docker"))
    try:
        assert containers(state) == []  # removed before `up` said it was ready
        assert invoke_http(again.lambda_endpoint, "Echo")[0] == 200
    finally:
        assert again.stop() == 0
    wait_until(lambda: containers(state) == [], timeout=10)


def test_without_an_engine_image_functions_are_named_and_the_rest_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    server = start_up(IMAGE, tmp_path / ".samrun")
    try:
        line = server.wait_for(r"Greeter \(PackageType Image\) will not run").string
        assert "needs a Docker engine" in line
        status, headers, body = invoke_http(server.lambda_endpoint, "Greeter")
        assert status == 502
        assert headers["x-amzn-ErrorType"] == "InvalidRuntimeException"
        assert "PackageType Image" in body["message"]  # type: ignore[index]
        status, _ = get(server.api + "/hello")
        assert status == 500  # the HTTP API's answer to a failed integration
        status, _, zipped = invoke_http(server.lambda_endpoint, "Zipped", {"x": 2})
        assert status == 200 and zipped["event"] == {"x": 2}  # type: ignore[index]
        state = json.loads(get(server.lambda_endpoint + "/_samrun/state")[1])
        assert set(state["not_running"]) == {"Greeter", "OtherHandler"}
    finally:
        assert server.stop() == 0


@pytest.mark.docker
def test_an_image_without_a_shell_runs_and_its_output_still_arrives(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  NoShell:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {PackageType: Image, Timeout: 10}\n"
        "    Metadata:\n"
        f"      DockerContext: {FIXTURES / 'functions' / 'image_no_shell'}\n"
        "      Dockerfile: Dockerfile\n"
    )
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun")
    try:
        status, _, body = invoke_http(server.lambda_endpoint, "NoShell")
        assert status == 200, body
        assert json.loads(body["body"])["greeting"] == "no shell"  # type: ignore[index]
        server.wait_for(r"NoShell \| no-shell says no shell")  # from the attach stream
    finally:
        assert server.stop() == 0


@pytest.mark.docker
def test_an_invoke_beside_an_up_of_the_same_app_leaves_the_up_its_containers(
    tmp_path: Path,
) -> None:
    state = tmp_path / ".samrun"
    server = start_up(CORE, state, *backend_args("docker"))
    try:
        first = invoke_http(server.lambda_endpoint, "Counter")[2]
        assert len(containers(state)) == 1
        done = subprocess.run(
            [sys.executable, "-m", "samrun", "invoke", str(CORE), "Echo", "--state-dir",
             str(state), *backend_args("docker")],
            capture_output=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert len(containers(state)) == 1  # the invoke removed its own, and only its own
        again = invoke_http(server.lambda_endpoint, "Counter")[2]
        assert again["instance"] == first["instance"]  # type: ignore[index]
        assert again["calls"] == first["calls"] + 1  # type: ignore[index]
    finally:
        assert server.stop() == 0
    assert containers(state) == []
