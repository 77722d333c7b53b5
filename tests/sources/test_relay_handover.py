"""A retiring relay whose messages its own trigger can no longer deliver loses none: an edit
drops the function's alias, so the old rule's events (sent to the alias) cannot be invoked; they
are handed to the running trigger of the same rule and function, the log says so, and the
old relay is deleted (not kept, unpolled, with events in it)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client
from tests.conftest import FIXTURES, wait_until
from tests.sources.test_triggers_e2e import Seen

TEMPLATE = """\
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
{alias}
      Environment:
        Variables:
          SEEN: !Ref Seen
      Events:
        Deploys:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [app.deploys]
"""


def relays(sqs: Any) -> list[str]:
    return sqs.list_queues(QueueNamePrefix="samrun-relay-").get("QueueUrls", [])


def test_a_retiring_relays_events_reach_the_running_trigger(tmp_path: Path, samrun_up: Any) -> None:
    shutil.copytree(FIXTURES / "functions" / "triggers_app", tmp_path / "src")
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(alias="      AutoPublishAlias: live"))
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
        template.write_text(TEMPLATE.format(alias=""))
        server.wait_for(r"reloaded \(template: .*event sources", start=mark, timeout=60)
        at_reload = len(sent)
        wait_until(lambda: len(sent) >= at_reload + 5, timeout=30)
        done.set()
        publisher.join(10)
        # the old relay is drained (its events handed over) and deleted, none kept
        sqs = aws_client(server, "sqs")
        wait_until(lambda: len(relays(sqs)) == 1, timeout=60)
        server.wait_for(
            r"a retiring relay's message \(Function not found: \S+:worker:live\) "
            r"handed to the running one",
            start=mark,
        )
        # and what came after the edit arrives (what was accepted for the alias before it,
        # on the async queue, is the async queue's: dropped as the alias is gone)
        wait_until(lambda: numbers() >= set(sent[at_reload:]), timeout=60)
    finally:
        done.set()
        seen.stop()
