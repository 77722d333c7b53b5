"""One broken resource never stops the app: `up` serves the rest, each broken function answers
Lambda's error for it, `validate` names every problem, `plan` lists what is not run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import FIXTURES, ROOT, SamrunProcess, invoke_http

BROKEN = FIXTURES / "broken"
TEMPLATE = "template.yaml"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(BROKEN, folder)
    return folder


def samrun(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args, "--state-dir", str(folder / ".samrun")],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def line_of(folder: Path, text: str) -> int:
    """The 1-based line of the template where `text` first appears."""
    lines = (folder / TEMPLATE).read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def test_up_serves_the_good_functions_and_each_broken_one_answers_its_error(
    app: Path, samrun_up: object
) -> None:
    server: SamrunProcess = samrun_up(app / TEMPLATE)  # type: ignore[operator]
    endpoint = server.lambda_endpoint
    for name in ("Good", "First", "Second", "Guarded"):
        status, headers, body = invoke_http(endpoint, name)
        assert (status, body) == (200, {"statusCode": 200, "body": name}), (name, body)
        assert "X-Amz-Function-Error" not in headers

    status, headers, body = invoke_http(endpoint, "shared-name")
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "First and Second have the same FunctionName 'shared-name'" in body["message"]

    status, headers, body = invoke_http(endpoint, "NoHandler")
    assert status == 502 and headers["x-amzn-ErrorType"] == "InvalidRuntimeException"
    assert f"{TEMPLATE}:{line_of(app, 'NoHandler:') + 2}:5:" in body["message"]
    assert "a .zip function needs Handler" in body["message"]

    status, headers, body = invoke_http(endpoint, "NoImage")
    assert status == 502 and headers["x-amzn-ErrorType"] == "InvalidRuntimeException"
    assert "'ImageUri' must be set" in body["message"]

    status, headers, body = invoke_http(endpoint, "BadReference")
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert "Fn::GetAtt of 'NoSuchTable', which is not a resource" in body["message"]
    status, _, body = invoke_http(endpoint, "BadSelect")
    assert status == 404 and "Fn::Select index 3 is out of range" in body["message"]

    # a handler file that is not there is the function's own error, as Lambda reports it
    status, headers, body = invoke_http(endpoint, "MissingHandlerFile")
    assert status == 200 and headers["X-Amz-Function-Error"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"

    # the route defined twice is served by its first definition; the parameter's authorizer runs
    assert get(f"{server.api}/twice") == (200, "First")
    assert get(f"{server.api}/good") == (200, "Good")
    assert get(f"{server.api}/guarded", {"Authorization": "deny"})[0] == 403
    assert get(f"{server.api}/guarded", {"Authorization": "allow"}) == (200, "Guarded")

    output = "\n".join(server.lines)
    assert "not run locally" in output
    for name in ("NoHandler", "NoImage", "BadReference", "BadSelect", "CDKMetadata"):
        assert output.count(f" {name} (") == 1, name  # named once at startup
    assert "Second.Events.Get (Api)" in output and "First.Events.Get serves it" in output
    assert "Traceback" not in output

    with urllib.request.urlopen(f"{endpoint}/_samrun/state", timeout=30) as reply:
        state = json.loads(reply.read())
    not_run = {n["name"]: n for n in state["not_run"]}
    assert not_run["BadSelect"]["what"] == "function"
    assert not_run["BadSelect"]["location"].endswith(f":{line_of(app, 'Description: !Select')}:7")


def test_validate_names_each_problem_and_exits_1(app: Path) -> None:
    done = samrun(app, "validate", TEMPLATE)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    expected = {
        "function-name": "First and Second have the same FunctionName 'shared-name'",
        "sam": 'API method "get" defined multiple times for path "/twice"',
        "samrun-handler": "MissingHandlerFile: handler 'missing.handler' needs missing.py",
        "runtime": "NoHandler: a .zip function needs Handler",
        "intrinsics": "Fn::Select index 3 is out of range",
    }
    for rule, message in expected.items():
        assert any(f"[{rule}] {message}" in line for line in out.splitlines()), (rule, out)
    assert f"{TEMPLATE}:{line_of(app, 'CDKMetadataAvailable')}:5: [samrun] condition" in out
    assert "'ImageUri' must be set" in out and "Unable to add Cors configuration" in out
    assert "Traceback" not in done.stderr


def test_plan_lists_the_broken_parts_as_not_run(app: Path) -> None:
    done = samrun(app, "plan", TEMPLATE, "--json")
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    schema = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(plan, schema)
    functions = {f["name"] for f in plan["functions"]}
    assert {"Good", "First", "Second", "MissingHandlerFile", "Guarded"} <= functions
    assert not functions & {"NoHandler", "NoImage", "BadReference", "BadSelect"}
    not_run = {n["name"]: n for n in plan["not_run"]}
    for name, what in (
        ("NoHandler", "function"),
        ("NoImage", "function"),
        ("BadReference", "function"),
        ("BadSelect", "function"),
        ("CDKMetadata", "resource"),
        ("Second.Events.Get", "event"),
        ("CorsApi.Cors", "property"),
    ):
        assert not_run[name]["what"] == what, name
        assert not_run[name]["location"].startswith(f"{app / TEMPLATE}:"), name
    routes = [(r["method"], r["path"], r["function"]) for r in plan["routes"]]
    assert routes.count(("GET", "/twice", "First")) == 1
    assert ("GET", "/guarded", "Guarded") in routes
    table = samrun(app, "plan", TEMPLATE).stdout
    assert f"{app / TEMPLATE}:{line_of(app, 'Description: !Select')}:7: Fn::Select" in table


def test_invoke_of_a_broken_function_answers_its_error(app: Path) -> None:
    done = samrun(app, "invoke", "NoHandler")
    assert done.returncode == 2
    assert "NoHandler: a .zip function needs Handler" in done.stderr
    assert "Traceback" not in done.stderr
    done = samrun(app, "invoke", "Good")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"statusCode": 200, "body": "Good"}


EDGES = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Handler: app.handler, CodeUri: src, InlineCode: "x"}
Resources:
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {DefaultAuthorizer: NotDeclared}
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Http, Path: /work, Method: get}}
        Jobs: {Type: SQS, Properties: {Queue: !GetAtt NoSuchQueue.Arn}}
"""


def test_what_sam_rejects_in_globals_an_api_property_or_one_event_is_left_out_alone(
    app: Path, samrun_up: object
) -> None:
    (app / TEMPLATE).write_text(EDGES)
    plan = json.loads(samrun(app, "plan", TEMPLATE, "--json").stdout)
    not_run = {n["name"]: n for n in plan["not_run"]}
    assert not_run["Globals.Function.InlineCode"]["what"] == "property"
    assert not_run["Globals.Function.InlineCode"]["location"].endswith(":3:71")
    assert not_run["Http.Auth"]["what"] == "property"
    assert "'NotDeclared' was not defined" in not_run["Http.Auth"]["reason"]
    assert not_run["Worker.Events.Jobs"]["what"] == "event"
    assert not_run["Worker.Events.Jobs"]["location"].endswith(":14:9")
    assert [f["name"] for f in plan["functions"]] == ["Worker"]
    server: SamrunProcess = samrun_up(app / TEMPLATE)  # type: ignore[operator]
    assert get(f"{server.api}/work") == (200, "Worker")  # its route, with no authorizer
