"""NoEcho parameters: functions get the value, every display masks it."""

from __future__ import annotations

import json
from pathlib import Path

from samrun.template import load_graph
from tests.template.conftest import run_samrun

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  DbPassword:
    Type: String
    NoEcho: true
Resources:
  Api:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      InlineCode: "def handler(event, context): return 1"
      Environment:
        Variables:
          DSN: !Sub "postgres://app:${DbPassword}@db/app"
"""


def test_noecho_values_reach_functions_but_never_the_plan(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    overrides = {"DbPassword": "hunter2-secret"}
    graph = load_graph(tmp_path / "template.yaml", parameter_overrides=overrides)
    function = graph.function("Api")
    assert function is not None
    assert function.config.environment["DSN"] == "postgres://app:hunter2-secret@db/app"
    for extra in (["--json"], []):
        result = run_samrun(
            "plan",
            str(tmp_path / "template.yaml"),
            *extra,
            "--parameter-overrides",
            "DbPassword=hunter2-secret",
        )
        assert result.returncode == 0, result.stderr
        assert "hunter2-secret" not in result.stdout + result.stderr
    plan = json.loads(
        run_samrun(
            "plan",
            str(tmp_path / "template.yaml"),
            "--json",
            "--parameter-overrides",
            "DbPassword=hunter2-secret",
        ).stdout
    )
    assert plan["functions"][0]["environment"]["DSN"] == "postgres://app:****@db/app"
