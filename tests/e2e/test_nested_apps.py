"""Nested applications run as part of the app: a local child's function answers its route, its
Parameters and Outputs flow, it is named Child/Function and by FunctionName; remote locations are
named once (tests/fixtures/templates/compat/nested/)."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from samrun.watch import included_files
from tests.conftest import invoke_http
from tests.template.conftest import TEMPLATES, run_samrun

TEMPLATE = TEMPLATES / "compat" / "nested" / "template.yaml"


def test_a_child_function_answers_its_route_with_the_parents_parameters(samrun_up: Any) -> None:
    server = samrun_up(TEMPLATE)
    with urllib.request.urlopen(server.api + "/child/hello", timeout=60) as response:
        body = json.loads(response.read())
    assert body["function"] == "Child-Hello"
    assert body["greeting"] == "hello from the parent"
    assert body["queue"].endswith("/Child-Jobs") and "amazonaws.com" not in body["queue"]
    status, _, named = invoke_http(server.lambda_endpoint, "child-named", {})
    assert status == 200 and json.loads(named["body"])["greeting"] == "named"
    remote = [line for line in server.lines if "is not fetched" in line]
    assert len(remote) == 2  # the SAR application and the remote stack, once each
    assert any("SAR application arn:aws:serverlessrepo" in line for line in remote)


def test_the_parent_reads_the_childs_outputs(samrun_up: Any) -> None:
    server = samrun_up(TEMPLATE)
    status, _, body = invoke_http(
        server.lambda_endpoint, "Reader", {"keys": ["CHILD_FUNCTION", "CHILD_QUEUE"]}
    )
    assert (status, body) == (
        200,
        {
            "CHILD_FUNCTION": "arn:aws:lambda:us-east-1:123456789012:function:Child-Hello",
            "CHILD_QUEUE": "Child-Jobs",
        },
    )


def test_invoke_names_a_child_function_as_sam_cli_does(tmp_path: Path) -> None:
    result = run_samrun(
        "invoke", str(TEMPLATE), "Child/Hello", "--state-dir", str(tmp_path), timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"])["function"] == "Child-Hello"


def test_the_lambda_api_takes_child_function_names_as_sam_cli_start_lambda(
    samrun_up: Any,
) -> None:
    server = samrun_up(TEMPLATE)
    lambda_client: Any = server.lambda_client()
    reply = lambda_client.invoke(FunctionName="Child/Hello", Payload=b"{}")  # sent as Child%2FHello
    body = json.loads(json.loads(reply["Payload"].read())["body"])
    assert body["function"] == "Child-Hello"
    status, _, raw = invoke_http(server.lambda_endpoint, "Child/Named", {})  # a bare slash
    assert status == 200 and json.loads(raw["body"])["greeting"] == "named"
    status, _, missing = invoke_http(server.lambda_endpoint, "Child/Nobody", {})
    assert status == 404, missing  # an error in Lambda's shape, not a route miss
    assert isinstance(missing, dict) and missing["message"].startswith("Function not found: ")
    # GetFunction and GetFunctionConfiguration by the nested name (boto3 sends Child%2FHello)
    found = lambda_client.get_function(FunctionName="Child/Hello")
    assert found["Configuration"]["FunctionName"] == "Child-Hello"
    config = lambda_client.get_function_configuration(FunctionName="Child/Hello")
    assert config["FunctionArn"].endswith(":function:Child-Hello")
    for name in ("Child/Nobody", "Nope/Hello"):  # a clean error, never a route miss
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.get_function(FunctionName=name)
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
            lambda_client.list_versions_by_function(FunctionName=name)
    # a bare slash, as curl sends it: the nested function, or Lambda's own errors in JSON
    api = server.lambda_endpoint + "/2015-03-31/functions/"
    assert _get(api + "Child/Hello")[1]["Configuration"]["FunctionName"] == "Child-Hello"
    assert _get(api + "Child/Hello/configuration")[1]["FunctionName"] == "Child-Hello"
    status, body = _get(api + "Child/Nobody")
    assert (status, body["Type"]) == (404, "User")
    assert body["message"].startswith("Function not found: ")
    status, body = _get(api + "Nope/Hello/configuration")  # no such stack: no such route
    assert status == 404 and body["message"].startswith("Unknown operation")


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers.get("Content-Type", "").startswith("application/json")
        return exc.code, json.loads(exc.read())


def test_watch_reloads_when_a_child_template_changes(samrun_up: Any, tmp_path: Path) -> None:
    copy = tmp_path / "compat"
    shutil.copytree(TEMPLATE.parent, copy / "nested")
    shutil.copytree(TEMPLATE.parent.parent / "src", copy / "src")
    parent = copy / "nested" / "template.yaml"  # the child as a CloudFormation nested stack
    parent.write_text(
        parent.read_text().replace(
            "    Type: AWS::Serverless::Application\n    Properties:\n      Location: child/",
            "    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: child/",
        )
    )
    assert "TemplateURL: child/" in parent.read_text()
    server = samrun_up(parent, "--watch")
    child = copy / "nested" / "child" / "template.yaml"
    mark = len(server.lines)
    child.write_text(child.read_text().replace("GREETING: named", "GREETING: renamed"))
    server.wait_for(r"samrun: reloaded \(", start=mark, timeout=60)
    status, _, named = invoke_http(server.lambda_endpoint, "child-named", {})
    assert status == 200 and json.loads(named["body"])["greeting"] == "renamed"


def test_watch_follows_nested_templates_down(tmp_path: Path) -> None:
    """A grandchild template and a child's definition files are watched (the pure walk)."""
    (tmp_path / "child" / "grand").mkdir(parents=True)
    (tmp_path / "child" / "template.yaml").write_text(
        "Resources:\n  Grand:\n    Type: AWS::Serverless::Application\n"
        "    Properties: {Location: grand/template.yaml}\n"
        "  Machine:\n    Type: AWS::Serverless::StateMachine\n"
        "    Properties: {DefinitionUri: machine.asl.json}\n"
    )
    (tmp_path / "child" / "grand" / "template.yaml").write_text("Resources: {}\n")
    parent = {"Resources": {"C": {"Properties": {"TemplateURL": "child/template.yaml"}}}}
    assert included_files(parent, tmp_path) == {
        tmp_path / "child" / "template.yaml",
        tmp_path / "child" / "grand" / "template.yaml",
        tmp_path / "child" / "machine.asl.json",
    }


def test_validate_checks_each_child_template_at_its_own_lines(tmp_path: Path) -> None:
    (tmp_path / "child" / "src").mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Child:\n"
        "    Type: AWS::Serverless::Application\n"
        "    Properties:\n"
        "      Location: child/template.yaml\n"
        "      Parameters: {Greeting: hi}\n"
    )
    child = tmp_path / "child" / "template.yaml"
    child.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Parameters:\n"
        "  Greeting: {Type: String}\n"
        "Resources:\n"
        "  Hello:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      Runtime: python3.11\n"
        "      Handler: app.handler\n"
        "      CodeUri: src/\n"
        "      Timeout: 9999\n"
        "      Environment: {Variables: {GREETING: !Ref Greeting}}\n"
    )
    result = run_samrun("validate", str(tmp_path / "template.yaml"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert f"{child}:11:7: [samrun-timeout] Hello: Timeout 9999" in output
    assert f"{child}:11:7: [E3034]" in output  # cfn-lint runs on the child too
    assert "template.yaml:2:1" not in output  # not once more at the parent's first line
    assert "Greeting" not in output  # the parent's Parameters reach the child
    good = run_samrun("validate", str(TEMPLATE), cwd=TEMPLATE.parent)
    assert good.returncode == 0, good.stdout + good.stderr


NAMES_HANDLER = "def handler(event, context):\n    return context.function_name\n"


def _function(name: str | None = None) -> str:
    named = f"      FunctionName: {name}\n" if name else ""
    return (
        "    Type: AWS::Serverless::Function\n    Properties:\n"
        f"{named}      Runtime: python3.11\n      Handler: index.handler\n"
        f"      InlineCode: {json.dumps(NAMES_HANDLER)}\n"
    )


def _names_app(folder: Path) -> Path:
    """A parent with a function `Common`, child Alpha with `Hello`, `Shared` and `Common`,
    child Beta with `Shared` (named beta-shared): `Hello` is unique, `Shared` ambiguous,
    `Common` the parent's."""
    for child in ("alpha", "beta"):
        (folder / child).mkdir(parents=True)
    header = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
    (folder / "alpha" / "template.yaml").write_text(
        header
        + "  Hello:\n"
        + _function()
        + "  Shared:\n"
        + _function()
        + "  Common:\n"
        + _function()
    )
    (folder / "beta" / "template.yaml").write_text(
        header + "  Shared:\n" + _function("beta-shared")
    )
    template = folder / "template.yaml"
    template.write_text(
        header
        + "  Common:\n"
        + _function()
        + "  Alpha:\n    Type: AWS::Serverless::Application\n"
        + "    Properties: {Location: alpha/template.yaml}\n"
        + "  Beta:\n    Type: AWS::CloudFormation::Stack\n"
        + "    Properties: {TemplateURL: beta/template.yaml}\n"
    )
    return template


def test_a_nested_function_answers_to_its_bare_id_where_it_is_unique(
    samrun_up: Any, tmp_path: Path
) -> None:
    server = samrun_up(_names_app(tmp_path / "app"))
    lambda_client: Any = server.lambda_client()

    def called(name: str) -> Any:
        return json.loads(lambda_client.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())

    assert called("Hello") == called("Alpha/Hello") == "Alpha-Hello"
    assert called("Common") == "Common"  # the parent's own, as SAM CLI finds a full path first
    assert called("Alpha/Common") == "Alpha-Common"
    assert called("beta-shared") == called("Beta/Shared") == "beta-shared"
    config = lambda_client.get_function_configuration(FunctionName="Hello")
    assert config["FunctionName"] == "Alpha-Hello"
    assert lambda_client.get_function(FunctionName="Hello:$LATEST")["Configuration"][
        "FunctionArn"
    ].endswith(":function:Alpha-Hello")
    for call in (
        lambda: lambda_client.invoke(FunctionName="Shared", Payload=b"{}"),
        lambda: lambda_client.get_function(FunctionName="Shared"),
    ):
        with pytest.raises(lambda_client.exceptions.ResourceNotFoundException) as raised:
            call()
        message = raised.value.response["Error"]["Message"]
        assert "Shared is ambiguous" in message, message
        assert "Alpha/Shared, Beta/Shared" in message, message
    status, _, body = invoke_http(server.lambda_endpoint, "Shared", {})
    assert status == 404 and isinstance(body, dict), body
    assert body["Type"] == "User" and "ambiguous" in body["message"]


def test_invoke_takes_a_bare_nested_id_and_refuses_an_ambiguous_one(tmp_path: Path) -> None:
    template = _names_app(tmp_path / "app")
    state = str(tmp_path / "state")
    found = run_samrun("invoke", str(template), "Hello", "--state-dir", state, timeout=120)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == "Alpha-Hello"
    ambiguous = run_samrun("invoke", str(template), "Shared", "--state-dir", state, timeout=120)
    assert ambiguous.returncode == 2, ambiguous.stdout + ambiguous.stderr
    assert "Shared is ambiguous" in ambiguous.stderr
    assert "Alpha/Shared, Beta/Shared" in ambiguous.stderr
    assert "Traceback" not in ambiguous.stderr


def test_a_broken_child_function_answers_its_error_and_fails_smoke(tmp_path: Path) -> None:
    (tmp_path / "child.yaml").write_text(
        "Resources:\n  Broken:\n    Type: AWS::Lambda::Function\n    Properties:\n"
        "      Handler: app.handler\n      Code: {ZipFile: x}\n"
    )
    parent = tmp_path / "template.yaml"
    parent.write_text(
        "Resources:\n  Child:\n    Type: AWS::CloudFormation::Stack\n"
        "    Properties:\n      TemplateURL: child.yaml\n"
    )
    state = str(tmp_path / "state")
    for name in ("Child/Broken", "Broken"):
        result = run_samrun("invoke", str(parent), name, "--state-dir", state, timeout=120)
        assert result.returncode == 2, result.stderr
        assert f"{tmp_path / 'child.yaml'}:4:5: Broken: a .zip function needs Runtime" in (
            result.stderr
        )
    smoke = run_samrun("smoke", str(parent), "--state-dir", state, timeout=120)
    assert smoke.returncode == 1
    assert "FAIL  Child/Broken initialises" in smoke.stdout
