"""`samrun invoke`, and the AWS CLI against `samrun up`: the commands as users type them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import FIXTURES

TEMPLATE = FIXTURES / "templates" / "core.yaml"
ZIP_TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Zipped:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: code.zip
"""


def samrun(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=cwd,
    )


def test_invoke_prints_the_response_and_logs_apart(tmp_path: Path) -> None:
    result = samrun(
        "invoke",
        str(TEMPLATE),
        "Echo",
        "-e",
        "-",
        "--state-dir",
        str(tmp_path),
        stdin=b'{"from": "stdin"}',
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["event"] == {"from": "stdin"}
    logs = result.stderr.decode()
    assert "START RequestId:" in logs and "REPORT RequestId:" in logs
    assert 'echo {"from": "stdin"}' in logs


def test_invoke_reads_an_event_file_and_fails_on_a_function_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}")
    result = samrun("invoke", str(TEMPLATE), "Fail", "-e", str(event), "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert json.loads(result.stdout)["errorType"] == "ValueError"


def test_invoke_finds_template_yaml_in_the_current_folder(tmp_path: Path) -> None:
    quickstart = FIXTURES.parent.parent / "templates" / "quickstart"
    result = samrun("invoke", "HelloFunction", "--state-dir", str(tmp_path), cwd=quickstart)
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"]) == {"message": "Hello, world!"}


def test_invoke_errors_are_one_clear_line(tmp_path: Path) -> None:
    missing = samrun("invoke", str(TEMPLATE), "Nope", "--state-dir", str(tmp_path))
    assert missing.returncode == 2
    assert missing.stderr.decode().strip() == (
        "samrun: Function not found: arn:aws:lambda:us-east-1:123456789012:function:Nope"
    )
    no_file = samrun("invoke", str(TEMPLATE), "Echo", "-e", str(tmp_path / "none.json"))
    assert no_file.returncode == 2
    assert b"Traceback" not in no_file.stderr and b"No such file" in no_file.stderr
    bad_json = samrun("invoke", str(TEMPLATE), "Echo", "-e", "-", stdin=b"{oops")
    assert bad_json.returncode == 2 and b"Could not parse request body into json" in bad_json.stderr


def test_zip_code_runs_and_a_zip_slip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(ZIP_TEMPLATE)
    with zipfile.ZipFile(tmp_path / "code.zip", "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 'zipped'\n")
    ok = samrun("invoke", "Zipped", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == "zipped"

    with zipfile.ZipFile(tmp_path / "code.zip", "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
        archive.writestr("../../escaped.py", "print('escaped')\n")
    refused = samrun("invoke", "Zipped", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert refused.returncode == 2
    assert b"escapes its folder" in refused.stderr
    assert not list(tmp_path.rglob("escaped.py"))


def test_aws_cli_invoke_against_samrun_up(samrun_up, tmp_path: Path) -> None:
    server = samrun_up(TEMPLATE)
    aws = Path(sys.executable).with_name("aws")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    outfile = tmp_path / "out.json"
    result = subprocess.run(
        [
            str(aws),
            "lambda",
            "invoke",
            "--endpoint-url",
            server.lambda_endpoint,
            "--function-name",
            "Echo",
            "--payload",
            '{"via": "aws-cli"}',
            "--log-type",
            "Tail",
            str(outfile),
        ],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    metadata = json.loads(result.stdout)
    assert metadata["StatusCode"] == 200 and metadata["ExecutedVersion"] == "$LATEST"
    assert "REPORT RequestId" in base64.b64decode(metadata["LogResult"]).decode()
    assert json.loads(outfile.read_text())["event"] == {"via": "aws-cli"}
