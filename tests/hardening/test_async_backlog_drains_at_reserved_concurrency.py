"""Item 8: a backlog of async events for a function with reserved concurrency drains at the
reservation: workers wait for a slot of the function instead of backing off on its throttles."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.conftest import SamrunProcess, start_up, wait_until

EVENTS = 40


def state(server: SamrunProcess) -> dict:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=30) as reply:
        return json.loads(reply.read())


def test_forty_events_at_reserved_concurrency_two_drain_without_backoff(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    try:
        client = server.lambda_client()
        for n in range(EVENTS):
            accepted = client.invoke(  # type: ignore[attr-defined]
                FunctionName="Reserved",
                InvocationType="Event",
                Payload=json.dumps({"sleep": 0.5, "n": n}),
            )
            assert accepted["StatusCode"] == 202
        # 40 events of 0.5 s at 2 at a time is 10 s; exponential backoff takes minutes
        wait_until(lambda: state(server)["async"]["delivered"] >= EVENTS, timeout=90)
        figures = state(server)
        assert figures["async"]["throttled"] == 0  # nothing was throttled: they waited
        assert figures["async"]["pending"] == 0
        reports = [line for line in server.lines if line.startswith("Reserved | REPORT")]
        assert len(reports) == EVENTS
        pools = [p for p in figures["pools"] if p["function"] == "Reserved"]
        assert sum(p["idle"] + p["busy"] for p in pools) <= 2  # never more than the reservation
    finally:
        assert server.stop() == 0
