"""The command line itself: repeatable options accumulate, `--version`, and what a list option
must not swallow."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from samrun.cli import make_parser
from tests.template.conftest import ROOT, TEMPLATES, run_samrun

SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
KITCHEN = TEMPLATES / "sam_kitchen.yaml"

REPEATABLE = [
    ("up", "--parameter-overrides", "parameter_overrides", ["A=1", "B=2"]),
    ("up", "--layer-map", "layer_map", ["arn:aws:lambda:x:1:layer:a:1=a", "arn:b=b"]),
    ("up", "--image-map", "image_map", ["python3.11=x", "python3.12=y"]),
    ("up", "--alb-port", "alb_port", ["L1=8080", "L2=8081"]),
    ("up", "--allow-origin", "allow_origin", ["http://a.test", "http://b.test"]),
    ("up", "--function", "functions", ["FnA", "FnB"]),
    ("plan", "--function", "functions", ["FnA", "FnB"]),
    ("smoke", "--function", "functions", ["FnA", "FnB"]),
    ("invoke", "--image-map", "image_map", ["python3.11=x", "python3.12=y"]),
]


@pytest.mark.parametrize(("command", "flag", "dest", "values"), REPEATABLE)
def test_a_repeatable_option_accumulates_either_way(
    command: str, flag: str, dest: str, values: list[str]
) -> None:
    parser = make_parser()
    head = [command, "T.yaml", "Fn"] if command == "invoke" else [command, "T.yaml"]
    repeated = parser.parse_args([*head, flag, values[0], flag, values[1]])
    listed = parser.parse_args([*head, flag, *values])
    assert getattr(repeated, dest) == values
    assert getattr(listed, dest) == values
    assert getattr(parser.parse_args(head), dest) in ([], None)


def test_version_prints_the_package_version() -> None:
    result = run_samrun("--version")
    assert result.returncode == 0, result.stderr
    from importlib.metadata import version

    assert result.stdout.strip() == f"samrun {version('samrun')}"


def test_two_parameter_override_flags_both_apply(tmp_path: Path) -> None:
    result = run_samrun(
        "plan", str(KITCHEN), "--json", "--state-dir", str(tmp_path / ".samrun"),
        "--parameter-overrides", "Stage=prod", "--parameter-overrides", "Memory=512",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    jsonschema.validate(plan, SCHEMA)
    function = next(f for f in plan["functions"] if f["logical_id"] == "Authorizer")
    assert function["environment"]["STAGE"] == "prod"  # the first flag
    assert function["memory_mb"] == 512  # and the second
    assert plan["samconfig"] is None


def test_a_list_option_that_swallows_the_template_is_a_usage_error(tmp_path: Path) -> None:
    result = run_samrun("plan", "--function", "ApiFunction", str(KITCHEN), cwd=tmp_path)
    assert result.returncode == 2
    assert "was read as a value of --function" in result.stderr
    assert "Traceback" not in result.stderr
    ended = run_samrun("plan", "--function", "ApiFunction", "--", str(KITCHEN), cwd=tmp_path)
    assert ended.returncode == 0, ended.stderr
