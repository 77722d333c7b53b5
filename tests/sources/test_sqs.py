"""SQS event source mappings against the embedded endpoint: a real `samrun up`, boto3 sending."""

from __future__ import annotations

import json
from pathlib import Path

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import FIXTURES, SamrunProcess, wait_until
from tests.sources.helpers import bodies, invocations, poller, queue_counts


def test_up_lists_each_poller(server: SamrunProcess) -> None:
    line = server.wait_for(r"^Worker\s+<- arn:aws:sqs:us-east-1:123456789012:Jobs\s+sqs\s+10")
    assert "Enabled" in line.string
    server.wait_for(r"^Limited\s+<- \S+:Backlog\s+sqs\s+5\s+Enabled")


def test_messages_are_processed_in_batches_and_deleted(server: SamrunProcess, log: Path) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "Jobs")
    sent = [f"job-{i}" for i in range(25)]
    for start in range(0, 25, 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(sent[start : start + 10])]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    wait_until(lambda: len(bodies(log, "Worker")) >= 25, timeout=30)
    assert sorted(bodies(log, "Worker")) == sorted(sent)  # each once
    batches = invocations(log, "Worker")
    assert all(1 <= len(b["records"]) <= 10 for b in batches)
    assert len(batches) < 25  # batched, not one by one
    wait_until(lambda: poller(server, "Worker")["deleted"] == 25, timeout=10)
    assert queue_counts(sqs, url) == (0, 0)
    stats = poller(server, "Worker")
    assert stats["seen"] == 25 and stats["failures"] == 0 and stats["batches"] == len(batches)


def test_record_shape_is_lambdas(server: SamrunProcess, log: Path) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "Jobs")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="shaped",
        MessageAttributes={"myAttribute": {"DataType": "String", "StringValue": "myValue"}},
    )
    wait_until(lambda: "shaped" in bodies(log, "Worker"), timeout=20)
    event = next(
        b["event"] for b in invocations(log, "Worker") if b["records"][0]["body"] == "shaped"
    )
    golden = json.loads((FIXTURES / "events" / "sqs.json").read_text())
    record, expected = event["Records"][0], golden["Records"][0]
    assert set(record) - {"md5OfMessageAttributes"} == set(expected)
    assert set(expected["attributes"]) <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "myAttribute": {
            "stringValue": "myValue",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:Jobs"
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"


def test_partial_batch_failure_returns_only_the_failed_items(
    server: SamrunProcess, log: Path
) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "PartialQueue")
    sent = ["p-a", "p-b", "fail", "p-c"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(sent)]
    )
    # the failed item comes back after the 1 s visibility timeout, fails again, and the redrive
    # policy (maxReceiveCount 2) moves it to the dead-letter queue
    dead = receive(sqs, queue_url(sqs, "PartialDlq"), 1, timeout=30)
    assert [m["Body"] for m in dead] == ["fail"]
    got = bodies(log, "Partial")
    assert sorted(b for b in got if b != "fail") == ["p-a", "p-b", "p-c"]  # never redelivered
    assert got.count("fail") == 2
    assert queue_counts(sqs, url) == (0, 0)


def test_backlog_drains_at_reserved_concurrency_without_errors(
    server: SamrunProcess, log: Path
) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "Backlog")
    for start in range(0, 100, 10):
        entries = [{"Id": str(i), "MessageBody": f"b-{start + i}"} for i in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    wait_until(lambda: len(bodies(log, "Limited")) >= 100, timeout=90)
    assert sorted(bodies(log, "Limited")) == sorted(f"b-{i}" for i in range(100))
    runs = invocations(log, "Limited")
    edges = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak <= 2  # never past the reserved concurrency
    stats = poller(server, "Limited")
    assert stats["failures"] == 0 and stats["throttles"] == 0  # waited for room, no 429s
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), timeout=10)


def test_filters_drop_and_delete_what_does_not_match(server: SamrunProcess, log: Path) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "Orders")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "total": 20}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "order", "total": 5}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "refund", "total": 50}))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    sqs.send_message(
        QueueUrl=url,
        MessageBody="plain but urgent",
        MessageAttributes={"urgent": {"DataType": "String", "StringValue": "yes"}},
    )
    wait_until(lambda: poller(server, "Filtered")["seen"] >= 5, timeout=20)
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), timeout=10)  # dropped ones deleted
    got = bodies(log, "Filtered")
    assert sorted(got) == sorted([json.dumps({"kind": "order", "total": 20}), "plain but urgent"])
    assert poller(server, "Filtered")["filtered"] == 3


def test_recursive_loop_through_a_queue_stops_at_16_hops(server: SamrunProcess, log: Path) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "LoopQueue")
    sqs.send_message(QueueUrl=url, MessageBody="round and round")
    server.wait_for(r"recursive loop detected: 1 message\(s\) of \S+:LoopQueue", timeout=60)
    assert len(invocations(log, "Looper")) == 16
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), timeout=10)  # dropped: no DLQ
    traces = [
        b["event"]["Records"][0]["attributes"].get("AWSTraceHeader")
        for b in invocations(log, "Looper")
    ]
    assert traces[0] is None and all("Lineage=" in t for t in traces[1:])


def test_fifo_queue_keeps_order_per_message_group(server: SamrunProcess, log: Path) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "ordered.fifo")
    for n in range(10):
        entries = [
            {"Id": f"g{g}", "MessageBody": f"g{g}-{n}", "MessageGroupId": f"g{g}"} for g in range(3)
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    wait_until(lambda: len(bodies(log, "Sequencer")) >= 30, timeout=40)
    got = bodies(log, "Sequencer")
    assert len(got) == 30
    for g in range(3):
        mine = [int(b.split("-")[1]) for b in got if b.startswith(f"g{g}-")]
        assert mine == list(range(10))
    record = invocations(log, "Sequencer")[0]["event"]["Records"][0]
    assert record["attributes"]["MessageGroupId"] == "g0"
    assert "MessageDeduplicationId" in record["attributes"]
