"""Nothing lost: `kill -9` of samrun in the middle of a batch leaves the message on the queue,
and the next run processes it. The queue lives in a moto server of the test's own
(`--aws-endpoint`), since the embedded one dies with samrun."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import shared_file, wait_until
from tests.sources.helpers import bodies, poller, queue_counts

CODE = Path(__file__).resolve().parent.parent / "fixtures" / "functions" / "sources_app"
TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Durable:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 2
  Slow:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {CODE}
      Handler: app.handler
      Environment:
        Variables:
          LOG_FILE: {{log}}
          SLEEP: "{{sleep}}"
      Events:
        Durable:
          Type: SQS
          Properties:
            Queue: !GetAtt Durable.Arn
"""


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


def test_kill_9_mid_batch_leaves_the_message_on_the_queue(
    tmp_path: Path, endpoint: str, samrun_up
) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log, sleep=30))
    first = samrun_up(template, "--aws-endpoint", endpoint)
    sqs = endpoint_client(endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="Durable")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="survives")
    wait_until(lambda: poller(first, "Slow")["in_flight"] == 1, timeout=20)
    os.killpg(first.process.pid, signal.SIGKILL)  # samrun and its function, mid-batch
    first.process.wait(10)
    assert bodies(log, "Slow") == []
    wait_until(lambda: queue_counts(sqs, url) == (1, 0), timeout=10)  # back after the timeout

    template.write_text(TEMPLATE.format(log=log, sleep=0))
    second = samrun_up(template, "--aws-endpoint", endpoint)
    wait_until(lambda: bodies(log, "Slow") == ["survives"], timeout=30)
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), timeout=10)
    assert poller(second, "Slow")["deleted"] == 1


STREAM_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Events:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {CODE}
      Handler: app.handler
      Environment:
        Variables:
          LOG_FILE: {{log}}
      Events:
        Events:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Events.Arn
            StartingPosition: TRIM_HORIZON
"""


def test_a_stream_resumes_at_its_checkpoint_after_a_restart(
    tmp_path: Path, endpoint: str, samrun_up
) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(STREAM_TEMPLATE.format(log=log))
    first = samrun_up(template, "--aws-endpoint", endpoint)
    kinesis = endpoint_client(endpoint, "kinesis")
    for n in range(3):
        kinesis.put_record(StreamName="Events", Data=f"first-{n}".encode(), PartitionKey="k")
    wait_until(lambda: len(bodies(log, "Reader")) == 3, timeout=30)
    assert first.stop() == 0
    for n in range(2):
        kinesis.put_record(StreamName="Events", Data=f"second-{n}".encode(), PartitionKey="k")
    samrun_up(template, "--aws-endpoint", endpoint)  # same state folder: same checkpoint
    wait_until(lambda: len(bodies(log, "Reader")) >= 5, timeout=30)
    assert bodies(log, "Reader") == ["first-0", "first-1", "first-2", "second-0", "second-1"]


TABLE_TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      BillingMode: PAY_PER_REQUEST
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: {CODE}
      Handler: app.handler
      Environment:
        Variables:
          LOG_FILE: {{log}}
      Events:
        Items:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt Items.StreamArn
            StartingPosition: TRIM_HORIZON
"""


def test_a_table_stream_resumes_at_its_checkpoint_after_a_restart(
    tmp_path: Path, endpoint: str, samrun_up
) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TABLE_TEMPLATE.format(log=log))
    first = samrun_up(template, "--aws-endpoint", endpoint)
    dynamodb = endpoint_client(endpoint, "dynamodb")
    dynamodb.put_item(TableName="Items", Item={"id": {"S": "a"}})
    wait_until(lambda: bodies(log, "Reader") == ["INSERT"], timeout=30)
    assert first.stop() == 0
    dynamodb.put_item(TableName="Items", Item={"id": {"S": "a"}, "v": {"S": "2"}})
    samrun_up(template, "--aws-endpoint", endpoint)
    wait_until(lambda: len(bodies(log, "Reader")) >= 2, timeout=30)
    assert bodies(log, "Reader") == ["INSERT", "MODIFY"]


def test_sigterm_lets_the_batch_in_flight_finish_and_takes_no_new_one(
    tmp_path: Path, endpoint: str, samrun_up
) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log, sleep=2))
    server = samrun_up(template, "--aws-endpoint", endpoint)
    sqs = endpoint_client(endpoint, "sqs")
    url = sqs.get_queue_url(QueueName="Durable")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="finishing")
    wait_until(lambda: poller(server, "Slow")["in_flight"] == 1, timeout=20)
    server.process.send_signal(signal.SIGTERM)
    sqs.send_message(QueueUrl=url, MessageBody="left for later")
    assert server.process.wait(30) == 0
    assert bodies(log, "Slow") == ["finishing"]  # finished, and not followed by another
    wait_until(lambda: queue_counts(sqs, url) == (1, 0), timeout=10)  # deleted; the other stays
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == "left for later"
