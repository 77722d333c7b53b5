"""OS-only runtimes in containers: the function's own bootstrap, from /var/task or /opt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, TEST_IMAGE, invoke_http, start_up

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: function.handler
    Timeout: 10
Resources:
  Custom:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {code}
  FromLayer:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {empty}
      Layers: [!Ref Runtime]
  NoBootstrap:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: {empty}
  Runtime:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: {code}
"""


@pytest.mark.docker
def test_provided_runtimes_run_their_bootstrap_in_the_container(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code = FIXTURES / "functions" / "provided_python"
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(code=code, empty=empty))
    image_map = ["--image-map", f"provided.al2023={TEST_IMAGE}", "--skip-pull"]
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun", "--backend", "docker",
                      *image_map)  # fmt: skip
    try:
        status, _, body = invoke_http(server.lambda_endpoint, "Custom", {"order": 7})
        assert status == 200 and body["echo"] == {"order": 7}, body  # type: ignore[index]
        assert body["taskRoot"] == "/var/task"  # type: ignore[index]
        status, _, body = invoke_http(server.lambda_endpoint, "FromLayer", {"order": 8})
        assert status == 200 and body["echo"] == {"order": 8}, body  # type: ignore[index]
        status, headers, body = invoke_http(server.lambda_endpoint, "NoBootstrap")
        assert headers["X-Amz-Function-Error"] == "Unhandled"
        assert body["errorType"] == "Runtime.InvalidEntrypoint"  # type: ignore[index]
        assert "/var/task/bootstrap /opt/bootstrap" in json.dumps(body)
    finally:
        assert server.stop() == 0
