"""Item 16: in watch mode, an edit is judged by what it changes. A problem `up` accepted at
startup (another function's missing handler file, served as Runtime.ImportModuleError) does not
block an edit of other code or of the template; a problem the edit brings still does."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SamrunProcess, invoke_http, start_up

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: src/
    Timeout: 10
Resources:
  Good:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Environment:
        Variables:
          TAG: {tag}
  Missing:
    Type: AWS::Serverless::Function
    Properties:
      Handler: missing.handler
"""
HANDLER = """import os

def handler(event, context):
    return {{"code": "{code}", "tag": os.environ["TAG"]}}
"""


def write(folder: Path, code: str = "v1", tag: str = "t1") -> None:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER.format(code=code))
    (folder / "template.yaml").write_text(TEMPLATE.format(tag=tag))


def reloaded(server: SamrunProcess, start: int, what: str) -> None:
    server.wait_for(rf"samrun: reloaded \(.*{re.escape(what)}", start=start, timeout=30)
    assert not [line for line in server.lines[start:] if "edit not applied" in line]


def test_unrelated_startup_problem_does_not_block_a_reload(tmp_path: Path) -> None:
    app = tmp_path / "app"
    write(app)
    server = start_up(app / "template.yaml", app / ".samrun", "--watch")
    try:
        status, headers, _ = invoke_http(server.lambda_endpoint, "Missing")
        assert status == 200
        assert headers.get("X-Amz-Function-Error") == "Unhandled"  # served, as up accepted it
        assert invoke_http(server.lambda_endpoint, "Good")[2] == {"code": "v1", "tag": "t1"}

        mark = len(server.lines)
        (app / "src" / "app.py").write_text(HANDLER.format(code="v2"))  # both functions' folder
        reloaded(server, mark, "code: Good")
        assert invoke_http(server.lambda_endpoint, "Good")[2] == {"code": "v2", "tag": "t1"}

        mark = len(server.lines)
        (app / "template.yaml").write_text(TEMPLATE.format(tag="t2"))  # Missing is left as is
        reloaded(server, mark, "template: ")
        assert invoke_http(server.lambda_endpoint, "Good")[2] == {"code": "v2", "tag": "t2"}

        mark = len(server.lines)  # a problem the edit brings is still refused
        (app / "template.yaml").write_text(
            TEMPLATE.format(tag="t3").replace("app.handler", "gone.handler")
        )
        server.wait_for(r"\[samrun-handler\] Good", start=mark)
        server.wait_for("edit not applied", start=mark)
        assert invoke_http(server.lambda_endpoint, "Good")[2] == {"code": "v2", "tag": "t2"}
    finally:
        assert server.stop() == 0
