"""Nested applications run as part of the app: a local child's function answers its route, its
Parameters and Outputs flow, it is named Child/Function and by FunctionName; remote locations are
named once (tests/fixtures/templates/compat/nested/)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

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
