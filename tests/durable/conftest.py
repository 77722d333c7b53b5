"""One `samrun up` of the durable app for the module (its build installs the real SDK from PyPI),
and helpers that read executions the way a client does: boto3 against the Lambda API."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SamrunProcess, start_up, wait_until

APP = Path(__file__).resolve().parent / "app" / "template.yaml"
SCALE = "10"  # --time-scale: a 10 s wait lasts 1 s
BUILD_TIMEOUT = 300  # the first build pip-installs the SDK and boto3


def start_durable(state: Path, *extra: str) -> SamrunProcess:
    return start_up(APP, state, "--time-scale", SCALE, *extra, ready_timeout=BUILD_TIMEOUT)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    started = start_durable(tmp_path_factory.mktemp("durable") / ".samrun")
    yield started
    assert started.stop() == 0


@pytest.fixture(scope="module")
def client(server: SamrunProcess) -> Any:
    return server.lambda_client()


def history(client: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"DurableExecutionArn": arn, "IncludeExecutionData": True}
    while True:
        page = client.get_durable_execution_history(**kwargs)
        events += page["Events"]
        if not page.get("NextMarker"):
            return events
        kwargs["Marker"] = page["NextMarker"]


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    """(EventType, Name) of each event but the invocations' bookkeeping."""
    return [
        (e["EventType"], e.get("Name")) for e in events if e["EventType"] != "InvocationCompleted"
    ]


def finished(client: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    """The execution once it has ended (waiting for it with a deadline)."""

    def ended() -> dict[str, Any] | None:
        found = client.get_durable_execution(DurableExecutionArn=arn, IncludeExecutionData=True)
        return None if found["Status"] in ("RUNNING", "PAUSED") else found

    result: dict[str, Any] = wait_until(ended, timeout=timeout, interval=0.2)  # type: ignore[assignment]
    return result


def event_of(client: Any, arn: str, kind: str, timeout: float = 60) -> dict[str, Any]:
    """The first `kind` event of the execution's history, once it is there."""

    def found() -> dict[str, Any] | None:
        return next((e for e in history(client, arn) if e["EventType"] == kind), None)

    result: dict[str, Any] = wait_until(found, timeout=timeout, interval=0.2)  # type: ignore[assignment]
    return result


def start_event(client: Any, function: str, payload: object = None, **extra: Any) -> str:
    response = client.invoke(
        FunctionName=function,
        InvocationType="Event",
        Payload=json.dumps(payload or {}),
        **extra,
    )
    assert response["StatusCode"] == 202
    arn: str = response["DurableExecutionArn"]
    return arn


def samrun_state(server: SamrunProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=30) as answer:
        state: dict[str, Any] = json.loads(answer.read())
    return state
