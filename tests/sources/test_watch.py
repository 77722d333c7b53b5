"""`samrun up --watch`: a template edit adds, changes and removes queue triggers while it runs;
a batch in flight when its mapping goes away finishes and is deleted, nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

from tests.aws.helpers import aws_client, queue_url
from tests.conftest import FIXTURES, shared_file, wait_until
from tests.sources.helpers import bodies, poller, queue_counts, state

CODE = FIXTURES / "functions" / "sources_app"

BASE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Work:
    Type: AWS::SQS::Queue
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {code}
      Handler: app.handler
      Environment:
        Variables:
          LOG_FILE: {log}
          SLEEP: "1.5"
{events}"""

EVENTS = """\
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt Work.Arn
            BatchSize: {batch}
"""


def write(template: Path, log: Path, batch: int | None) -> None:
    events = EVENTS.format(batch=batch) if batch else ""
    template.write_text(BASE.format(code=CODE, log=log, events=events))


def test_template_edits_reconcile_pollers_without_losing_messages(
    tmp_path: Path, samrun_up
) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    write(template, log, None)
    server = samrun_up(template, "--watch")
    server.wait_for("watching")
    assert state(server)["pollers"] == []
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "Work")
    sqs.send_message(QueueUrl=url, MessageBody="before")

    mark = len(server.lines)
    write(template, log, 10)  # adds the queue trigger: its poller starts, no restart
    server.wait_for(r"event source mapping started: Worker <- \S+:Work", start=mark, timeout=30)
    wait_until(lambda: bodies(log, "Worker") == ["before"], timeout=30)

    mark = len(server.lines)
    write(template, log, 3)  # a changed mapping is updated in place
    server.wait_for(r"event source mapping updated: Worker", start=mark, timeout=30)
    wait_until(lambda: poller(server, "Worker")["batch_size"] == 3)

    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    wait_until(lambda: poller(server, "Worker")["in_flight"] == 1, timeout=20)
    mark = len(server.lines)
    write(template, log, None)  # removed while its batch runs: the batch finishes first
    server.wait_for(r"event source mapping stopped: Worker", start=mark, timeout=30)
    assert bodies(log, "Worker") == ["before", "in flight"]
    assert queue_counts(sqs, url) == (0, 0)  # processed, then deleted
    assert state(server)["pollers"] == []

    sqs.send_message(QueueUrl=url, MessageBody="after")  # nobody polls it any more
    wait_until(lambda: queue_counts(sqs, url) == (1, 0), timeout=5)
    assert json.dumps("after") not in log.read_text()


BAD_FILTER = """\
            FilterCriteria:
              Filters:
                - Pattern: '{"body": "not a list"}'
"""


def test_an_invalid_filter_is_reported_and_a_fixed_one_polls(tmp_path: Path, samrun_up) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(
        BASE.format(code=CODE, log=log, events=EVENTS.format(batch=10) + BAD_FILTER)
    )
    server = samrun_up(template, "--watch")
    server.wait_for(r"event source mapping \S+ is not polled: invalid FilterCriteria", timeout=5)
    [mapping] = state(server)["pollers"]
    assert mapping["state"] == "Disabled" and mapping["reason"].startswith("PROBLEM: invalid")
    sqs = aws_client(server, "sqs")
    sqs.send_message(QueueUrl=queue_url(sqs, "Work"), MessageBody="waited")
    mark = len(server.lines)
    write(template, log, 10)
    server.wait_for(r"event source mapping updated: Worker", start=mark, timeout=30)
    wait_until(lambda: bodies(log, "Worker") == ["waited"], timeout=30)
