"""Asynchronous invocation through a real `samrun up`: retries, dead-letter queue, destinations,
event age, EventInvokeConfig over the Lambda API, recursive loops. `--time-scale 600` turns
Lambda's 1- and 2-minute retry waits into 0.1 and 0.2 s, and a 60 s event age into 0.1 s."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import (
    FIXTURES,
    SamrunProcess,
    complete_lines,
    shared_file,
    start_up,
    wait_until,
)

TEMPLATE = FIXTURES / "templates" / "async.yaml"
ARN = "arn:aws:lambda:us-east-1:123456789012:function"
RECORD_KEYS = {"version", "timestamp", "requestContext", "requestPayload"}
RESPONSE_KEYS = RECORD_KEYS | {"responseContext", "responsePayload"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("async")
    process = start_up(TEMPLATE, state / ".samrun", "--time-scale", "600")
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def client(server: SamrunProcess):
    return server.lambda_client()


@pytest.fixture(scope="module")
def sqs(server: SamrunProcess):
    return aws_client(server, "sqs")


def invoke_event(client, name: str, event: object) -> str:
    response = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert response["StatusCode"] == 202
    return response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def test_failing_function_ends_in_its_dlq_after_three_attempts(client, sqs) -> None:
    event = {"id": str(uuid.uuid4())}
    request_id = invoke_event(client, "Retried", event)
    dead = receive(sqs, queue_url(sqs, "dead-letters"), 1, settle=0.5)
    attempts = receive(sqs, queue_url(sqs, "AttemptsQueue"), 3, settle=0.5)
    assert [m["Json"] for m in attempts] == [event] * 3  # 1 + MaximumRetryAttempts (default 2)
    assert [m["Json"] for m in dead] == [event]  # the original payload, nothing else
    attributes = dead[0]["MessageAttributes"]
    assert attributes["RequestID"]["StringValue"] == request_id
    assert attributes["ErrorMessage"]["StringValue"] == "RuntimeError"


def test_failure_destination_gets_the_invocation_record(client, sqs, tmp_path: Path) -> None:
    log = shared_file(tmp_path / "attempts.log")
    event = {"log": str(log), "k": [1, 2]}
    request_id = invoke_event(client, "RetriedOnce", event)
    (message,) = receive(sqs, queue_url(sqs, "FailureQueue"), 1, settle=0.5)
    assert len(complete_lines(log)) == 2  # MaximumRetryAttempts: 1
    assert set(complete_lines(log)) == {request_id}  # every attempt carries the same request id
    record = message["Json"]
    assert set(record) == RESPONSE_KEYS
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{ARN}:RetriedOnce:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 2,
    }
    assert record["requestPayload"] == event
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "always fails"


def test_success_destination_gets_the_invocation_record(client, sqs, tmp_path: Path) -> None:
    log = shared_file(tmp_path / "runs.log")
    event = {"log": str(log), "hello": "world"}
    request_id = invoke_event(client, "Succeeds", event)
    (message,) = receive(sqs, queue_url(sqs, "SuccessQueue"), 1, settle=0.3)
    record = message["Json"]
    assert set(record) == RESPONSE_KEYS
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{ARN}:Succeeds:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": True, "got": event}
    assert complete_lines(log) == [request_id]


def test_expired_event_is_not_run_again(client, sqs, tmp_path: Path) -> None:
    """MaximumEventAgeInSeconds 60 (0.1 s here): the retry, due a (scaled) minute after the
    first attempt, is older than that, so it is not run; OnFailure says EventAgeExceeded."""
    log = shared_file(tmp_path / "runs.log")
    request_id = invoke_event(client, "Expiring", {"log": str(log)})
    (message,) = receive(sqs, queue_url(sqs, "FailureQueue"), 1, settle=0.5)
    context = message["Json"]["requestContext"]
    assert (context["requestId"], context["condition"]) == (request_id, "EventAgeExceeded")
    assert context["approximateInvokeCount"] == 1
    assert complete_lines(log) == [request_id]


def test_event_invoke_config_over_the_lambda_api(client, sqs, tmp_path: Path) -> None:
    with pytest.raises(ClientError) as missing:
        client.get_function_event_invoke_config(FunctionName="Configurable")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    failure_arn = "arn:aws:sqs:us-east-1:123456789012:FailureQueue"
    put = client.put_function_event_invoke_config(
        FunctionName="Configurable",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    assert put["FunctionArn"] == f"{ARN}:Configurable:$LATEST"
    assert put["MaximumRetryAttempts"] == 0
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": failure_arn}}
    updated = client.update_function_event_invoke_config(
        FunctionName="Configurable", MaximumEventAgeInSeconds=3600
    )
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 3600)
    got = client.get_function_event_invoke_config(FunctionName="Configurable")
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == failure_arn
    listed = client.list_function_event_invoke_configs(FunctionName="Configurable")
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        f"{ARN}:Configurable:$LATEST"
    ]

    log = shared_file(tmp_path / "runs.log")
    request_id = invoke_event(client, "Configurable", {"log": str(log)})
    (message,) = receive(sqs, queue_url(sqs, "FailureQueue"), 1, settle=0.5)
    assert message["Json"]["requestContext"]["requestId"] == request_id
    assert message["Json"]["requestContext"]["approximateInvokeCount"] == 1
    assert complete_lines(log) == [request_id]  # MaximumRetryAttempts 0: one attempt

    client.delete_function_event_invoke_config(FunctionName="Configurable")
    with pytest.raises(ClientError) as deleted:
        client.get_function_event_invoke_config(FunctionName="Configurable")
    assert deleted.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as bad:
        client.put_function_event_invoke_config(
            FunctionName="Configurable",
            DestinationConfig={"OnFailure": {"Destination": "arn:aws:nope:us-east-1:1:x"}},
        )
    assert bad.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as unknown:
        client.put_function_event_invoke_config(FunctionName="Nope", MaximumRetryAttempts=1)
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_async_payload_over_1_mb_is_refused(client) -> None:
    with pytest.raises(ClientError) as too_big:
        client.invoke(
            FunctionName="Succeeds", InvocationType="Event", Payload=b'"' + b"x" * 1048575 + b'"'
        )
    assert too_big.value.response["Error"]["Code"] == "RequestTooLargeException"
    assert too_big.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413


def test_recursive_loop_is_stopped_after_16_invocations(server, client, tmp_path: Path) -> None:
    log = shared_file(tmp_path / "loop.log")
    mark = len(server.lines)
    invoke_event(client, "Loop", {"log": str(log)})
    server.wait_for("recursive loop detected", timeout=30, start=mark)
    wait_until(lambda: len(complete_lines(log)) >= 16)
    hops = [line.rsplit("Lineage=", 1)[1].rsplit(":", 1)[1] for line in complete_lines(log)]
    assert hops == [str(n) for n in range(1, 17)]
    stops = [line for line in server.lines[mark:] if "recursive loop detected" in line]
    assert len(stops) == 1 and "Loop" in stops[0]
