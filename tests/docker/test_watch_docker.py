"""Watch mode on containers: code reloads by mount, an image function's edit rebuilds its image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, backend_args, invoke_http, start_up, wait_until

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Zipped:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: zipped/
      Handler: app.handler
  Imaged:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      Timeout: 10
    Metadata:
      Dockerfile: Dockerfile
      DockerContext: image_app/
      DockerTag: watch
"""


def zipped_code(tag: str) -> str:
    return f"def handler(event, context):\n    return {tag!r}\n"


def reply(endpoint: str, name: str) -> object:
    status, _, body = invoke_http(endpoint, name)
    return body if status == 200 else None


@pytest.mark.docker
def test_code_and_image_edits_reload(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "zipped").mkdir(parents=True)
    (app / "zipped" / "app.py").write_text(zipped_code("v1"))
    shutil.copytree(FIXTURES / "functions" / "image_app", app / "image_app")
    (app / "template.yaml").write_text(TEMPLATE)
    server = start_up(
        app / "template.yaml", tmp_path / ".samrun", "--watch", *backend_args("docker")
    )
    try:
        assert reply(server.lambda_endpoint, "Zipped") == "v1"
        first = reply(server.lambda_endpoint, "Imaged")
        assert isinstance(first, dict) and json.loads(first["body"])["greeting"] == "hello"
        (app / "zipped" / "app.py").write_text(zipped_code("v2"))
        wait_until(lambda: reply(server.lambda_endpoint, "Zipped") == "v2", timeout=30)
        source = app / "image_app" / "app.py"
        source.write_text(source.read_text().replace('"greeting": text', '"greeting": "edited"'))

        def edited() -> bool:
            body = reply(server.lambda_endpoint, "Imaged")
            return isinstance(body, dict) and json.loads(body["body"])["greeting"] == "edited"

        wait_until(edited, timeout=60, interval=0.5)
    finally:
        assert server.stop() == 0
