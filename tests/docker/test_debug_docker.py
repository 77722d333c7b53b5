"""`--debug` on the docker backend: debugpy inside the container (mounted read-only, started by
samrun's sitecustomize before the image's runtime client), its port on this machine's loopback
(the host network of a local engine, or published from a bridge network), and the IDE's
`pathMappings` (/var/task -> the function's folder) taking breakpoints to the container's code."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from samrun.runtime.debugging import free_port
from tests.conftest import FIXTURES, TEST_IMAGE, backend_args, invoke_http, start_up
from tests.debug.dap import DapClient
from tests.docker.test_remote_engine import bridge_gateway

PROVIDED = FIXTURES / "functions" / "provided_python"
HANDLER = """def handler(event, context):
    seen = event.get("who", "nobody")
    return {"seen": seen}
"""
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Timeout: 1
"""


def write_app(folder: Path) -> Path:
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text(HANDLER)
    (folder / "template.yaml").write_text(TEMPLATE)
    return folder / "template.yaml"


def attach(client: DapClient, local_root: Path, breakpoint_line: int) -> None:
    """VS Code's attach with the pathMappings `samrun debug-config` prints for docker."""
    client.request("initialize", {"clientID": "vscode", "adapterID": "debugpy"})
    attach_seq = client.send(
        "attach",
        {
            "connect": {"host": "127.0.0.1", "port": client.port},
            "justMyCode": True,
            "pathMappings": [{"localRoot": str(local_root), "remoteRoot": "/var/task"}],
        },
    )
    client.event("initialized")
    source = {"path": str(local_root / "app.py")}
    body = client.request(
        "setBreakpoints", {"source": source, "breakpoints": [{"line": breakpoint_line}]}
    )
    assert body["breakpoints"][0]["verified"], body
    client.request("configurationDone")
    client.response(attach_seq)


def published(state: Path) -> list[Any]:
    import docker

    from samrun.runtime.docker_engine import app_label

    client = docker.from_env()
    try:
        found = client.containers.list(filters={"label": f"samrun.app={app_label(state)}"})
        return [c.attrs["HostConfig"].get("PortBindings") for c in found]
    finally:
        client.close()


@pytest.mark.docker
@pytest.mark.parametrize("network", ["host", "bridge"])
def test_breakpoint_in_a_container_through_the_published_port(tmp_path: Path, network: str) -> None:
    template = write_app(tmp_path)
    state = tmp_path / ".samrun"
    port = free_port()
    extra = ["--debug", f"Hello={port}", "--debug-wait", *backend_args("docker")]
    if network == "bridge":  # a bridge network: the port is published on loopback
        gateway = bridge_gateway()
        extra = ["--host", gateway, "--container-host", gateway, *extra]
    server = start_up(template, state, *extra)
    try:
        server.wait_for(rf"debugging Hello: attach a debugger to 127\.0\.0\.1:{port}")
        server.wait_for(r"/var/task -> .*src")  # the mapping an IDE needs, printed at start
        replies: list[tuple[int, object]] = []
        caller = threading.Thread(
            target=lambda: replies.append(
                invoke_http(server.lambda_endpoint, "Hello", {"who": "docker"})[::2]
            )
        )
        caller.start()
        client = DapClient(port, timeout=60)  # listening once the container starts
        try:
            attach(client, tmp_path / "src", breakpoint_line=3)
            stopped = client.event("stopped", timeout=60)
            frames = client.request("stackTrace", {"threadId": stopped["body"]["threadId"]})[
                "stackFrames"
            ]
            assert frames[0]["line"] == 3
            assert Path(frames[0]["source"]["path"]) == tmp_path / "src" / "app.py"
            value = client.request(
                "evaluate", {"expression": "seen", "frameId": frames[0]["id"], "context": "repl"}
            )
            assert value["result"] == "'docker'"
            seen = client.request(  # the function's own paths: nothing of the debugger's left
                "evaluate",
                {
                    "expression": "[p for p in __import__('sys').path + "
                    "__import__('os').environ['PYTHONPATH'].split(':') if 'samrun' in p]",
                    "frameId": frames[0]["id"],
                    "context": "repl",
                },
            )
            assert seen["result"] == "[]"
            if network == "bridge":
                assert published(state) == [
                    {f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
                ]
            client.request("continue", {"threadId": stopped["body"]["threadId"]})
            caller.join(60)
        finally:
            client.close()
        assert replies == [(200, {"seen": "docker"})]  # paused past its 1 s timeout: answered
    finally:
        assert server.stop() == 0


def test_debug_config_maps_var_task_for_the_docker_backend(tmp_path: Path) -> None:
    """No engine needed: the printed configuration for the docker backend."""
    template = write_app(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "debug-config", str(template), "--backend", "docker"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    entry = json.loads(done.stdout)["configurations"][0]
    assert entry["pathMappings"] == [
        {"localRoot": "${workspaceFolder}/src", "remoteRoot": "/var/task"}
    ]


@pytest.mark.docker
def test_provided_bootstrap_runs_under_the_debug_args_command(tmp_path: Path) -> None:
    """As SAM CLI: `--debugger-path` mounted at /tmp/lambci_debug_files, the bootstrap run by
    the `--debug-args` command."""
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "wrap.sh").write_text('#!/bin/sh\necho "debugger runs $*" >&2\nexec "$@"\n')
    (tool / "wrap.sh").chmod(0o755)
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Native:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n"
        f"      Runtime: provided.al2023\n      Handler: bootstrap\n      CodeUri: {PROVIDED}\n"
    )
    done = subprocess.run(
        [
            sys.executable, "-m", "samrun", "invoke", "Native", "-e", "-",
            "--state-dir", str(tmp_path / ".samrun"),
            "--backend", "docker", "--skip-pull",
            "--image-map", f"provided.al2023={TEST_IMAGE}",
            "--debug", "--debug-args", "/tmp/lambci_debug_files/wrap.sh",
            "--debugger-path", str(tool),
        ],
        input='{"from": "debugger"}',
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Native | debugger runs /var/task/bootstrap" in done.stderr
    assert json.loads(done.stdout)


def test_debugger_variables_keep_the_functions_and_the_images_own() -> None:
    """A container's variable replaces the image's: samrun's go first, theirs are kept after."""
    from samrun.runtime.debugging import DebugSpec
    from samrun.runtime.docker_debug import debug_environment, published_ports

    spec = DebugSpec(port=5858, wait=True)
    python = debug_environment(
        "python3.12", spec, {"PYTHONPATH": "/var/deps"}, {}, host_network=True
    )
    assert python["SAMRUN_DEBUGPY"] == "127.0.0.1:5858:wait"
    assert python["PYTHONPATH"] == "/var/samrun-debug/site:/var/deps"
    assert "NODE_OPTIONS" not in python
    node = debug_environment(
        "nodejs22.x", spec, {}, {"NODE_OPTIONS": "--max-old-space-size=100"}, host_network=False
    )
    assert node == {"NODE_OPTIONS": "--inspect-brk=0.0.0.0:5858 --max-old-space-size=100"}
    image = debug_environment(
        None, DebugSpec(port=1), {}, {"PYTHONPATH": "/app"}, host_network=True
    )
    assert image["PYTHONPATH"] == "/var/samrun-debug/site:/app"
    assert image["NODE_OPTIONS"] == "--inspect=127.0.0.1:1"  # an image's language is unknown
    assert published_ports(spec, host_network=False) == {"5858/tcp": ("127.0.0.1", 5858)}
    assert published_ports(spec, host_network=True) is None


@pytest.mark.docker
def test_a_debugger_that_cannot_start_fails_the_instance(tmp_path: Path) -> None:
    """Its port taken: the runtime exits with the reason, never runs without its debugger."""
    import socket

    write_app(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable, "-m", "samrun", "invoke", "Hello",
                "--state-dir", str(tmp_path / ".samrun"), f"--debug={port}", "--no-debug-wait",
                *backend_args("docker"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["errorType"] == "Runtime.ExitError"
    assert "samrun: debugpy cannot start in this container:" in done.stderr
