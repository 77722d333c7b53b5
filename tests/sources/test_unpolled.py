"""Mappings samrun does not poll (Amazon MQ, MSK, self-managed Kafka, DocumentDB) are named:
in `plan`, in one warning line each at `up`, in the startup table and in /_samrun/state."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import FIXTURES
from tests.sources.helpers import state

TEMPLATE = FIXTURES / "templates" / "sam_sources.yaml"


def test_plan_lists_broker_and_database_mappings() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "samrun", "plan", str(TEMPLATE), "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    plan = json.loads(out)
    kinds = sorted(m["source_type"] for m in plan["event_source_mappings"])
    assert kinds == ["docdb", "kafka", "kafka", "mq"]
    not_run = sorted(n["type"] for n in plan["not_run"] if n["what"] == "event")
    assert not_run == ["cognito", "docdb", "kafka", "kafka", "mq"]  # and the Cognito trigger


def test_up_warns_once_for_each_mapping_it_does_not_poll(samrun_up) -> None:
    server = samrun_up(TEMPLATE)
    warnings = [line for line in server.lines if "is not polled" in line]
    assert len(warnings) == 4
    assert any("ConsumerBroker (mq: arn:aws:mq:" in w for w in warnings)
    assert any("ConsumerDocs (docdb:" in w for w in warnings)
    assert any("(kafka: broker1:9092,broker2:9092" in w for w in warnings)
    assert len([line for line in server.lines if line.endswith("not polled")]) == 4
    pollers = state(server)["pollers"]
    assert sorted(p["type"] for p in pollers) == ["docdb", "kafka", "kafka", "mq"]
    assert not any(p["polled"] for p in pollers)
    assert all(p["reason"].startswith("samrun does not poll") for p in pollers)
