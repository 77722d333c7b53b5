"""`--layer-map` keys as users write them: one for another region than `--region` still provides
the layer (with a warning), a key may carry `${AWS::Region}`, and a key that matches no layer is
said at startup with the closest ARN the template names (tests/fixtures/templates/compat/
remote_layer_sub.yaml names its layer `!Sub arn:aws:lambda:${AWS::Region}:...`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import invoke_http
from tests.template.conftest import TEMPLATES, run_samrun

TEMPLATE = TEMPLATES / "compat" / "remote_layer_sub.yaml"
LAYER = TEMPLATES / "compat" / "powertools"
NAME = "017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64"


def arn(region: str, version: int = 7) -> str:
    return f"arn:aws:lambda:{region}:{NAME}:{version}"


def plan(tmp_path: Path, *extra: str) -> tuple[dict[str, object], str]:
    result = run_samrun("plan", str(TEMPLATE), "--json", "--state-dir", str(tmp_path), *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_a_key_for_another_region_provides_the_layer_with_a_warning(tmp_path: Path) -> None:
    doc, _ = plan(tmp_path, "--region", "eu-west-1", "--layer-map", f"{arn('us-east-1')}={LAYER}")
    assert doc["functions"][0]["layers"] == [arn("eu-west-1")]  # type: ignore[index]
    assert doc["not_run"] == []  # mapped
    assert doc["warnings"] == [
        f"--layer-map {arn('us-east-1')} (region us-east-1) provides {arn('eu-west-1')} "
        "(region eu-west-1): the two differ only in their region"
    ]


def test_a_key_with_the_region_placeholder_matches_whatever_the_region(tmp_path: Path) -> None:
    key = "arn:aws:lambda:${AWS::Region}:" + NAME + ":7"
    for region in ("us-east-1", "ap-south-1"):
        doc, _ = plan(tmp_path, "--region", region, "--layer-map", f"{key}={LAYER}")
        assert (doc["not_run"], doc["warnings"]) == ([], []), region


def test_a_key_that_matches_no_layer_is_named_at_startup(tmp_path: Path) -> None:
    typo = arn("us-east-1", 8)
    result = run_samrun(
        "plan", str(TEMPLATE), "--state-dir", str(tmp_path), "--layer-map", f"{typo}={LAYER}"
    )
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: --layer-map {typo} matches no layer of the app and is not used: "
        f"the closest layer ARN the template names is {arn('us-east-1')}"
    ) in result.stderr.splitlines()
    assert "remote layer" in result.stdout  # and the layer it meant is not run


def test_up_says_so_at_startup_and_runs_with_the_layer(samrun_up: Any) -> None:
    typo = arn("us-east-1", 8)
    server = samrun_up(
        TEMPLATE,
        "--region",
        "eu-west-1",
        "--layer-map",
        f"{arn('us-east-1')}={LAYER}",
        f"{typo}={LAYER}",
    )
    text = "\n".join(server.lines)
    assert f"samrun: warning: --layer-map {arn('us-east-1')} (region us-east-1) provides" in text
    assert f"samrun: warning: --layer-map {typo} matches no layer of the app" in text
    status, _, body = invoke_http(server.lambda_endpoint, "Tool", {})
    assert (status, body) == (200, {"powertools": "samrun-test-stand-in"})
