"""The `sam init` Step Functions quick-start shape starts, its state machine is created on the
AWS endpoint with its DefinitionSubstitutions, and StartExecution runs the workflow locally,
its Lambda tasks calling samrun's functions (tests/fixtures/templates/compat/stepfunctions)."""

from __future__ import annotations

import json
from typing import Any

from tests.aws.helpers import aws_client
from tests.conftest import wait_until
from tests.template.conftest import TEMPLATES

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
    assert len(schedule) == 1 and "StartExecution" in schedule[0]
