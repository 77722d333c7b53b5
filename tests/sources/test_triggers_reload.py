"""Watch mode reconciles push sources and schedules: a template edit that removes a schedule and
adds an EventBridge rule stops the one and wires the other, without a restart."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request
from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client
from tests.conftest import FIXTURES, SamrunProcess, wait_until
from tests.sources.test_triggers_e2e import Seen, golden

BEFORE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Seen:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: seen
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: worker
      Runtime: python3.11
      CodeUri: src/
      Handler: app.record
      Environment:
        Variables:
          SEEN: !Ref Seen
      Events:
{events}
"""
SCHEDULE = """\
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
"""
RULE = """\
        Deploys:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [app.deploys]
"""


def state(server: SamrunProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=10) as r:
        return json.loads(r.read())


def ticks(seen: Seen) -> int:
    return len([e for e in seen.of("worker") if e.get("detail-type") == "Scheduled Event"])


def test_template_edit_swaps_a_schedule_for_a_rule(tmp_path: Path, samrun_up: Any) -> None:
    shutil.copytree(FIXTURES / "functions" / "triggers_app", tmp_path / "src")
    template = tmp_path / "template.yaml"
    template.write_text(BEFORE.format(events=SCHEDULE))
    server = samrun_up(template, "--watch", "--time-scale", "60")
    seen = Seen(server)
    try:
        seen.wait("worker", lambda e: e.get("detail-type") == "Scheduled Event")
        mark = len(server.lines)
        template.write_text(BEFORE.format(events=RULE))
        server.wait_for(r"reloaded \(template: .*event sources", start=mark, timeout=60)
        wait_until(lambda: not state(server)["schedules"], timeout=10)
        stopped_at = ticks(seen)
        [trigger] = state(server)["triggers"]
        assert trigger["name"] == "WorkerDeploys" and trigger["status"] == "running"
        events = aws_client(server, "events")
        entry = {"Source": "app.deploys", "DetailType": "Deployed", "Detail": '{"v": 2}'}
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
        event = seen.wait("worker", lambda e: e.get("source") == "app.deploys")
        assert event["detail"] == {"v": 2} and event["detail-type"] == "Deployed"
        assert list(event) == list(golden("eventbridge-scheduled.json"))  # EventBridge's envelope
        assert event["time"].endswith("Z") and event["account"] == "123456789012"
        assert ticks(seen) <= stopped_at + 1  # at most one was in flight when it stopped
    finally:
        seen.stop()


def test_rewiring_a_rule_under_watch_loses_no_event(tmp_path: Path, samrun_up: Any) -> None:
    """Events put continuously while an edit rewires the rule all arrive: the new relay is
    wired before the old is unwired, and the old relay is drained before it is deleted."""
    shutil.copytree(FIXTURES / "functions" / "triggers_app", tmp_path / "src")
    template = tmp_path / "template.yaml"
    template.write_text(BEFORE.format(events=RULE))
    server = samrun_up(template, "--watch")
    seen = Seen(server)
    events = aws_client(server, "events")
    sent: list[int] = []
    done = threading.Event()

    def publish() -> None:
        while not done.is_set():
            n = len(sent)
            entry = {"Source": "app.deploys", "DetailType": "Deployed", "Detail": f'{{"n": {n}}}'}
            assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
            sent.append(n)

    def numbers() -> set[int]:
        return {e["detail"]["n"] for e in seen.of("worker") if "n" in e.get("detail", {})}

    publisher = threading.Thread(target=publish, daemon=True)
    try:
        publisher.start()
        wait_until(lambda: len(numbers()) >= 5, timeout=30)
        mark = len(server.lines)
        template.write_text(BEFORE.format(events=RULE.replace("[app.deploys]", CHANGED)))
        server.wait_for(r"reloaded \(template: .*event sources", start=mark, timeout=60)
        [relay] = [t for t in state(server)["triggers"] if t["status"] == "running"]
        at_reload = len(sent)
        wait_until(lambda: len(sent) >= at_reload + 5, timeout=30)  # and some after it
        done.set()
        publisher.join(10)
        wait_until(lambda: numbers() >= set(sent), timeout=60)
        assert relay["name"] == "WorkerDeploys"
    finally:
        done.set()
        seen.stop()


CHANGED = "[app.deploys, app.releases]"
