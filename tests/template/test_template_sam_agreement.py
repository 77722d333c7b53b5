"""`samrun plan --json` agrees with what aws-sam-translator itself produces for the same template.

The expected side is read straight off samtranslator's CloudFormation output here, with its own
small readers, so a mistake in samrun's converters cannot hide on both sides.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from samrun.model import AppGraph
from samrun.plan import plan_document
from samrun.template import load_graph
from samrun.template.loader import load_template
from tests.template.conftest import EXAMPLES, TEMPLATES, run_samrun

SAM_TEMPLATES = [
    TEMPLATES / "sam_kitchen.yaml",
    TEMPLATES / "sam_sources.yaml",
    TEMPLATES / "sam_http.json",
    EXAMPLES / "orders-api" / "template.yaml",
    EXAMPLES / "alb-app" / "template.yaml",
    EXAMPLES / "quickstart" / "template.yaml",
]
METHODS = {
    "get",
    "put",
    "post",
    "delete",
    "patch",
    "head",
    "options",
    "x-amazon-apigateway-any-method",
}


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    """samtranslator's own transform() reads the region from a boto3 session."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


class _NoPolicies:
    def load(self) -> dict[str, str]:
        return {}


def translate(path: Path) -> dict[str, Any]:
    """The official transform of `path`, local paths swapped for S3 URIs, parameters defaulted."""
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(load_template(path).data)
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://bucket/{props[key]}"
        if isinstance(props.get("DefinitionUri"), str):
            props["DefinitionBody"] = load_template(path.parent / props.pop("DefinitionUri")).data
    code = template.get("Globals", {}).get("Function", {})
    if isinstance(code.get("CodeUri"), str):
        code["CodeUri"] = f"s3://bucket/{code['CodeUri']}"
    params = {k: str(v["Default"]) for k, v in (template.get("Parameters") or {}).items()}
    params.update(
        {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::StackName": "samrun",
        }
    )
    return transform(template, params, _NoPolicies())


def _ref_target(value: Any) -> str:
    """The logical id a Ref / GetAtt / Sub names; the value itself otherwise."""
    if isinstance(value, dict):
        ((key, arg),) = value.items()
        if key == "Ref":
            return arg
        if key == "Fn::GetAtt":
            return arg[0] if isinstance(arg, list) else arg.split(".")[0]
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return text.split("functions/${")[1].split("}")[0].split(".")[0]
    return json.dumps(value)


def expected_routes(cfn: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    routes = set()
    for lid, resource in cfn["Resources"].items():
        if resource["Type"] not in ("AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"):
            continue
        for path, item in (resource["Properties"].get("Body") or {}).get("paths", {}).items():
            for method, operation in item.items():
                integration = (
                    operation.get("x-amazon-apigateway-integration") if method in METHODS else None
                )
                if integration and "lambda:path" in json.dumps(integration["uri"]):
                    verb = "ANY" if method.startswith("x-") else method.upper()
                    routes.add((lid, verb, path, _ref_target(integration["uri"])))
    return routes


def expected_mappings(cfn: dict[str, Any]) -> list[tuple[str, int, str, bool]]:
    return sorted(
        (
            _ref_target(r["Properties"]["FunctionName"]),
            r["Properties"].get("BatchSize", 0),
            r["Properties"].get("StartingPosition", ""),
            r["Properties"].get("Enabled", True),
        )
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    )


def expected_schedules(cfn: dict[str, Any]) -> set[tuple[str, str, bool]]:
    schedules = set()
    for r in cfn["Resources"].values():
        props = r.get("Properties", {})
        if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in props:
            for target in props["Targets"]:
                schedules.add(
                    (
                        _ref_target(target["Arn"]),
                        props["ScheduleExpression"],
                        props.get("State", "ENABLED") == "ENABLED",
                    )
                )
        if r["Type"] == "AWS::Scheduler::Schedule":
            schedules.add(
                (
                    _ref_target(props["Target"]["Arn"]),
                    props["ScheduleExpression"],
                    props.get("State", "ENABLED") == "ENABLED",
                )
            )
    return schedules


def _logical(graph: AppGraph, name: str, qualifier: str | None) -> str:
    function = graph.function(name)
    assert function is not None, name
    return f"{function.logical_id}Alias{qualifier}" if qualifier else function.logical_id


@pytest.mark.parametrize("path", SAM_TEMPLATES, ids=lambda p: p.parent.name + "/" + p.name)
def test_plan_matches_the_sam_transform(path: Path) -> None:
    cfn = translate(path)
    graph = load_graph(path)
    doc = plan_document(graph)
    routes = {
        (r["api"], r["method"], r["path"], _logical(graph, r["function"], r["qualifier"]))
        for r in doc["routes"]
        if r["kind"] != "function_url"
    }
    assert routes == expected_routes(cfn)
    mappings = sorted(
        (
            _logical(graph, m["function"], m["qualifier"]),
            m["batch_size"] or 0,
            m["starting_position"] or "",
            m["enabled"],
        )
        for m in doc["event_source_mappings"]
    )
    assert mappings == expected_mappings(cfn)
    schedules = {
        (_logical(graph, s["function"], s["qualifier"]), s["expression"], s["enabled"])
        for s in doc["schedules"]
    }
    assert schedules == expected_schedules(cfn)
    urls = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Url"]
    assert len([r for r in doc["routes"] if r["kind"] == "function_url"]) == len(urls)


def test_plan_json_from_the_cli_matches_the_sam_transform() -> None:
    path = TEMPLATES / "sam_kitchen.yaml"
    result = run_samrun("plan", str(path), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    cfn = translate(path)
    assert len(doc["routes"]) - 1 == len(expected_routes(cfn))  # + NodeFunction's URL
    assert len(doc["event_source_mappings"]) == len(expected_mappings(cfn))
    assert len(doc["schedules"]) == len(expected_schedules(cfn))
