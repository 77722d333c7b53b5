"""`samrun up --watch`: a changed requirements.txt is built in the background while the old
code keeps serving, then the function reloads onto the new packages; a broken one is refused
and the last good build keeps serving."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from tests.build.conftest import TEMPLATES
from tests.conftest import invoke_http, start_up, wait_until

SIX_APP = """\
import json

import six


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"six": six.__version__})}
"""


def get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_a_changed_manifest_rebuilds_then_reloads(tmp_path: Path) -> None:
    app = tmp_path / "deps-app"
    shutil.copytree(TEMPLATES / "deps-app", app)
    server = start_up(app / "template.yaml", tmp_path / "state", "--watch")
    try:
        server.wait_for("watching")
        assert get(f"{server.api}/py/1000")["size"] == "1.0 kB"
        mark = len(server.lines)
        (app / "python" / "requirements.txt").write_text("six==1.16.0\n")
        (app / "python" / "app.py").write_text(SIX_APP)
        server.wait_for(r"build PyFunction \(pip, python3.11\): built in", timeout=120, start=mark)
        server.wait_for(r"reloaded \(build: PyFunction", timeout=30, start=mark)
        assert get(f"{server.api}/py/1")["six"] == "1.16.0"

        mark = len(server.lines)
        (app / "python" / "requirements.txt").write_text("samrun-no-such-package-xyz==1\n")
        server.wait_for(r"build of function PyFunction failed", timeout=120, start=mark)
        server.wait_for("the last good app keeps serving", timeout=30, start=mark)
        assert wait_until(lambda: get(f"{server.api}/py/1").get("six") == "1.16.0")
        assert not any("Traceback" in line for line in server.lines)
    finally:
        server.stop()


BUNDLED = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Bundled:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: nodejs20.x
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        EntryPoints: [app.ts]
"""


def test_an_edited_bundled_source_is_bundled_again(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(BUNDLED)
    source = tmp_path / "src" / "app.ts"
    source.write_text("export const handler = async (): Promise<string> => 'one';\n")
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun", "--watch")
    try:
        server.wait_for("watching")
        assert invoke_http(server.lambda_endpoint, "Bundled")[2] == "one"
        mark = len(server.lines)
        source.write_text("export const handler = async (): Promise<string> => 'two';\n")
        server.wait_for(r"build Bundled \(esbuild, nodejs20.x\): built in", timeout=60, start=mark)
        server.wait_for(r"reloaded \(build: Bundled", timeout=30, start=mark)
        assert invoke_http(server.lambda_endpoint, "Bundled")[2] == "two"
    finally:
        server.stop()
