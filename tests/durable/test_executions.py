"""Durable functions written with the real AWS Durable Execution SDK for Python, run by a real
`samrun up`, driven and read with boto3 as on Lambda: steps and their history, waits that
suspend the function, map/parallel, callbacks, ExecutionTimeout, stop, names, the execution API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import SamrunProcess, wait_until
from tests.durable.conftest import (
    event_of,
    finished,
    history,
    kinds,
    samrun_state,
    start_event,
)


def test_hello_world_steps_return_the_result_and_history_lists_them(client: Any) -> None:
    response = client.invoke(FunctionName="Hello", Payload=json.dumps({"name": "sam"}))
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"greeting": "hello sam", "shout": "HELLO SAM"}
    arn = response["DurableExecutionArn"]
    assert ":function:Hello:$LATEST/durable-execution/" in arn
    events = history(client, arn)
    assert kinds(events) == [
        ("ExecutionStarted", events[0]["Name"]),
        ("StepStarted", "greet"),
        ("StepSucceeded", "greet"),
        ("StepStarted", "shout"),
        ("StepSucceeded", "shout"),
        ("ExecutionSucceeded", events[0]["Name"]),
    ]
    assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
    succeeded = events[2]["StepSucceededDetails"]
    assert succeeded["Result"]["Payload"] == '"hello sam"'
    assert succeeded["RetryDetails"]["CurrentAttempt"] == 1  # Lambda includes it; boto3 requires it
    assert events[0]["ExecutionStartedDetails"]["Input"]["Payload"] == '{"name": "sam"}'
    assert any(e["EventType"] == "InvocationCompleted" for e in events)
    execution = client.get_durable_execution(DurableExecutionArn=arn, IncludeExecutionData=True)
    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"])["shout"] == "HELLO SAM"
    assert execution["DurableConfig"]["RetentionPeriodInDays"] == 1


def test_a_wait_suspends_the_function_and_a_timer_resumes_it(
    client: Any, server: SamrunProcess
) -> None:
    arn = start_event(client, "Waiter", {"seconds": 30})  # 3 s at --time-scale 10
    event_of(client, arn, "WaitStarted")

    def suspended() -> bool:  # the invocation that waits has ended: its instance is free
        pools = [p for p in samrun_state(server)["pools"] if p["function"] == "Waiter"]
        return bool(pools) and all(p["busy"] == 0 for p in pools)

    wait_until(suspended, timeout=20, interval=0.1)
    events = history(client, arn)
    assert "WaitSucceeded" not in [e["EventType"] for e in events]  # still waiting, no instance
    started = next(e for e in events if e["EventType"] == "WaitStarted")
    assert started["Name"] == "pause"
    assert started["WaitStartedDetails"]["Duration"] == 30
    execution = finished(client, arn)
    assert execution["Status"] == "SUCCEEDED"
    assert json.loads(execution["Result"]) == ["before", "after"]
    events = history(client, arn)
    assert kinds(events)[1:] == [
        ("StepStarted", "before"),
        ("StepSucceeded", "before"),
        ("WaitStarted", "pause"),
        ("WaitSucceeded", "pause"),
        ("StepStarted", "after"),
        ("StepSucceeded", "after"),
        ("ExecutionSucceeded", events[0]["Name"]),
    ]
    invocations = [e for e in events if e["EventType"] == "InvocationCompleted"]
    assert len(invocations) == 2  # suspended, then replayed from its checkpoints


def test_map_and_parallel_give_their_results(client: Any) -> None:
    response = client.invoke(FunctionName="Fanout", Payload=b"{}")
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {
        "map": [1, 4, 9],
        "parallel": ["left", "right"],
    }
    events = history(client, response["DurableExecutionArn"])
    contexts = [e.get("Name") for e in events if e["EventType"] == "ContextStarted"]
    assert "squares" in contexts and "pair" in contexts


@pytest.mark.parametrize("outcome", ["success", "failure"])
def test_wait_for_callback_completes_on_the_clients_answer(client: Any, outcome: str) -> None:
    arn = start_event(client, "Approval")
    started = event_of(client, arn, "CallbackStarted")
    callback_id = started["CallbackStartedDetails"]["CallbackId"]
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    if outcome == "success":
        client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"yes")
        execution = finished(client, arn)
        assert execution["Status"] == "SUCCEEDED"
        assert json.loads(execution["Result"]) == {"approved": "yes"}
        assert "CallbackSucceeded" in [e["EventType"] for e in history(client, arn)]
    else:
        client.send_durable_execution_callback_failure(
            CallbackId=callback_id, Error={"ErrorType": "Rejected", "ErrorMessage": "no way"}
        )
        execution = finished(client, arn)
        assert execution["Status"] == "FAILED"
        assert "no way" in execution["Error"]["ErrorMessage"]
        assert "CallbackFailed" in [e["EventType"] for e in history(client, arn)]
    with pytest.raises(ClientError) as closed:  # a callback completes once
        client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"again")
    assert closed.value.response["Error"]["Code"] == "CallbackTimeoutException"


def test_execution_timeout_ends_a_long_execution_as_timed_out(client: Any) -> None:
    arn = start_event(client, "Slow")  # waits an hour; ExecutionTimeout 20 s (2 s here)
    execution = finished(client, arn)
    assert execution["Status"] == "TIMED_OUT"
    assert history(client, arn)[-1]["EventType"] == "ExecutionTimedOut"
    listed = client.list_durable_executions_by_function(FunctionName="Slow", Statuses=["TIMED_OUT"])
    assert arn in [e["DurableExecutionArn"] for e in listed["DurableExecutions"]]


def test_stop_durable_execution_stops_it(client: Any) -> None:
    arn = start_event(client, "Approval")
    event_of(client, arn, "CallbackStarted")
    stopped = client.stop_durable_execution(
        DurableExecutionArn=arn, Error={"ErrorType": "Cancelled", "ErrorMessage": "by test"}
    )
    assert stopped["StopTimestamp"]
    execution = client.get_durable_execution(DurableExecutionArn=arn)
    assert execution["Status"] == "STOPPED"
    last = history(client, arn)[-1]
    assert last["EventType"] == "ExecutionStopped"
    assert last["ExecutionStoppedDetails"]["Error"]["Payload"]["ErrorMessage"] == "by test"
    deleted = client.delete_durable_execution(DurableExecutionArn=arn)
    assert deleted["DeletionRequestTimestamp"]
    with pytest.raises(ClientError) as gone:
        client.get_durable_execution(DurableExecutionArn=arn)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_pause_and_resume(client: Any) -> None:
    arn = start_event(client, "Approval")
    callback_id = event_of(client, arn, "CallbackStarted")["CallbackStartedDetails"]["CallbackId"]
    client.pause_durable_execution(DurableExecutionArn=arn, Reason="maintenance")
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "PAUSED"
    with pytest.raises(ClientError) as again:
        client.pause_durable_execution(DurableExecutionArn=arn)
    assert again.value.response["Error"]["Code"] == "ResourceConflictException"
    client.send_durable_execution_callback_success(CallbackId=callback_id, Result=b"later")
    client.resume_durable_execution(DurableExecutionArn=arn)
    assert finished(client, arn)["Status"] == "SUCCEEDED"
    types = [e["EventType"] for e in history(client, arn)]
    assert types.index("ExecutionPaused") < types.index("ExecutionResumed")


def test_execution_timeout_paused_stands_still_while_paused(client: Any) -> None:
    """PauseDurableExecution with ExecutionTimeoutPaused: the timeout does not run while paused
    and its deadline moves by the pause; ExpectedExecutionTimeoutTimestamp is scaled too."""
    arn = start_event(client, "Slow")  # waits an hour; ExecutionTimeout 20 s (2 s here)
    event_of(client, arn, "WaitStarted")
    running = client.get_durable_execution(DurableExecutionArn=arn)
    start = running["StartTimestamp"].timestamp()
    deadline = running["ExpectedExecutionTimeoutTimestamp"].timestamp()
    assert abs(deadline - (start + 2)) < 0.01  # 20 s at --time-scale 10
    client.pause_durable_execution(DurableExecutionArn=arn, ExecutionTimeoutPaused=True)
    paused = client.get_durable_execution(DurableExecutionArn=arn)
    assert paused["Status"] == "PAUSED"
    assert paused["PauseDetails"]["ExecutionTimeoutPaused"] is True
    wait_until(lambda: time.time() > deadline + 1, timeout=30, interval=0.2)
    later = client.get_durable_execution(DurableExecutionArn=arn)
    assert later["Status"] == "PAUSED"  # past the old deadline, and not timed out
    assert later["ExpectedExecutionTimeoutTimestamp"].timestamp() > deadline + 1
    client.resume_durable_execution(DurableExecutionArn=arn)
    assert finished(client, arn)["Status"] == "TIMED_OUT"  # the rest of the timeout, then
    paused_event = next(e for e in history(client, arn) if e["EventType"] == "ExecutionPaused")
    assert paused_event["ExecutionPausedDetails"]["ExecutionTimeoutPaused"] is True


def test_waits_in_map_branches_are_scaled_when_every_branch_waits(client: Any) -> None:
    """Both branches wait 100 s (10 s here): they suspend, the execution suspends, and samrun's
    scaled timer resumes it, well before the SDK's unscaled in-process timer would."""
    arn = start_event(client, "Napper", {"seconds": 100})
    execution = finished(client, arn, timeout=60)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    assert json.loads(execution["Result"]) == [10, 20]
    naps = [n for t, n in kinds(history(client, arn)) if t == "WaitSucceeded"]
    assert sorted(naps) == ["nap-1", "nap-2"]


def test_execution_names_are_idempotent(client: Any) -> None:
    first = start_event(client, "Approval", {"n": 1}, DurableExecutionName="order-7")
    again = start_event(client, "Approval", {"n": 1}, DurableExecutionName="order-7")
    assert first == again and "/durable-execution/order-7/" in first
    with pytest.raises(ClientError) as clash:
        start_event(client, "Approval", {"n": 2}, DurableExecutionName="order-7")
    assert clash.value.response["Error"]["Code"] == "DurableExecutionAlreadyStartedException"
    listed = client.list_durable_executions_by_function(
        FunctionName="Approval", DurableExecutionName="order-7"
    )
    assert [e["DurableExecutionArn"] for e in listed["DurableExecutions"]] == [first]
    client.stop_durable_execution(DurableExecutionArn=first)


def test_list_filters_by_status_and_paginates(client: Any) -> None:
    arns = [start_event(client, "Hello", {"name": str(n)}) for n in range(3)]
    for arn in arns:
        finished(client, arn)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"FunctionName": "Hello", "Statuses": ["SUCCEEDED"], "MaxItems": 2}
    while True:
        page = client.list_durable_executions_by_function(**kwargs)
        assert len(page["DurableExecutions"]) <= 2
        assert {e["Status"] for e in page["DurableExecutions"]} <= {"SUCCEEDED"}
        seen += [e["DurableExecutionArn"] for e in page["DurableExecutions"]]
        if not page.get("NextMarker"):
            break
        kwargs["Marker"] = page["NextMarker"]
    assert set(arns) <= set(seen)
    running = client.list_durable_executions_by_function(FunctionName="Hello", Statuses=["RUNNING"])
    assert not set(arns) & {e["DurableExecutionArn"] for e in running["DurableExecutions"]}


def test_bad_requests_get_lambdas_errors(client: Any) -> None:
    missing = "arn:aws:lambda:us-east-1:123456789012:function:Hello:$LATEST/durable-execution/x/y"
    for call in (
        lambda: client.get_durable_execution(DurableExecutionArn=missing),
        lambda: client.get_durable_execution_history(DurableExecutionArn=missing),
        lambda: client.send_durable_execution_callback_success(CallbackId="abc", Result=b"1"),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as token:
        client.checkpoint_durable_execution(
            DurableExecutionArn=missing, CheckpointToken="abc", Updates=[]
        )
    assert token.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as unknown:
        client.list_durable_executions_by_function(FunctionName="Nope")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    "kwargs",
    [{"Statuses": ["BOGUS"]}, {"Statuses": ["RUNNING", "done"]}, {"Marker": "-1"}, {"Marker": "x"}],
)
def test_list_refuses_an_unknown_status_or_a_marker_it_did_not_give(
    client: Any, kwargs: dict[str, Any]
) -> None:
    """An unknown status used to match nothing (a typo looked like "no executions")."""
    with pytest.raises(ClientError) as refused:
        client.list_durable_executions_by_function(FunctionName="Hello", **kwargs)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    if "Statuses" in kwargs:
        assert "Member must satisfy enum value set: [RUNNING" in str(refused.value)


def test_a_plain_function_is_not_durable(client: Any) -> None:
    response = client.invoke(FunctionName="Plain", Payload=b'{"a": 1}')
    assert json.loads(response["Payload"].read()) == {"plain": {"a": 1}}
    assert "DurableExecutionArn" not in response


def test_an_api_route_starts_an_execution(client: Any, server: SamrunProcess) -> None:
    request = urllib.request.Request(f"{server.api}/hello", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert json.loads(answer.read()) == {"greeting": "hello route", "shout": "HELLO ROUTE"}
    listed = client.list_durable_executions_by_function(FunctionName="Hello")
    inputs = [
        client.get_durable_execution(
            DurableExecutionArn=e["DurableExecutionArn"], IncludeExecutionData=True
        )
        for e in listed["DurableExecutions"]
    ]
    assert any('"routeKey"' in e["InputPayload"] for e in inputs)


def test_executions_show_in_state_and_at_the_terminal(client: Any, server: SamrunProcess) -> None:
    arn = start_event(client, "Approval")
    callback_id = event_of(client, arn, "CallbackStarted")["CallbackStartedDetails"]["CallbackId"]
    shown = {e["arn"]: e for e in samrun_state(server)["durableExecutions"]}
    assert shown[arn]["status"] == "RUNNING" and shown[arn]["function"] == "Approval"
    assert shown[arn]["waitingOn"][0]["type"] == "CALLBACK"
    state_dir = str(server.process.args[server.process.args.index("--state-dir") + 1])  # type: ignore[union-attr]

    def samrun(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "samrun", *args, "--state-dir", state_dir],
            capture_output=True,
            text=True,
            timeout=60,
        )

    listed = samrun("executions", "Approval")
    assert listed.returncode == 0 and arn in listed.stdout and "RUNNING" in listed.stdout
    sent = samrun("callback", "succeed", callback_id, "--result", '{"ok": true}')
    assert sent.returncode == 0, sent.stderr
    assert finished(client, arn)["Status"] == "SUCCEEDED"
    shown_history = samrun("execution", "history", arn)
    assert shown_history.returncode == 0
    assert "CallbackSucceeded" in shown_history.stdout
    assert "ExecutionSucceeded" in shown_history.stdout
    again = samrun("callback", "succeed", callback_id, "--result", "{}")
    assert again.returncode != 0 and "Traceback" not in again.stderr
    bad = samrun("callback", "succeed", callback_id, "--result", "{not json")
    assert bad.returncode != 0 and "--result is not JSON" in bad.stderr
    unknown = samrun("execution", "history", "no-such-execution")
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr


def test_a_failing_step_is_retried_by_its_strategy_then_fails_the_execution(client: Any) -> None:
    arn = start_event(client, "Flaky")  # two attempts, 10 s apart (1 s here)
    execution = finished(client, arn)
    assert execution["Status"] == "FAILED"
    assert "always" in execution["Error"]["ErrorMessage"]
    failed = [e for e in history(client, arn) if e["EventType"] == "StepFailed"]
    assert [e["StepFailedDetails"]["RetryDetails"]["CurrentAttempt"] for e in failed] == [1, 2]
    assert failed[0]["StepFailedDetails"]["RetryDetails"]["NextAttemptDelaySeconds"] >= 1
    assert "NextAttemptDelaySeconds" not in failed[1]["StepFailedDetails"]["RetryDetails"]


def test_context_invoke_chains_plain_and_durable_functions(client: Any) -> None:
    response = client.invoke(FunctionName="Chain", Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {
        "plain": {"plain": {"from": "chain"}},
        "durable": {"greeting": "hello chained", "shout": "HELLO CHAINED"},
    }
    events = history(client, response["DurableExecutionArn"])
    started = [e for e in events if e["EventType"] == "ChainedInvokeStarted"]
    assert [e["ChainedInvokeStartedDetails"]["FunctionName"] for e in started] == ["Plain", "Hello"]
    assert [e["Name"] for e in events if e["EventType"] == "ChainedInvokeSucceeded"] == [
        "call-plain",
        "call-hello",
    ]


def test_a_nodejs_durable_function_runs_its_steps_and_wait(
    client: Any, server: SamrunProcess
) -> None:
    """The JavaScript SDK from the npm registry, through the same API as the Python one."""
    arn = start_event(client, "NodeWaiter", {"name": "node", "seconds": 30})
    assert ":function:NodeWaiter:$LATEST/durable-execution/" in arn
    event_of(client, arn, "WaitStarted", timeout=120)

    def suspended() -> bool:
        pools = [p for p in samrun_state(server)["pools"] if p["function"] == "NodeWaiter"]
        return bool(pools) and all(p["busy"] == 0 for p in pools)

    wait_until(suspended, timeout=20, interval=0.1)
    execution = finished(client, arn)
    assert execution["Status"] == "SUCCEEDED", execution.get("Error")
    assert json.loads(execution["Result"]) == {"greeting": "hello node", "shout": "HELLO NODE"}
    events = history(client, arn)
    assert kinds(events)[1:] == [
        ("StepStarted", "greet"),
        ("StepSucceeded", "greet"),
        ("WaitStarted", "pause"),
        ("WaitSucceeded", "pause"),
        ("StepStarted", "shout"),
        ("StepSucceeded", "shout"),
        ("ExecutionSucceeded", events[0]["Name"]),
    ]
    greeted = next(e for e in events if e["EventType"] == "StepSucceeded")
    assert json.loads(greeted["StepSucceededDetails"]["Result"]["Payload"]) == "hello node"
    assert events[0]["ExecutionStartedDetails"]["Input"]["Payload"] == json.dumps(
        {"name": "node", "seconds": 30}
    )
    waited = next(e for e in events if e["EventType"] == "WaitStarted")
    assert waited["WaitStartedDetails"]["Duration"] == 30
    # a synchronous invocation returns the workflow's result, as the Python SDK's does
    response = client.invoke(FunctionName="NodeWaiter", Payload=json.dumps({"seconds": 10}))
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read())["shout"] == "HELLO WORLD"


def test_an_event_start_that_fails_is_retried_then_reaches_its_dlq_and_destination(
    client: Any, server: SamrunProcess
) -> None:
    """As any `Event` invocation: MaximumRetryAttempts 1 gives two invocations, then the event
    goes to the DeadLetterQueue and Lambda's invocation record to the OnFailure destination."""
    arn = start_event(client, "Doomed", {"order": 7})
    execution = finished(client, arn)
    assert execution["Status"] == "FAILED"
    assert execution["Error"]["ErrorMessage"] == "cannot start"
    invocations = [e for e in history(client, arn) if e["EventType"] == "InvocationCompleted"]
    assert len(invocations) == 2  # the first attempt and MaximumRetryAttempts' one retry
    sqs = aws_client(server, "sqs")
    (dead,) = receive(sqs, queue_url(sqs, "durable-dead-letters"), 1, settle=0.5)
    assert dead["Json"] == {"order": 7}
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "cannot start"
    (failure,) = receive(sqs, queue_url(sqs, "durable-outcomes"), 1, settle=0.5)
    record = failure["Json"]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["functionArn"].endswith(":function:Doomed:$LATEST")
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["durableExecutionArn"] == arn


def test_an_event_started_execution_that_succeeds_reaches_its_success_destination(
    client: Any, server: SamrunProcess
) -> None:
    arn = start_event(client, "Finisher", {"name": "queue"})
    assert finished(client, arn)["Status"] == "SUCCEEDED"
    sqs = aws_client(server, "sqs")
    (success,) = receive(sqs, queue_url(sqs, "durable-successes"), 1, settle=0.5)
    record = success["Json"]
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"greeting": "hello queue", "shout": "HELLO QUEUE"}
    assert record["durableExecutionArn"] == arn
    # a synchronous invocation is not an event: nothing more reaches the destination
    client.invoke(FunctionName="Finisher", Payload=json.dumps({"name": "sync"}))
    assert receive(sqs, queue_url(sqs, "durable-successes"), 0, settle=1.0) == []
