"""`samrun plan` and `samrun validate` driven as a user drives them: a subprocess per command."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jsonschema
import pytest

from tests.template.conftest import EXAMPLES, ROOT, TEMPLATES, run_samrun
from tests.template.test_template_loader import LOL_BOMB

SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
LOCATED = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): \[(?P<rule>[\w-]+)\] (?P<msg>.+)$")

ALL_TEMPLATES = [
    *sorted(TEMPLATES.glob("*.yaml")),
    *sorted(TEMPLATES.glob("*.json")),
    *(EXAMPLES / app / "template.yaml" for app in ("quickstart", "orders-api", "alb-app")),
]
ALL_TEMPLATES = [p for p in ALL_TEMPLATES if p.name != "openapi.yaml"]


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_plan_json_validates_against_the_schema(path: Path) -> None:
    result = run_samrun("plan", str(path), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["functions"], "every fixture has functions"
    for function in doc["functions"]:
        if function["package_type"] == "Zip" and function["code_uri"] not in ("inline", None):
            assert function["code_uri"].startswith(("/", "s3://"))


def test_plan_table_has_a_section_per_kind() -> None:
    result = run_samrun("plan", str(EXAMPLES / "orders-api" / "template.yaml"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for title in (
        "Functions (3)",
        "Routes (2)",
        "Event source mappings (1)",
        "Schedules (1)",
        "Resources (3)",
    ):
        assert title in out
    lines = out.splitlines()
    header = lines.index("Routes (2)") + 1
    # aligned: every row of the section starts its PATH column where the header does
    column = lines[header].index("PATH")
    assert lines[header + 2][column - 2 : column] == "  " and lines[header + 2][column] == "/"


def test_plan_finds_template_yaml_in_the_current_folder() -> None:
    result = run_samrun("plan", "--json", cwd=EXAMPLES / "quickstart")
    assert result.returncode == 0, result.stderr
    assert [f["name"] for f in json.loads(result.stdout)["functions"]] == ["HelloFunction"]


def test_parameter_overrides_region_and_account() -> None:
    result = run_samrun(
        "plan",
        str(TEMPLATES / "sam_kitchen.yaml"),
        "--json",
        "--parameter-overrides",
        "Stage=prod",
        "Memory=1024",
        "--region",
        "eu-central-1",
        "--account-id",
        "210987654321",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    api = next(f for f in doc["functions"] if f["logical_id"] == "ApiFunction")
    assert api["name"] == "prod-api"
    assert api["arn"] == "arn:aws:lambda:eu-central-1:210987654321:function:prod-api"
    assert (
        api["environment"]["QUEUE_URL"]
        == "https://sqs.eu-central-1.amazonaws.com/210987654321/WorkQueue"
    )
    assert next(f for f in doc["functions"] if f["logical_id"] == "Inline")["memory_mb"] == 1024
    assert "warning: ApiFunction.Environment: cannot resolve Fn::ImportValue" in result.stderr


BROKEN = {
    "bad-yaml": ("Resources:\n  A: [\n", "yaml"),
    "unknown-tag": ("Resources:\n  A:\n    Type: !Bogus x\n", "yaml"),
    "circular": (
        "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n"
        "      TopicName: !GetAtt B.TopicName\n"
        "  B:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !GetAtt A.TopicName\n",
        "cycles",
    ),
    "bad-parameter": (
        "Parameters:\n  Env:\n    Type: String\n    Default: qa\n    AllowedValues: [dev, prod]\n"
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n",
        "parameters",
    ),
    "alias-bomb": (LOL_BOMB, "yaml"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_template_is_one_line_and_exit_2(case: str, tmp_path: Path) -> None:
    text, rule = BROKEN[case]
    path = tmp_path / "template.yaml"
    path.write_text(text)
    started = time.perf_counter()
    result = run_samrun("plan", str(path), timeout=20)
    elapsed = time.perf_counter() - started
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    match = LOCATED.match(lines[0])
    assert match and match["file"] == str(path) and match["rule"] == rule, lines[0]
    assert "Traceback" not in result.stderr
    assert elapsed < 10


def test_oversized_template_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    with path.open("w") as out:
        out.write("Resources: {}\n")
        out.write(("# " + "x" * 1022 + "\n") * (11 * 1024))
    started = time.perf_counter()
    result = run_samrun("plan", str(path))
    assert result.returncode == 2
    assert "[size] template is 11 MB; samrun reads templates up to 10 MB" in result.stderr
    assert time.perf_counter() - started < 10


def test_validate_exit_codes_and_line_format(tmp_path: Path) -> None:
    clean = run_samrun("validate", str(EXAMPLES / "orders-api"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout == ""
    (tmp_path / "src").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n"
        "    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src\n"
        "      Handler: app.handler\n      Runtime: python3.12\n"
        "      Timeout: 0\n"
    )
    broken = run_samrun("validate", str(path))
    assert broken.returncode == 1
    lines = broken.stdout.strip().splitlines()
    assert lines and all(LOCATED.match(line) for line in lines), lines
    located = {m["rule"]: (m["line"], m["col"]) for m in map(LOCATED.match, lines) if m}
    assert located["samrun-handler"] == ("7", "7")
    assert located["samrun-timeout"] == ("9", "7")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LOL_BOMB)
    result = run_samrun("validate", str(bomb), timeout=20)
    assert result.returncode == 1 and "alias bomb" in result.stdout
