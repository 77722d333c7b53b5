"""`--function NAME …`: only those functions and what they need are served (as `sam local
start-lambda FnA FnB`); the rest are named as not run, and answer ResourceNotFoundException."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.exceptions
import jsonschema
import pytest

from samrun.errors import SamrunError
from samrun.model import AppGraph
from samrun.selection import select_functions
from samrun.template import load_graph
from tests.template.conftest import ROOT, TEMPLATES, run_samrun

SCHEMA = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
NESTED = TEMPLATES / "compat" / "nested" / "template.yaml"

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Handler: app.handler, CodeUri: src, Timeout: 10}
Resources:
  Kept:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      Events:
        Get: {Type: HttpApi, Properties: {Path: /kept, Method: get}}
  Dropped:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: dropped-fn
      Events:
        Get: {Type: HttpApi, Properties: {Path: /dropped, Method: get}}
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 day), Enabled: false}}
"""


@pytest.fixture(scope="module")
def kitchen() -> AppGraph:
    return load_graph(TEMPLATES / "sam_kitchen.yaml")


def test_no_names_keep_the_graph_as_it_is(kitchen: AppGraph) -> None:
    assert select_functions(kitchen, []) is kitchen


def test_a_named_function_keeps_what_it_needs_and_names_the_rest(kitchen: AppGraph) -> None:
    api = kitchen.function("ApiFunction")
    assert api is not None
    graph = select_functions(kitchen, ["ApiFunction"])
    # its route's token authorizer is a function it cannot answer without
    assert {f.logical_id for f in graph.functions} == {"ApiFunction", "Authorizer"}
    kept = {f.name for f in graph.functions}
    assert graph.routes and all(r.function in kept for r in graph.routes)
    assert len(graph.routes) == len([r for r in kitchen.routes if r.function == api.name])
    assert {a.function for a in graph.aliases} == {api.name}
    assert {v.function for v in graph.versions} <= kept
    for each in (graph.event_source_mappings, graph.push_sources, graph.schedules):
        assert all(item.function in kept or item.state_machine for item in each)
    used = {ref.arn for f in graph.functions for ref in f.config.layers}
    assert {layer.arn for layer in graph.layers} == used
    dropped = {n.name for n in graph.not_run if n.what == "function"}
    assert dropped == {f.logical_id for f in kitchen.functions} - {"ApiFunction", "Authorizer"}
    assert all(n.reason == "not among --function" for n in graph.not_run if n.what == "function")
    assert graph.resources == kitchen.resources  # queues and tables a kept function may use


def test_a_function_is_found_by_its_function_name_too(kitchen: AppGraph) -> None:
    api = kitchen.function("ApiFunction")
    assert api is not None and api.name != api.logical_id
    by_name = select_functions(kitchen, [api.name])
    assert by_name == select_functions(kitchen, ["ApiFunction"])


def test_an_unknown_name_lists_the_known_ones(kitchen: AppGraph) -> None:
    with pytest.raises(SamrunError) as raised:
        select_functions(kitchen, ["Worker", "Nope"])
    assert "--function Nope: no such function" in str(raised.value)
    assert "ApiFunction" in str(raised.value) and "Worker" in str(raised.value)


def test_a_nested_apps_function_is_named_child_slash_function() -> None:
    graph = load_graph(NESTED)
    child = next(f for f in graph.functions if "/" in f.logical_id)
    selected = select_functions(graph, [child.logical_id])
    assert child in selected.functions
    assert all("/" in f.logical_id or f is child for f in selected.functions)
    assert len(selected.functions) < len(graph.functions)


def test_plan_shows_the_dropped_functions_as_not_run(tmp_path: Path) -> None:
    project = app(tmp_path)
    result = run_samrun("plan", str(project), "--json", "--function", "Kept", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    jsonschema.validate(plan, SCHEMA)
    assert [f["name"] for f in plan["functions"]] == ["Kept"]
    assert [r["path"] for r in plan["routes"]] == ["/kept"]
    assert plan["schedules"] == []
    [dropped] = [n for n in plan["not_run"] if n["what"] == "function"]
    assert dropped["name"] == "Dropped" and "--function" in dropped["reason"]


def test_plan_with_an_unknown_function_is_a_usage_error(tmp_path: Path) -> None:
    result = run_samrun("plan", str(app(tmp_path)), "--function", "Nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "--function Nope: no such function" in result.stderr
    assert "Dropped, Kept, dropped-fn" in result.stderr
    assert "Traceback" not in result.stderr


def test_up_serves_the_kept_function_only(tmp_path: Path, samrun_up: Any) -> None:
    server = samrun_up(app(tmp_path), "--function", "Kept")
    server.wait_for(r"not run locally")
    assert any("function Dropped" in line and "--function" in line for line in server.lines)
    client = server.lambda_client()
    answer = client.invoke(FunctionName="Kept", Payload=b'{"n": 1}')
    assert json.loads(answer["Payload"].read()) == {"function": "Kept", "event": {"n": 1}}
    assert client.invoke(FunctionName="Kept", Qualifier="live")["StatusCode"] == 200
    for name in ("Dropped", "dropped-fn"):
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            client.invoke(FunctionName=name, Payload=b"{}")
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    listed = {f["FunctionName"] for f in client.list_functions()["Functions"]}
    assert listed == {"Kept"}


def test_a_watch_reload_keeps_serving_the_same_functions(tmp_path: Path, samrun_up: Any) -> None:
    template = app(tmp_path)
    server = samrun_up(template, "--function", "Kept", "--watch")
    mark = len(server.lines)
    template.write_text(TEMPLATE.replace("Timeout: 10", "Timeout: 11"))
    server.wait_for(r"samrun: reloaded \(template", start=mark)
    client = server.lambda_client()
    assert client.get_function(FunctionName="Kept")["Configuration"]["Timeout"] == 11
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.get_function(FunctionName="Dropped")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    mark = len(server.lines)
    template.write_text(TEMPLATE.replace("  Kept:", "  Renamed:"))  # --function names it no more
    server.wait_for(r"--function Kept: no such function", start=mark)
    assert client.invoke(FunctionName="Kept")["StatusCode"] == 200  # the last good app serves


def test_smoke_checks_the_kept_functions_and_passes_over_the_rest(tmp_path: Path) -> None:
    result = run_samrun(
        "smoke", str(app(tmp_path)), "--function", "Kept", "--state-dir", str(tmp_path / "s"),
        cwd=tmp_path, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS  Kept initialises" in result.stdout
    assert "Dropped initialises" not in result.stdout


def test_up_with_an_unknown_function_exits_2_before_serving(tmp_path: Path) -> None:
    result = run_samrun(
        "up", str(app(tmp_path)), "--function", "Nope", "--port", "0", "--invoke-port", "0",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--function Nope: no such function" in result.stderr
    assert "ready" not in result.stdout


def app(folder: Path) -> Path:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "app.py").write_text(
        "import os\n\n\ndef handler(event, context):\n"
        "    return {'function': context.function_name, 'event': event}\n"
    )
    template = folder / "template.yaml"
    template.write_text(TEMPLATE)
    return template
