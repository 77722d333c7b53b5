"""A suspended durable execution outlives `kill -9` of samrun: its checkpoints and its pending
wait are in the state folder, and the next `up` re-arms the wait and finishes the execution."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import ROOT
from tests.durable.conftest import (
    APP,
    event_of,
    finished,
    history,
    kinds,
    start_durable,
    start_event,
)


def test_a_suspended_execution_survives_kill_9_and_finishes_after_the_next_up(
    tmp_path: Path,
) -> None:
    state = tmp_path / ".samrun"
    first = start_durable(state)
    client = first.lambda_client()
    arn = start_event(client, "Waiter", {"seconds": 100})  # 10 s at --time-scale 10
    event_of(client, arn, "WaitStarted")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(first.process.pid, signal.SIGKILL)  # leftover sandboxes, if any
    first.stop()
    assert "WaitSucceeded" not in json.dumps(
        [json.loads(p.read_text()) for p in (state / "durable").glob("*.json")]
    ), "the wait ended before the kill: the test proves nothing"

    second = start_durable(state)
    try:
        second.wait_for(r"durable functions: 1 execution\(s\) resumed", timeout=10)
        client = second.lambda_client()
        execution = finished(client, arn, timeout=60)
        assert execution["Status"] == "SUCCEEDED"
        assert json.loads(execution["Result"]) == ["before", "after"]
        assert ("WaitSucceeded", "pause") in kinds(history(client, arn))
        # the `Event` start outlived the kill too: its OnSuccess destination hears of the end
        sqs = aws_client(second, "sqs")
        (message,) = receive(sqs, queue_url(sqs, "durable-resumed"), 1, settle=0.5)
        assert message["Json"]["durableExecutionArn"] == arn
        assert message["Json"]["requestContext"]["condition"] == "Success"
    finally:
        assert second.stop() == 0


def test_plan_shows_durable_config_and_nothing_durable_is_in_the_not_run_list() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(APP), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    jsonschema.validate(plan, json.loads((ROOT / "schemas" / "plan.schema.json").read_text()))
    durable = {f["name"]: f.get("durable") for f in plan["functions"]}
    assert durable["Slow"] == {"execution_timeout_s": 20, "retention_days": 14, "kms_key_arn": None}
    assert durable["Hello"]["retention_days"] == 1
    assert durable["Plain"] is None
    assert "Durable" not in json.dumps(plan.get("not_run"))
    table = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(APP)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Durable functions (DurableConfig)" in table.stdout
