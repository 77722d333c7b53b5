"""Runtime warnings come at startup, before the first invoke: a Python or Node.js version this
machine lacks, and what runs instead. Error traces show the function's files, never samrun's
runtime (bootstrap) files."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import invoke_http, start_up

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: src/
    Timeout: 10
Resources:
  Future:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.14
      Handler: app.handler
  OldNode:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs18.x
      Handler: fail.handler
  NodeEsm:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: failesm.handler
  Missing:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: missing.handler
  PyFail:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.fail
"""
FILES = {
    "app.py": "def handler(e, c):\n    return 1\n\ndef fail(e, c):\n    raise ValueError('boom')\n",
    "fail.js": "exports.handler = async () => { throw new Error('boom'); };\n",
    "failesm.mjs": "export const handler = async () => { throw new TypeError('bang'); };\n",
    "missing.js": "require('samrun-not-installed');\nexports.handler = async () => 1;\n",
}


def test_missing_interpreters_are_named_at_startup_and_traces_are_the_functions(
    tmp_path: Path,
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    for name, text in FILES.items():
        (tmp_path / "src" / name).write_text(text)
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun")
    try:
        ready = next(i for i, line in enumerate(server.lines) if "Lambda API on" in line)
        startup = "\n".join(server.lines[:ready])
        assert re.search(r"python3\.14 is not on this machine: python3\.\d+ runs", startup)
        assert re.search(r"node 18 is not on this machine: node \d+ runs nodejs18\.x", startup)

        for name, error_type, own_file in (
            ("OldNode", "Error", "fail.js"),
            ("NodeEsm", "TypeError", "failesm.mjs"),
            ("PyFail", "ValueError", "app.py"),
        ):
            status, headers, body = invoke_http(server.lambda_endpoint, name)
            assert status == 200 and headers.get("X-Amz-Function-Error") == "Unhandled"
            assert isinstance(body, dict) and body["errorType"] == error_type, body
            trace = "\n".join(body["stackTrace" if name == "PyFail" else "trace"])
            assert own_file in trace, body
            assert "bootstrap" not in trace and "samrun" not in trace, body
        status, headers, body = invoke_http(server.lambda_endpoint, "Missing")
        assert isinstance(body, dict) and body["errorType"] == "Runtime.ImportModuleError", body
        assert "missing.js" in body["errorMessage"]  # the require stack: the function's file,
        assert "- /var/runtime/index.mjs" in body["errorMessage"]  # then the runtime, as Lambda
        assert "bootstrap" not in body["errorMessage"] + "\n".join(body["trace"]), body
    finally:
        server.stop()
