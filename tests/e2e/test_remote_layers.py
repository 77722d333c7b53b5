"""Layers named only by ARN are listed, warned about at startup, and `--layer-map ARN=PATH`
provides them (tests/fixtures/templates/compat/remote_layer.yaml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import invoke_http
from tests.template.conftest import TEMPLATES, run_samrun

TEMPLATE = TEMPLATES / "compat" / "remote_layer.yaml"
ARN = "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:7"
LAYER = TEMPLATES / "compat" / "powertools"


def test_plan_lists_the_remote_layer(tmp_path: Path) -> None:
    result = run_samrun("plan", str(TEMPLATE), "--json", "--state-dir", str(tmp_path))
    doc = json.loads(result.stdout)
    assert doc["functions"][0]["layers"] == [ARN]
    assert [(n["what"], n["name"]) for n in doc["not_run"]] == [("layer", ARN)]
    mapped = run_samrun(
        "plan",
        str(TEMPLATE),
        "--json",
        "--state-dir",
        str(tmp_path),
        "--layer-map",
        f"{ARN}={LAYER}",
    )
    assert json.loads(mapped.stdout)["not_run"] == []


def test_up_warns_without_a_map_and_runs_with_one(samrun_up: Any) -> None:
    bare = samrun_up(TEMPLATE)
    warned = [line for line in bare.lines if ARN in line]
    assert len(warned) == 1 and "--layer-map" in warned[0]
    status, _, body = invoke_http(bare.lambda_endpoint, "Tool", {})
    assert body["errorType"] == "ModuleNotFoundError"  # the layer is not there
    bare.stop()
    mapped = samrun_up(TEMPLATE, "--layer-map", f"{ARN}={LAYER}")
    assert not any(ARN in line for line in mapped.lines)
    status, _, body = invoke_http(mapped.lambda_endpoint, "Tool", {})
    assert (status, body) == (200, {"powertools": "samrun-test-stand-in"})


def test_a_map_to_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run_samrun(
        "plan", str(TEMPLATE), "--state-dir", str(tmp_path), "--layer-map", f"{ARN}=/nope"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"samrun: --layer-map {ARN}: /nope does not exist"
