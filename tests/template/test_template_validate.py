"""validate_template: cfn-lint plus samrun's checks, each located in the template as written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from samrun.template import validate_template
from tests.template.conftest import EXAMPLES

HEADER = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"


def write_app(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "index.cjs").write_text("exports.handler = async () => 1;\n")
    path = tmp_path / "template.yaml"
    path.write_text(HEADER + body)
    return path


def rendered(path: Path, **kwargs: object) -> list[str]:
    return [p.render() for p in validate_template(path, **kwargs)]  # type: ignore[arg-type]


def test_a_clean_app_has_no_problems(tmp_path: Path) -> None:
    path = write_app(
        tmp_path,
        """Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
  Node:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: node
      Handler: index.handler
      Runtime: nodejs22.x
""",
    )
    assert validate_template(path) == []


def test_limits_are_reported_at_the_offending_property(tmp_path: Path) -> None:
    layers = "".join(
        f"        - arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1\n" for i in range(6)
    )
    path = write_app(
        tmp_path,
        f"""Globals:
  Function:
    Timeout: 901
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 64
      Environment:
        Variables:
          BIG: {"x" * 4100}
      Layers:
{layers}""",
    )
    problems = {p.rule: p for p in validate_template(path) if p.rule.startswith("samrun")}
    where = {rule: (p.location.line, p.location.column) for rule, p in problems.items()}
    assert where["samrun-memory"] == (13, 7)
    assert where["samrun-timeout"] == (5, 5)  # set in Globals, reported there
    assert where["samrun-environment"] == (14, 7)
    assert where["samrun-layers"] == (17, 7)
    assert "4103 bytes" in problems["samrun-environment"].message
    assert all(p.is_error for p in problems.values())
    assert str(problems["samrun-memory"].location).startswith(str(path))


@pytest.mark.parametrize(
    ("runtime", "handler", "needs"),
    [
        ("python3.12", "pkg.mod.handler", "pkg/mod.py"),
        ("nodejs22.x", "lib/main.handler", "lib/main.js or lib/main.mjs or lib/main.cjs"),
        ("provided.al2023", "bootstrap", "bootstrap"),
    ],
)
def test_missing_handler_file(tmp_path: Path, runtime: str, handler: str, needs: str) -> None:
    path = write_app(
        tmp_path,
        f"""Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: {handler}
      Runtime: {runtime}
""",
    )
    [problem] = [p for p in validate_template(path) if p.rule == "samrun-handler"]
    assert (problem.location.line, problem.location.column) == (8, 7)
    assert needs in problem.message


def test_handlers_inside_zip_files_and_missing_code(tmp_path: Path) -> None:
    path = write_app(
        tmp_path,
        """Resources:
  Zipped:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app.zip
      Handler: app.handler
      Runtime: python3.12
  Missing:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: nowhere
      Handler: app.handler
      Runtime: python3.12
""",
    )
    with zipfile.ZipFile(tmp_path / "app.zip", "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
    problems = [p for p in validate_template(path) if p.rule.startswith("samrun")]
    assert [(p.rule, p.location.line) for p in problems] == [("samrun-code", 13)]
    assert "does not exist" in problems[0].message


def test_cfn_lint_problems_are_located_and_graded(tmp_path: Path) -> None:
    path = write_app(
        tmp_path,
        """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: lots
      Bogus: 1
""",
    )
    problems = validate_template(path)
    rules = {p.rule for p in problems}
    assert any(rule.startswith("E3") for rule in rules), rules
    assert all(p.is_error for p in problems if p.rule.startswith("E"))
    assert min(p.location.line for p in problems) >= 6


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a: !Nope x\n", "yaml"),
        (
            "Parameters:\n  P:\n    Type: String\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
            "parameters",
        ),
    ],
)
def test_broken_templates_give_one_problem(tmp_path: Path, text: str, rule: str) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    problems = [p for p in validate_template(path) if p.rule == rule]
    assert len(problems) == 1 and problems[0].is_error


def test_missing_parameter_is_satisfied_by_an_override(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Parameters:\n  P:\n    Type: String\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n"
        "    Properties:\n      QueueName: !Ref P\n"
    )
    assert not any(
        p.rule == "parameters" for p in validate_template(path, parameter_overrides={"P": "q"})
    )


@pytest.mark.parametrize("app", ["orders-api", "alb-app", "quickstart"])
def test_example_apps_validate_clean(app: str) -> None:
    assert rendered(EXAMPLES / app / "template.yaml") == []
