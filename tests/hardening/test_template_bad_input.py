"""Templates that used to crash samrun: JSON nested 2,000 levels (a RecursionError in validate,
plan and up) and a template outline of the wrong kind (`Resources: 5` crashed inside cfn-lint,
`Resources: {A: 5}` in samrun). Each is one located line, `file:line:col: [rule] message`: validate
exits 1 (its errors), plan and up exit 2 (a template error, as the command-line contract says)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.template.conftest import run_samrun

LOCATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): \[(?P<rule>[\w-]+)\] (?P<msg>.+)$")
FUNCTION = (
    '"F": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12", '
    '"Handler": "index.handler", "Role": "arn:aws:iam::123456789012:role/r", '
    '"Code": {"ZipFile": "def handler(e, c): return e"}, "Tags": '
)


def deep_json(levels: int) -> str:
    return "{" + '"Resources": {' + FUNCTION + "[" * levels + "]" * levels + "}}}}"


CASES = {
    "json-2000-levels": (deep_json(2000), "nested deeper than 100 levels"),
    "json-300-levels": (deep_json(300), "nested deeper than 100 levels"),
    "yaml-300-levels": ("Resources:\n  A: " + "[" * 300 + "]" * 300 + "\n", "nested deeper"),
    "resources-5": ("Resources: 5\n", "Resources must be a mapping, not 5"),
    "resource-5": ("Resources:\n  A: 5\n", "resource A must be a mapping with a Type, not 5"),
    "properties-list": (
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties: [1]\n",
        "resource A: Properties must be a mapping, not a list",
    ),
    "parameters-text": (
        "Parameters: none\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
        "Parameters must be a mapping, not the text 'none'",
    ),
    "globals-5": (
        "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function: 5\n"
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n",
        "Globals.Function must be a mapping, not 5",
    ),
}


def one_located_line(output: str, path: Path, message: str) -> re.Match[str]:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    match = LOCATED.match(lines[0])
    assert match and match["file"] == str(path), lines[0]
    assert message in match["msg"], lines[0]
    return match


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_template_is_one_located_line_in_validate_plan_and_up(
    case: str, tmp_path: Path
) -> None:
    text, message = CASES[case]
    path = tmp_path / ("template.json" if text.startswith("{") else "template.yaml")
    path.write_text(text)
    validate = run_samrun("validate", str(path))
    assert validate.returncode == 1, validate.stdout + validate.stderr
    assert "Traceback" not in validate.stdout + validate.stderr
    assert validate.stderr == ""
    one_located_line(validate.stdout, path, message)
    for command in ("plan", "up"):
        state = ["--state-dir", str(tmp_path / ".samrun")]
        extra = ["--port", "0", "--invoke-port", "0"] if command == "up" else []
        result = run_samrun(command, str(path), *state, *extra)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
        one_located_line(result.stderr, path, message)


def test_depth_error_points_at_where_the_nesting_passes_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      X: "
        + "[" * 150
        + "]" * 150
        + "\n"
    )
    result = run_samrun("validate", str(path))
    match = one_located_line(result.stdout, path, "nested deeper than 100 levels")
    # X's list opens at column 10, four levels down; the 101st level opens 97 columns on
    assert (match["line"], match["col"]) == ("5", str(10 + 101 - 4))
