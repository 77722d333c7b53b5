"""`samrun smoke` as CI runs it: a subprocess, its exit code, its lines, its JUnit XML."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

QUICKSTART_CHECKS = """\
within: 10
checks:
  - name: greets by path
    http: {method: GET, path: /hello/ci, headers: {Accept: application/json}}
    expect:
      status: 200
      json: {"$.message": "Hello, ci!"}
  - name: direct invoke, event from a file
    invoke: {function: HelloFunction, event_file: events/hello.json}
    expect:
      function_error: false
      json: {"$.body.message": "Hello, file!"}
      invoked: {function: HelloFunction, times: 1}
  - invoke: {function: HelloFunction, event: {name: inline}}
    expect: {body_contains: "Hello, inline!"}
"""


def smoke(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", "smoke", *args, "--state-dir", str(folder / ".samrun")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def junit(path: Path) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    return suite, suite.findall("testcase")


@pytest.fixture
def quickstart(tmp_path: Path) -> Path:
    folder = tmp_path / "quickstart"
    shutil.copytree(ROOT / "templates" / "quickstart", folder)
    (folder / "events").mkdir()
    (folder / "events" / "hello.json").write_text(json.dumps({"name": "file"}))
    (folder / "checks.yaml").write_text(QUICKSTART_CHECKS)
    return folder


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    folder = tmp_path / "failing"
    shutil.copytree(FIXTURES / "smoke" / "failing", folder)
    return folder


def test_quickstart_passes_with_default_checks_and_a_checks_file(quickstart: Path) -> None:
    done = smoke(quickstart, "--checks", "checks.yaml", "--junit", "out/junit.xml")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in (
        "template validates",
        "HelloFunction initialises",
        "greets by path",
        "direct invoke, event from a file",
        "invoke HelloFunction",
    ):
        assert any(line.startswith(f"PASS  {name}  (") for line in lines), (name, lines)
    summary = lines[-1]
    assert summary.startswith("smoke: 5 passed, 0 failed in "), summary
    assert "for 3 invocations" in summary
    suite, cases = junit(quickstart / "out" / "junit.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("5", "0")
    assert [c.find("failure") for c in cases] == [None] * 5
    assert not (quickstart / "src" / ".samrun").exists()  # nothing written into the sources


def test_failing_app_fails_each_broken_part(failing: Path) -> None:
    done = smoke(failing, "--checks", "checks.yaml", "--junit", "report.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    lines = out.splitlines()
    fails = [line.split("  ")[1] for line in lines if line.startswith("FAIL  ")]
    assert fails == ["Broken initialises", "boom route", "job reaches the worker"], out
    passes = [line.split("  ")[1] for line in lines if line.startswith("PASS  ")]
    assert set(passes) == {
        "template validates",
        "sqs Jobs provisioned",
        "Api initialises",
        "Worker initialises",
        "ok route",
    }, out
    assert "Runtime.ImportModuleError" in out and "module_that_does_not_exist" in out
    assert "status 500, expected 200" in out
    assert "Api | the database is down: answering 500" in out  # the log tail of the failure
    assert "Worker invoked 0 times, expected 1" in out
    assert lines[-1].startswith("smoke: 5 passed, 3 failed in ")
    suite, cases = junit(failing / "report.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("8", "3")
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"Broken initialises", "boom route", "job reaches the worker"}
    assert "ImportModuleError" in (failed["Broken initialises"].get("message") or "")


def test_a_function_error_fails_an_invoke_check_with_its_log(failing: Path) -> None:
    (failing / "crash.yaml").write_text(
        "checks:\n  - http: {path: /crash}\n    expect: {status: 200}\n"
        "  - invoke: {function: Api, event: {rawPath: /crash}}\n"
    )
    done = smoke(failing, "--checks", "crash.yaml")
    assert done.returncode == 1
    out = done.stdout
    assert "FAIL  GET /crash  (" in out
    assert "function error of Api: ValueError" in out
    assert "FAIL  invoke Api  (" in out
    assert "function error ValueError" in out
    assert "Api | [ERROR] ValueError: crash on purpose" in out


def test_a_template_with_errors_fails_its_check_and_the_rest_still_run(quickstart: Path) -> None:
    template = quickstart / "template.yaml"
    text = template.read_text().replace("MemorySize: 256", "MemorySize: 99999")
    template.write_text(
        text.replace(
            "\nOutputs:",
            "  NoRuntime:\n    Type: AWS::Lambda::Function\n    Properties:\n"
            "      Handler: app.handler\n      Code: src/\n"
            "      Role: arn:aws:iam::123456789012:role/r\n\nOutputs:",
        )
    )
    done = smoke(quickstart, "--checks", "checks.yaml", "--junit", "junit.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  template validates" in done.stdout
    assert "MemorySize 99999 is outside 128-10240 MB" in done.stdout
    assert "FAIL  NoRuntime initialises" in done.stdout
    assert "template.yaml:28:5: NoRuntime" in done.stdout  # where the broken function is
    assert "NoRuntime: a .zip function needs Runtime" in done.stdout
    assert "PASS  greets by path  (" in done.stdout  # the other checks ran, and passed
    assert "PASS  HelloFunction initialises  (" in done.stdout
    _, cases = junit(quickstart / "junit.xml")
    failed = {c.get("name"): c.find("failure") for c in cases}
    assert failed["NoRuntime initialises"] is not None
    assert failed["greets by path"] is None


def test_an_unreadable_template_exits_2_located(quickstart: Path) -> None:
    (quickstart / "template.yaml").write_text("Resources:\n  A: [unclosed\n")
    done = smoke(quickstart)
    assert done.returncode == 2
    assert "template.yaml:" in done.stderr and "Traceback" not in done.stderr


def test_a_bad_checks_file_is_located(quickstart: Path) -> None:
    (quickstart / "bad.yaml").write_text(
        "checks:\n  - http: {path: /hello/x}\n    expect:\n      status: two hundred\n"
    )
    done = smoke(quickstart, "--checks", "bad.yaml")
    assert done.returncode == 2
    assert "bad.yaml:4:15: [smoke-checks] checks/0/expect/status:" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_two_smoke_runs_side_by_side(quickstart: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(quickstart, other, ignore=shutil.ignore_patterns(".samrun"))
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "samrun", "smoke", "--checks", "checks.yaml"],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for folder in (quickstart, other)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs


def test_triggers_items_and_objects(tmp_path: Path) -> None:
    folder = tmp_path / "triggers"
    shutil.copytree(FIXTURES / "smoke" / "triggers", folder)
    done = smoke(folder, "--checks", "checks.yaml", "--junit", "junit.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    passes = {line.split("  ")[1] for line in lines if line.startswith("PASS  ")}
    assert {
        "dynamodb Items provisioned",
        "s3 uploads provisioned",
        "sns Alerts provisioned",
        "sqs Orders provisioned",
        "the writer writes an item",
        "an upload lands",
        "send to topic Alerts",
        "send to queue Orders",
        "put event Ping on default",
    } <= passes, done.stdout
    fails = [line.split("  ")[1] for line in lines if line.startswith("FAIL  ")]
    assert fails == ["a missing item fails"]
    assert 'no item {"id": {"S": "9"}} in table Items' in done.stdout
    suite, _ = junit(folder / "junit.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("12", "1")


def test_timeout_bounds_the_whole_run(failing: Path) -> None:
    (failing / "slow.yaml").write_text(
        "checks:\n  - send: {queue: Jobs, message: x}\n"
        "    expect: {invoked: {function: Worker}, within: 600}\n"
    )
    done = smoke(failing, "--checks", "slow.yaml", "--timeout", "8", "--junit", "t.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  --timeout 8 s reached" in done.stdout
    suite, cases = junit(failing / "t.xml")
    assert cases[-1].get("name") == "--timeout 8 s reached"
    assert int(suite.get("failures") or 0) >= 1


def test_sends_reach_functions_through_push_sources(tmp_path: Path) -> None:
    folder = tmp_path / "push"
    shutil.copytree(FIXTURES / "smoke" / "push", folder)
    (folder / "events").mkdir()
    generated = subprocess.run(
        [sys.executable, "-m", "samrun", "events", "generate", "sqs", "receive-message"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (folder / "events" / "sqs.json").write_text(generated.stdout)
    done = smoke(folder, "--checks", "checks.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    for name in (
        "an upload reaches OnUpload",
        "an alert reaches OnAlert",
        "a ping reaches OnPing",
        "a generated event",
    ):
        assert f"PASS  {name}  (" in done.stdout
    assert "not run locally" in done.stderr  # named at startup, as `up` names it


def test_a_failed_build_fails_the_smoke(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Made:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.11\n"
        "      CodeUri: src/\n      Handler: app.handler\n    Metadata:\n"
        "      BuildMethod: makefile\n"
    )
    done = smoke(tmp_path, "--junit", "j.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL  dependencies build" in done.stdout and "no Makefile" in done.stdout
    suite, _ = junit(tmp_path / "j.xml")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "1")
