"""`--image-map` accumulates: an app of two runtimes, each mapped by its own flag, runs both
(the second flag once replaced the first, and the first runtime then pulled its official image)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_IMAGE, invoke_http, start_up
from tests.docker.test_containers import containers

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Handler: app.handler, CodeUri: src, Timeout: 30}
Resources:
  Eleven:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11}
  Twelve:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.12}
"""
CODE = """\
import os


def handler(event, context):
    return {"function": context.function_name, "task_root": os.environ["LAMBDA_TASK_ROOT"]}
"""


@pytest.mark.docker
def test_two_image_map_flags_map_both_runtimes(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(CODE)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    state = tmp_path / ".samrun"
    server = start_up(
        tmp_path / "template.yaml", state, "--backend", "docker", "--skip-pull",
        "--image-map", f"python3.11={TEST_IMAGE}", "--image-map", f"python3.12={TEST_IMAGE}",
    )  # fmt: skip
    try:
        for name in ("Eleven", "Twelve"):
            status, _, body = invoke_http(server.lambda_endpoint, name, {})
            assert status == 200, body
            assert body == {"function": name, "task_root": "/var/task"}
        assert len(containers(state)) == 2  # each function in a container of the mapped image
    finally:
        assert server.stop() == 0
    assert containers(state) == []
