"""A state machine's `Api` event: the route starts an execution as API Gateway's StartExecution
integration does (SAM's mapping template, Step Functions' answer as the body), and the workflow
runs locally through samrun's functions (the Step Functions quick start with two Api events)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tests.aws.helpers import aws_client
from tests.conftest import wait_until
from tests.frontdoors.conftest import send
from tests.template.conftest import TEMPLATES, run_samrun

QUICK_START = TEMPLATES / "compat" / "stepfunctions"
EVENTS = """\
        StartTrade:
          Type: Api
          Properties: {Path: /trade, Method: post}
        StartQuoted:
          Type: Api
          Properties: {Path: /quoted, Method: post, UnescapeMappingTemplate: true}
      Policies:
"""


def _api_app(tmp_path: Path) -> Path:
    app = tmp_path / "app"
    shutil.copytree(QUICK_START, app)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("      Policies:\n", EVENTS, 1))
    return template


def _post(url: str, body: bytes, content_type: str = "application/json") -> Any:
    return send(url, "POST", body, {"Content-Type": content_type})


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    done: dict[str, Any] = wait_until(  # type: ignore[assignment]
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        timeout=60,
    )
    return done


def test_an_api_event_starts_an_execution_of_the_state_machine(
    samrun_up: Any, tmp_path: Path
) -> None:
    template = _api_app(tmp_path)
    server = samrun_up(template)
    route = [line for line in server.lines if "/trade" in line and "POST" in line]
    assert route and "state machine StockTradingStateMachine" in route[0], server.lines
    assert not [line for line in server.lines if "StartTrade" in line and "not run" in line]
    sfn = aws_client(server, "stepfunctions")

    reply = _post(server.api + "/trade", b'{"price": 30}')
    assert (reply.status, reply.header("Content-Type")) == (200, "application/json")
    answer = reply.json()
    assert set(answer) == {"executionArn", "startDate"}
    assert isinstance(answer["startDate"], float)
    assert ":execution:StockTradingStateMachine:" in answer["executionArn"]
    done = _finished(sfn, answer["executionArn"])
    assert json.loads(done["input"]) == {"price": 30}
    assert json.loads(done["output"]) == {"type": "buy", "price": 30, "by": "StockBuyerFunction"}
    assert any(line.startswith("StockBuyerFunction | START") for line in server.lines)

    # no Content-Type is read as application/json; an empty body is the empty object
    address = urlparse(server.api)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    connection.request("POST", "/Prod/trade", body=b"")  # http.client adds no Content-Type
    empty = connection.getresponse()
    assert empty.status == 200
    execution = json.loads(empty.read())["executionArn"]
    connection.close()
    assert json.loads(_finished(sfn, execution)["input"]) == {}

    # a single quote breaks SAM's template unless UnescapeMappingTemplate (as SAM documents)
    quoted = b'{"price": 80, "note": "it\'s high"}'
    broken = _post(server.api + "/trade", quoted)
    assert broken.status == 400 and "SerializationException" in broken.body.decode()
    unescaped = _post(server.api + "/quoted", quoted)
    assert unescaped.status == 200, unescaped.body
    sold = _finished(sfn, unescaped.json()["executionArn"])
    assert json.loads(sold["input"])["note"] == "it's high"
    assert json.loads(sold["output"])["type"] == "sell"

    # a Content-Type with no template passes the body through as the StartExecution request
    # (WHEN_NO_MATCH): Step Functions refuses it with its own error, a 400
    plain = _post(server.api + "/trade", b"not json", content_type="text/plain")
    assert plain.status == 400, plain.body
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    started = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(started) == 3
    assert "Traceback" not in "\n".join(server.lines)


def test_plan_lists_the_route_of_a_state_machine(tmp_path: Path) -> None:
    template = _api_app(tmp_path)
    result = run_samrun("plan", str(template), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    routes = {r["path"]: r for r in plan["routes"]}
    assert routes["/trade"]["function"] == "StockTradingStateMachine"
    assert routes["/trade"]["state_machine"].endswith(":stateMachine:StockTradingStateMachine")
    assert not [n for n in plan["not_run"] if "StockTradingStateMachine.Events" in n["name"]]
    table = run_samrun("plan", str(template), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    row = [line for line in table.stdout.splitlines() if "/quoted" in line]
    assert row and "state machine StockTradingStateMachine" in row[0]


HAND_WRITTEN = """\
Resources:
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: Echo
      DefinitionString: '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
      RoleArn: arn:aws:iam::123456789012:role/states
  Api:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: echo}
  Runs:
    Type: AWS::ApiGateway::Resource
    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: runs}
  Start:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Api
      ResourceId: !Ref Runs
      HttpMethod: POST
      AuthorizationType: NONE
      Integration:
        Type: AWS
        IntegrationHttpMethod: POST
        Uri: !Sub arn:aws:apigateway:${AWS::Region}:states:action/StartExecution
        PassthroughBehavior: NEVER
        RequestTemplates:
          application/json: !Sub >-
            {"input": "$util.escapeJavaScript($input.json('$'))",
             "name": "$input.params('run')", "stateMachineArn": "${Machine}"}
        IntegrationResponses:
          - StatusCode: "200"
            ResponseTemplates:
              application/json: '{"started": "$input.path(''$.executionArn'')"}'
          - StatusCode: "409"
            SelectionPattern: "400"
  Deployment:
    Type: AWS::ApiGateway::Deployment
    DependsOn: Start
    Properties: {RestApiId: !Ref Api, StageName: v1}
"""


def test_a_hand_written_start_execution_method(samrun_up: Any, tmp_path: Path) -> None:
    """An AWS::ApiGateway::Method with the StartExecution integration: its own request template,
    passthrough behaviour and integration responses (selection pattern, response template)."""
    template = tmp_path / "template.yaml"
    template.write_text(HAND_WRITTEN)
    server = samrun_up(template)
    assert any("/runs" in line and "state machine Echo" in line for line in server.lines)
    sfn = aws_client(server, "stepfunctions")
    started = _post(server.api + "/v1/runs?run=first", b'{"x": 1}')
    assert started.status == 200, started.body
    arn = started.json()["started"]
    assert arn.endswith(":execution:Echo:first")
    assert json.loads(_finished(sfn, arn)["output"]) == {"x": 1}
    again = _post(server.api + "/v1/runs?run=first", b'{"x": 2}')  # the same name: refused
    assert again.status == 409 and "ExecutionAlreadyExists" in again.body.decode(), again.body
    plain = _post(server.api + "/v1/runs?run=second", b"x", content_type="text/plain")
    assert (plain.status, plain.json()) == (415, {"message": "Unsupported Media Type"})


def test_an_unreachable_endpoint_is_api_gateways_500(samrun_up: Any, tmp_path: Path) -> None:
    """StartExecution on an endpoint that does not answer: a 500 in API Gateway's shape, the
    cause in one log line, no traceback."""
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    template = tmp_path / "template.yaml"
    template.write_text(HAND_WRITTEN)
    server = samrun_up(template, "--aws-endpoint", f"http://127.0.0.1:{port}")
    reply = _post(server.api + "/v1/runs?run=a", b"{}")
    assert (reply.status, reply.json()) == (500, {"message": "Internal server error"})
    line = server.wait_for("POST /runs: StartExecution: ").string
    assert "Could not connect" in line
    assert not [text for text in server.lines if "Traceback" in text]
