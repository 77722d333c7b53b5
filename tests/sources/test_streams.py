"""Kinesis and DynamoDB Streams mappings: order per shard, bisection to the on-failure
destination, Lambda's record shapes."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import FIXTURES, SamrunProcess, wait_until
from tests.sources.helpers import bodies, invocations, poller


def test_kinesis_records_arrive_in_order_per_shard(server: SamrunProcess, log: Path) -> None:
    kinesis = aws_client(server, "kinesis")
    sent = []
    for i in range(30):
        data = f"click-{i}"
        kinesis.put_record(StreamName="Clicks", Data=data.encode(), PartitionKey=f"user-{i % 6}")
        sent.append(data)
    wait_until(lambda: len(bodies(log, "StreamReader")) >= 30, timeout=40)
    records = [r for b in invocations(log, "StreamReader") for r in b["records"]]
    assert sorted(r["body"] for r in records) == sorted(sent)  # each exactly once
    shards = {r["shard"] for r in records}
    assert len(shards) == 2  # both shards read
    for shard in shards:
        sequence = [int(r["id"]) for r in records if r["shard"] == shard]
        assert sequence == sorted(sequence)
        for key in {r["key"] for r in records if r["shard"] == shard}:
            mine = [int(r["body"].split("-")[1]) for r in records if r["key"] == key]
            assert mine == sorted(mine)  # in the order they were put
    stats = poller(server, "StreamReader")
    assert stats["seen"] >= 30 and stats["failures"] == 0
    metrics = urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/metrics", timeout=10)
    ages = [
        line
        for line in metrics.read().decode().splitlines()
        if line.startswith("lambda_iterator_age_milliseconds")
        and 'function_name="StreamReader"' in line
    ]
    assert ages, "no IteratorAge for the stream's function"


def test_kinesis_event_shape(server: SamrunProcess, log: Path) -> None:
    wait_until(lambda: invocations(log, "StreamReader"), timeout=40)
    record = invocations(log, "StreamReader")[0]["event"]["Records"][0]
    golden = json.loads((FIXTURES / "events" / "kinesis.json").read_text())["Records"][0]
    assert set(record) == set(golden)
    assert set(record["kinesis"]) == set(golden["kinesis"])
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventSourceARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/Clicks"
    assert (
        record["eventID"]
        == record["eventID"].split(":")[0] + ":" + record["kinesis"]["sequenceNumber"]
    )
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)


def test_failing_record_bisects_to_the_on_failure_destination(
    server: SamrunProcess, log: Path
) -> None:
    kinesis = aws_client(server, "kinesis")
    data = ["ok-1", "ok-2", "ok-3", "boom", "ok-4", "ok-5"]
    put = kinesis.put_records(
        StreamName="Poison", Records=[{"Data": d.encode(), "PartitionKey": "p"} for d in data]
    )
    poison_sequence = put["Records"][3]["SequenceNumber"]
    sqs = aws_client(server, "sqs")
    [message] = receive(sqs, queue_url(sqs, "StreamFailures"), 1, timeout=40, settle=1.0)
    record = message["Json"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # MaximumRetryAttempts 1
    assert record["requestContext"]["functionArn"].endswith(":function:Bisector")
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1  # bisected down to the one bad record
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == poison_sequence
    assert info["streamArn"] == "arn:aws:kinesis:us-east-1:123456789012:stream/Poison"
    assert info["shardId"].startswith("shardId-")
    succeeded = [
        r["body"]
        for b in invocations(log, "Bisector")
        if all(r["body"] != "boom" for r in b["records"])
        for r in b["records"]
    ]
    assert sorted(succeeded) == ["ok-1", "ok-2", "ok-3", "ok-4", "ok-5"]
    assert poller(server, "Bisector")["to_destination"] == 1


def test_dynamodb_changes_arrive_in_order_with_images(server: SamrunProcess, log: Path) -> None:
    dynamodb = aws_client(server, "dynamodb")
    for key in ("a", "b"):
        dynamodb.put_item(TableName="Table", Item={"id": {"S": key}, "v": {"S": "1"}})
    dynamodb.put_item(TableName="Table", Item={"id": {"S": "a"}, "v": {"S": "2"}})
    dynamodb.delete_item(TableName="Table", Key={"id": {"S": "b"}})
    wait_until(lambda: len(bodies(log, "TableReader")) >= 4, timeout=30)
    assert bodies(log, "TableReader") == ["INSERT", "INSERT", "MODIFY", "REMOVE"]
    records = [r for b in invocations(log, "TableReader") for r in b["event"]["Records"]]
    golden = json.loads((FIXTURES / "events" / "dynamodb.json").read_text())["Records"][0]
    assert set(records[0]) == set(golden)
    assert records[0]["eventSource"] == "aws:dynamodb"
    modify = records[2]["dynamodb"]
    assert modify["OldImage"]["v"] == {"S": "1"} and modify["NewImage"]["v"] == {"S": "2"}
    assert modify["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(modify["ApproximateCreationDateTime"], int)
    assert "OldImage" in records[3]["dynamodb"] and "NewImage" not in records[3]["dynamodb"]


def test_reported_item_failure_retries_from_its_checkpoint(
    server: SamrunProcess, log: Path
) -> None:
    kinesis = aws_client(server, "kinesis")
    data = ["c-1", "fail", "c-2"]
    put = kinesis.put_records(
        StreamName="Checkpointed", Records=[{"Data": d.encode(), "PartitionKey": "k"} for d in data]
    )
    sqs = aws_client(server, "sqs")
    [message] = receive(sqs, queue_url(sqs, "CheckpointFailures"), 1, timeout=40, settle=1.0)
    batches = [[r["body"] for r in b["records"]] for b in invocations(log, "Checkpointer")]
    assert batches == [["c-1", "fail", "c-2"], ["fail", "c-2"]]  # retried from the failed one
    info = message["Json"]["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == put["Records"][1]["SequenceNumber"]
    assert info["endSequenceNumber"] == put["Records"][2]["SequenceNumber"]
    assert info["batchSize"] == 2
    assert "functionError" not in message["Json"]["responseContext"]


def test_tumbling_windows_carry_state_to_a_final_invocation(
    server: SamrunProcess, log: Path
) -> None:
    kinesis = aws_client(server, "kinesis")
    for n in range(5):
        kinesis.put_record(StreamName="Windowed", Data=f"w-{n}".encode(), PartitionKey="k")

    def finals() -> list[dict]:
        return [
            b["event"] for b in invocations(log, "Tally") if b["event"]["isFinalInvokeForWindow"]
        ]

    wait_until(lambda: sum(f["state"].get("count", 0) for f in finals()) >= 5, timeout=30)
    assert sum(f["state"]["count"] for f in finals()) == 5
    event = finals()[0]
    assert event["Records"] == []
    assert set(event) >= {"window", "state", "shardId", "eventSourceARN", "isWindowTerminatedEarly"}
    assert event["window"]["start"] < event["window"]["end"]
