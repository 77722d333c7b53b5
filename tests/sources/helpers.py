"""What the event-source tests share: the invocation log the test functions write, and state."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import SamrunProcess, complete_lines


def invocations(log: Path, function: str | None = None) -> list[dict[str, Any]]:
    """Every invocation the fixture functions logged (one JSON line each), in order written."""
    lines = [json.loads(line) for line in complete_lines(log)]
    return [line for line in lines if function is None or line["function"] == function]


def bodies(log: Path, function: str) -> list[str]:
    return [r["body"] for line in invocations(log, function) for r in line["records"]]


def state(server: SamrunProcess) -> dict[str, Any]:
    with urllib.request.urlopen(server.lambda_endpoint + "/_samrun/state", timeout=10) as r:
        return json.loads(r.read())


def poller(server: SamrunProcess, function: str) -> dict[str, Any]:
    found = [p for p in state(server)["pollers"] if p["function"] == function]
    assert len(found) == 1, found
    return found[0]


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
