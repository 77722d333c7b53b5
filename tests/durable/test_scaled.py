"""Durable behaviour measured in hours and days, seen at --time-scale 8640 (a day lasts 10 s):
retention removes ended executions on a timer, an `Event` start is not retried past its
MaximumEventAgeInSeconds, and a throttled start is retried as Lambda retries throttles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import SamrunProcess, start_up, wait_until
from tests.durable.conftest import BUILD_TIMEOUT, finished, history, start_event

APP = Path(__file__).resolve().parent / "app" / "scaled.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    state = tmp_path_factory.mktemp("durable-scaled") / ".samrun"
    started = start_up(APP, state, "--time-scale", "8640", ready_timeout=BUILD_TIMEOUT)
    yield started
    assert started.stop() == 0


@pytest.fixture(scope="module")
def client(server: SamrunProcess) -> Any:
    return server.lambda_client()


def test_an_ended_execution_is_removed_when_its_retention_runs_out(client: Any) -> None:
    """RetentionPeriodInDays 1 (10 s here): gone on a timer, with no list call to prompt it."""
    response = client.invoke(FunctionName="Keeper", Payload=json.dumps({"name": "kept"}))
    arn = response["DurableExecutionArn"]
    assert client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED"

    def gone() -> bool:
        try:
            client.get_durable_execution(DurableExecutionArn=arn)
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    wait_until(gone, timeout=60, interval=0.5)


def test_an_event_start_is_not_retried_past_its_maximum_event_age(
    client: Any, server: SamrunProcess
) -> None:
    """MaximumEventAgeInSeconds 60 (7 ms here) is over before the 1-minute retry delay: the
    execution fails as EventAgeExceeded, which its OnFailure destination hears."""
    arn = start_event(client, "Stale", {"order": 1})
    execution = finished(client, arn)
    assert execution["Status"] == "FAILED"
    assert execution["Error"]["ErrorType"] == "EventAgeExceeded"
    invocations = [e for e in history(client, arn) if e["EventType"] == "InvocationCompleted"]
    assert len(invocations) <= 1  # never the 3 attempts MaximumRetryAttempts 2 allows
    sqs = aws_client(server, "sqs")
    messages = receive(sqs, queue_url(sqs, "durable-expired"), 1, settle=0.5)
    records = [m["Json"] for m in messages if m["Json"].get("durableExecutionArn") == arn]
    assert records[0]["requestContext"]["condition"] == "EventAgeExceeded"


def test_a_throttled_event_start_is_retried_until_its_event_age_runs_out(client: Any) -> None:
    """ReservedConcurrentExecutions 0: every attempt is throttled; throttles are retried with
    backoff (not counted as the function's errors) until MaximumEventAgeInSeconds."""
    arn = start_event(client, "Throttled", {"name": "never"})
    execution = finished(client, arn)
    assert execution["Status"] == "FAILED"
    assert execution["Error"]["ErrorType"] == "EventAgeExceeded"
    types = [e["EventType"] for e in history(client, arn)]
    assert "InvocationCompleted" not in types  # a throttle is not an invocation
