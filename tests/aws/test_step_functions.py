"""The `sam init` Step Functions quick-start shape starts, its state machine is created on the
AWS endpoint with its DefinitionSubstitutions, and StartExecution runs the workflow locally,
its Lambda tasks calling samrun's functions (tests/fixtures/templates/compat/stepfunctions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client
from tests.conftest import wait_until
from tests.template.conftest import TEMPLATES, run_samrun

TEMPLATE = TEMPLATES / "compat" / "stepfunctions" / "template.yaml"


def _run(sfn: Any, arn: str, document: dict[str, Any]) -> dict[str, Any]:
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(document))
    done: dict[str, Any] = wait_until(  # type: ignore[assignment]
        lambda: (
            (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"]
            != "RUNNING"
            and d
        ),
        timeout=60,
    )
    return done


def test_start_execution_runs_the_workflow_through_samruns_functions(samrun_up: Any) -> None:
    server = samrun_up(TEMPLATE)
    sfn = aws_client(server, "stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    assert machine["name"] == "StockTradingStateMachine"
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
    )
    checker = definition["States"]["Check Stock Value"]["Resource"]
    assert checker == "arn:aws:lambda:us-east-1:123456789012:function:StockCheckerFunction"
    bought = _run(sfn, machine["stateMachineArn"], {"price": 30})
    assert bought["status"] == "SUCCEEDED"
    assert json.loads(bought["output"]) == {"type": "buy", "price": 30, "by": "StockBuyerFunction"}
    sold = _run(sfn, machine["stateMachineArn"], {"price": 80})
    assert json.loads(sold["output"])["type"] == "sell"
    assert any(line.startswith("StockSellerFunction | START") for line in server.lines)
    schedule = [line for line in server.lines if "HourlyTradingSchedule" in line]
    assert schedule and "state machine StockTradingStateMachine" in schedule[0]
    assert all("not run" not in line for line in schedule)  # wired, disabled as the template says
    # `samrun trigger --url` fires the disabled schedule once: an execution of the scheduled event
    fired = run_samrun("trigger", "HourlyTradingSchedule", "--url", server.lambda_endpoint)
    assert fired.returncode == 0, fired.stderr
    assert "queued for StockTradingStateMachine" in fired.stderr
    arn = machine["stateMachineArn"]
    wait_until(lambda: [d for d in _finished(sfn, arn) if "Scheduled Event" in d["input"]])
    # without --url: one execution on the command's own endpoint (a guest of the running `up`
    # here), waited for, its output on stdout
    once = run_samrun("trigger", str(TEMPLATE), "HourlyTradingSchedule", timeout=120)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout) == {"type": "buy", "price": 42, "by": "StockBuyerFunction"}
    assert "Traceback" not in once.stderr


def test_trigger_without_a_running_app_runs_one_execution(tmp_path: Path) -> None:
    """`samrun trigger TEMPLATE NAME` alone: the state machine's execution runs to its end; one
    that fails exits non-zero with its error and cause."""
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Echo:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      Definition: {StartAt: A, States: {A: {Type: Pass, Result: {ok: 1}, End: true}}}\n"
        "      Events:\n"
        "        Tick: {Type: Schedule, Properties: {Schedule: rate(1 day), Enabled: false}}\n"
        "  Broken:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      Definition: {StartAt: F, States: {F: {Type: Fail, Error: Boom, Cause: why}}}\n"
        "      Events:\n"
        "        Tock: {Type: ScheduleV2, Properties: {ScheduleExpression: rate(1 day)}}\n"
    )
    state = ["--state-dir", str(tmp_path / ".samrun")]
    ok = run_samrun("trigger", str(template), "Tick", *state, cwd=tmp_path, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"ok": 1}
    failed = run_samrun("trigger", str(template), "Tock", *state, cwd=tmp_path, timeout=120)
    assert failed.returncode == 1, failed.stderr
    assert "FAILED" in failed.stderr and "Boom" in failed.stderr and "why" in failed.stderr
    assert failed.stdout == "" and "Traceback" not in failed.stderr


def test_plan_shows_state_machine_targets_and_its_api_route(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Machine:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        "      Definition: {StartAt: A, States: {A: {Type: Pass, End: true}}}\n"
        "      Events:\n"
        "        Nightly:\n"
        "          Type: ScheduleV2\n"
        "          Properties: {ScheduleExpression: cron(0 2 * * ? *)}\n"
        "        Start:\n"
        "          Type: Api\n"
        "          Properties: {Path: /start, Method: post}\n"
    )
    result = run_samrun("plan", str(template), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    (schedule,) = plan["schedules"]
    assert schedule["state_machine"].endswith(":stateMachine:Machine")
    assert schedule["expression"] == "cron(0 2 * * ? *)"
    assert not [n for n in plan["not_run"] if "Machine.Events" in n["name"]]
    (route,) = plan["routes"]  # the Api event: a route that starts executions
    assert (route["path"], route["function"]) == ("/start", "Machine")
    assert route["state_machine"] == schedule["state_machine"]


def _events_app(tmp_path: Path) -> Path:
    """The quick start with its schedule enabled every minute and an EventBridge rule."""
    app = tmp_path / "app"
    shutil.copytree(TEMPLATE.parent, app)
    text = (app / "template.yaml").read_text()
    text = text.replace("Enabled: false", "Enabled: true").replace("rate(1 hour)", "rate(1 minute)")
    text = text.replace(
        "      Policies:\n",
        "        OnPriceChange:\n"
        "          Type: EventBridgeRule\n"
        "          Properties:\n"
        "            Pattern: {source: [stock.exchange]}\n"
        "            InputPath: $.detail\n"
        "      Policies:\n",
        1,
    )
    (app / "template.yaml").write_text(text)
    return app / "template.yaml"


def _finished(sfn: Any, arn: str) -> list[dict[str, Any]]:
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def test_a_state_machines_schedule_and_rule_start_executions(
    samrun_up: Any, tmp_path: Path
) -> None:
    server = samrun_up(_events_app(tmp_path), "--time-scale", "60")
    assert not [
        line for line in server.lines if "HourlyTradingSchedule" in line and "not run" in line
    ]
    sfn = aws_client(server, "stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    arn = machine["stateMachineArn"]
    # the schedule fires every scaled minute (a second): an execution starts by itself, its input
    # the scheduled event, and its Lambda tasks run in samrun (the checker's default price buys)
    scheduled = wait_until(
        lambda: [d for d in _finished(sfn, arn) if "Scheduled Event" in d["input"]], timeout=60
    )
    assert json.loads(scheduled[0]["output"]) == {  # type: ignore[index]
        "type": "buy",
        "price": 42,
        "by": "StockBuyerFunction",
    }
    assert any(line.startswith("StockCheckerFunction | START") for line in server.lines)
    # an event on the bus that matches the rule's pattern starts one with its InputPath
    events = aws_client(server, "events")
    events.put_events(
        Entries=[{"Source": "stock.exchange", "DetailType": "price", "Detail": '{"price": 80}'}]
    )
    events.put_events(
        Entries=[{"Source": "other", "DetailType": "price", "Detail": '{"price": 81}'}]
    )
    sold = wait_until(
        lambda: [d for d in _finished(sfn, arn) if json.loads(d["input"]) == {"price": 80}],
        timeout=60,
    )
    assert json.loads(sold[0]["output"])["type"] == "sell"  # type: ignore[index]
    assert not [d for d in _finished(sfn, arn) if '"price": 81' in d["input"]]
