"""Tumbling windows as AWS's guide describes them: a state over 1 MB terminates the window early
(a final invocation with isWindowTerminatedEarly, then the same window with a fresh state); a
response without `state` is a failed invocation, retried under MaximumRetryAttempts, then given
up on to the on-failure destination; a shard's end closes its window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import shared_file, wait_until
from tests.sources.helpers import invocations

CODE = Path(__file__).resolve().parent.parent / "fixtures" / "functions" / "sources_app"
TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    CodeUri: {CODE}
    Handler: app.window_probe
    Environment:
      Variables:
        LOG_FILE: {{log}}
Resources:
  Big:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: big
      ShardCount: 1
  Stateless:
    Type: AWS::Kinesis::Stream
    Properties:
      Name: stateless
      ShardCount: 1
  GivenUp:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: given-up
  Aggregator:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: aggregator
      Events:
        Big:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Big.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: 1
            TumblingWindowInSeconds: 900
  Forgetful:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: forgetful
      Events:
        Stateless:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Stateless.Arn
            StartingPosition: TRIM_HORIZON
            TumblingWindowInSeconds: 900
            MaximumRetryAttempts: 1
            DestinationConfig:
              OnFailure:
                Destination: !GetAtt GivenUp.Arn
"""


def events(log: Path, function: str) -> list[dict[str, Any]]:
    return [line["event"] for line in invocations(log, function)]


def test_windows_end_early_over_1_mb_and_need_a_state(tmp_path: Path, samrun_up: Any) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log))
    server = samrun_up(template)
    kinesis = aws_client(server, "kinesis")
    for data in ("a", "big", "b"):
        kinesis.put_record(StreamName="big", Data=data.encode(), PartitionKey="k")
    kinesis.put_record(StreamName="stateless", Data=b"stateless", PartitionKey="k")

    wait_until(lambda: len(events(log, "aggregator")) >= 4, timeout=30)
    first, big, early, after = events(log, "aggregator")[:4]
    assert (first["state"], big["state"]) == ({}, {"count": 1})
    assert early["isFinalInvokeForWindow"] and early["isWindowTerminatedEarly"]
    assert early["Records"] == [] and early["state"]["count"] == 2  # the aggregate, handed over
    assert after["state"] == {} and not after["isWindowTerminatedEarly"]  # a fresh state...
    assert after["window"] == early["window"] == first["window"]  # ...in the same window
    server.wait_for(r"over 1 MB: window terminated early")

    [message] = receive(
        aws_client(server, "sqs"), queue_url(aws_client(server, "sqs"), "given-up"), 1
    )
    assert message["Json"]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["Json"]["KinesisBatchInfo"]["batchSize"] == 1
    assert len(events(log, "forgetful")) == 2  # once, then MaximumRetryAttempts 1
    server.wait_for(r"forgetful returned no state for a tumbling window")


def test_a_shard_end_closes_its_window(tmp_path: Path, samrun_up: Any) -> None:
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log))
    server = samrun_up(template)
    kinesis = aws_client(server, "kinesis")
    kinesis.put_record(StreamName="big", Data=b"a", PartitionKey="k")
    wait_until(lambda: len(events(log, "aggregator")) == 1, timeout=30)
    kinesis.split_shard(
        StreamName="big", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127)
    )
    wait_until(lambda: [e for e in events(log, "aggregator") if e["isFinalInvokeForWindow"]], 60)
    final = events(log, "aggregator")[1]
    assert final["shardId"] == "shardId-000000000000" and final["state"] == {"count": 1}
    assert not final["isWindowTerminatedEarly"]
    server.wait_for(r"shard shardId-000000000000 is closed and fully read")
