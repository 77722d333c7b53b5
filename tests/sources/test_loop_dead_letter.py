"""Recursive loop detection through a queue with a dead-letter queue: the message that would
start the 17th invocation goes to the queue's dead-letter queue, body and attributes intact, as
Lambda sends a stopped event to the dead-letter queue when one is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import shared_file, wait_until
from tests.sources.helpers import invocations, queue_counts

CODE = Path(__file__).resolve().parent.parent / "fixtures" / "functions" / "sources_app"
TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Parked:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: parked
  Circle:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: circle
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Parked.Arn
        maxReceiveCount: 5
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: echo
      Runtime: python3.11
      CodeUri: {CODE}
      Handler: app.echo
      MemorySize: 1769  # a whole CPU and time to import boto3 at its first call: a timeout
      Timeout: 10  # would leave a message to come back after the visibility timeout, a 17th
      Environment:
        Variables:
          LOG_FILE: {{log}}
          LOOP_QUEUE: !Ref Circle
      Events:
        Loop:
          Type: SQS
          Properties:
            Queue: !GetAtt Circle.Arn
"""


def test_a_stopped_loop_parks_its_message_in_the_dead_letter_queue(
    tmp_path: Path, samrun_up: Any
) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log))
    server = samrun_up(template)
    sqs = aws_client(server, "sqs")
    url, parked = queue_url(sqs, "circle"), queue_url(sqs, "parked")
    attributes = {"tenant": {"DataType": "String", "StringValue": "acme"}}
    sqs.send_message(QueueUrl=url, MessageBody="round and round", MessageAttributes=attributes)
    server.wait_for(r"recursive loop detected: 1 message\(s\) of \S+:circle", timeout=60)
    server.wait_for(r"moved to the dead-letter queue")
    assert len(invocations(log, "echo")) == 16
    [message] = receive(sqs, parked, 1)
    assert message["Body"] == "round and round"
    assert message["MessageAttributes"] == {"tenant": {"DataType": "String", "StringValue": "acme"}}
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), timeout=10)
