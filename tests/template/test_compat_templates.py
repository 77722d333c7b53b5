"""Templates CloudFormation and SAM CLI accept run; the one CloudFormation refuses is refused.

Each case is an app written for it (tests/fixtures/templates/compat/), driven through the CLI
and a real `samrun up`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import invoke_http
from tests.template.conftest import TEMPLATES, run_samrun

COMPAT = TEMPLATES / "compat"


def test_two_functions_with_one_name_are_a_validate_error_and_both_run(samrun_up: Any) -> None:
    template = COMPAT / "dup_names.yaml"
    result = run_samrun("validate", str(template))
    assert result.returncode == 1
    ours = [line for line in result.stdout.splitlines() if "[function-name]" in line]
    message = (
        "First and Second have the same FunctionName 'shared-name' (CloudFormation refuses two "
        "functions with one name): each runs under its logical id; invoke it by that"
    )
    assert ours == [f"{template}:17:7: [function-name] {message}"]
    server = samrun_up(template)  # as SAM CLI runs them: both, under their logical ids
    assert sum(f"{template}:17:7: {message}" in line for line in server.lines) == 1
    for name in ("First", "Second"):
        status, _, _ = invoke_http(server.lambda_endpoint, name, {})
        assert status == 200, name
    status, headers, body = invoke_http(server.lambda_endpoint, "shared-name", {})
    assert (status, headers["x-amzn-ErrorType"]) == (404, "ResourceNotFoundException")
    assert body["message"] == message


def test_missing_transform_warns_once_located_and_runs(samrun_up: Any) -> None:
    template = COMPAT / "no_transform.yaml"
    server = samrun_up(
        template,
        "--parameter-overrides",
        "ParameterKey=Stage,ParameterValue=dev ParameterKey=Color,ParameterValue=red",
    )
    warnings = [line for line in server.lines if "no 'Transform:" in line]
    assert len(warnings) == 1
    assert f"{template}:10:5: 1 AWS::Serverless::* resource(s)" in warnings[0]
    status, _, body = invoke_http(server.lambda_endpoint, "hello-dev", {"keys": ["STAGE", "COLOR"]})
    assert (status, body) == (200, {"STAGE": "dev", "COLOR": "red"})


def test_parameters_without_value_start_with_a_placeholder(samrun_up: Any) -> None:
    template = COMPAT / "no_transform.yaml"
    server = samrun_up(template, "--parameter-overrides", "Color=red")
    missing = [line for line in server.lines if "has no Default" in line]
    assert len(missing) == 1 and f"{template}:4:3: parameter Stage" in missing[0]
    assert "${unresolved:Ref Stage}" in missing[0]
    # FunctionName !Sub "hello-${Stage}" cannot be known: the function is named Hello (SAM CLI)
    status, _, body = invoke_http(server.lambda_endpoint, "Hello", {"keys": ["STAGE", "COLOR"]})
    assert (status, body) == (200, {"STAGE": "${unresolved:Ref Stage}", "COLOR": "red"})
    validate = run_samrun("validate", str(template), "--parameter-overrides", "Color=red")
    reported = [line for line in validate.stdout.splitlines() if "[parameters]" in line]
    assert reported == [
        f"{template}:4:3: [parameters] parameter Stage has no Default and no "
        "--parameter-overrides value: where it is used, its value is ${unresolved:Ref Stage}"
    ]
    assert validate.returncode == 1


def test_one_override_argument_holds_several_parameters(tmp_path: Path) -> None:
    template = COMPAT / "no_transform.yaml"
    result = run_samrun(
        "plan",
        str(template),
        "--json",
        "--state-dir",
        str(tmp_path),
        "--parameter-overrides",
        "ParameterKey=Stage,ParameterValue=qa ParameterKey=Color,ParameterValue='dark blue'",
    )
    assert result.returncode == 0, result.stderr
    function = json.loads(result.stdout)["functions"][0]
    assert function["name"] == "hello-qa"
    assert function["environment"] == {"STAGE": "qa", "COLOR": "dark blue"}
    assert "has no Default" not in result.stderr


def test_references_cloudformation_deploys_are_not_cycles(samrun_up: Any) -> None:
    template = COMPAT / "false_cycles.yaml"
    result = run_samrun("validate", str(template))
    assert result.returncode == 0, result.stdout
    assert "circular" not in result.stdout
    server = samrun_up(template)
    status, _, body = invoke_http(server.lambda_endpoint, "Hello", {}, qualifier="live")
    assert status == 200 and json.loads(body["body"])["function"] == "Hello"


def test_a_real_cycle_is_still_found_on_the_transformed_template(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n"
        "  A:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n"
        "      Handler: a.b\n      InlineCode: x\n      Environment:\n        Variables:\n"
        "          PEER: !GetAtt B.Arn\n"
        "  B:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n"
        "      Handler: a.b\n      InlineCode: x\n      Environment:\n        Variables:\n"
        "          PEER: !GetAtt A.Arn\n"
    )
    result = run_samrun("plan", str(path), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert re.fullmatch(
        rf"{re.escape(str(path))}:11:11: \[cycles\] circular reference: A -> B -> A\n",
        result.stderr,
    )


def test_a_missing_definition_file_is_one_located_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Machine:\n"
        "    Type: AWS::Serverless::StateMachine\n    Properties:\n"
        "      DefinitionUri: statemachine/missing.asl.json\n"
    )
    result = run_samrun("plan", str(path), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    missing = tmp_path / "statemachine" / "missing.asl.json"
    assert result.stderr == f"{path}:6:7: [sam] DefinitionUri {missing} does not exist\n"
