"""Mapping settings end to end: ScalingConfig.MaximumConcurrency on SQS, ParallelizationFactor,
MaximumRecordAgeInSeconds and StartingPosition AT_TIMESTAMP on Kinesis."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import FIXTURES, SamrunProcess, shared_file, wait_until
from tests.sources.helpers import bodies, invocations, poller


def peak(runs: list[dict[str, Any]]) -> int:
    """The most invocations that ran at once (from the start and end times they logged)."""
    edges = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_maximum_concurrency_caps_a_backlog(server: SamrunProcess, log: Path) -> None:
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "CappedQueue")
    for start in range(0, 20, 10):
        entries = [{"Id": str(i), "MessageBody": f"c-{start + i}"} for i in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    wait_until(lambda: len(bodies(log, "Capped")) >= 20, timeout=90)
    assert sorted(bodies(log, "Capped")) == sorted(f"c-{i}" for i in range(20))
    assert peak(invocations(log, "Capped")) == 2  # scaled up to the cap, never past it
    assert poller(server, "Capped")["failures"] == 0


def test_parallelization_factor_keeps_order_per_key(server: SamrunProcess, log: Path) -> None:
    kinesis = aws_client(server, "kinesis")
    records = [{"Data": f"{i % 8}-{i}".encode(), "PartitionKey": f"k{i % 8}"} for i in range(40)]
    kinesis.put_records(StreamName="Fanned", Records=records)
    wait_until(lambda: len(bodies(log, "Fanner")) >= 40, timeout=60)
    runs = invocations(log, "Fanner")
    got = [r for run in runs for r in run["records"]]
    assert sorted(r["body"] for r in got) == sorted(r["Data"].decode() for r in records)
    assert peak(runs) > 1  # more than one batch of the one shard in flight
    for key in range(8):
        mine = [int(r["body"].split("-")[1]) for r in got if r["key"] == f"k{key}"]
        assert mine == sorted(mine)
        assert (
            len({i for i, run in enumerate(runs) for r in run["records"] if r["key"] == f"k{key}"})
            >= 1
        )


def test_at_timestamp_skips_what_came_before(server: SamrunProcess, log: Path) -> None:
    kinesis = aws_client(server, "kinesis")
    for i in range(3):
        kinesis.put_record(StreamName="Stamped", Data=f"before-{i}".encode(), PartitionKey="p")
    time.sleep(1.5)  # the boundary: a second apart from both sides, not a wait for a result
    stamp = time.time()
    time.sleep(1.5)
    for i in range(3):
        kinesis.put_record(StreamName="Stamped", Data=f"after-{i}".encode(), PartitionKey="p")
    client = server.lambda_client()
    created = client.create_event_source_mapping(
        FunctionName="ApiTarget",
        EventSourceArn="arn:aws:kinesis:us-east-1:123456789012:stream/Stamped",
        StartingPosition="AT_TIMESTAMP",
        StartingPositionTimestamp=stamp,
    )

    def stamped() -> list[str]:  # ApiTarget serves the ESM API tests too
        return [b for b in bodies(log, "ApiTarget") if b.startswith(("before-", "after-"))]

    try:
        wait_until(lambda: len(stamped()) >= 3, timeout=40)
        kinesis.put_record(StreamName="Stamped", Data=b"after-3", PartitionKey="p")
        wait_until(lambda: "after-3" in stamped(), timeout=40)
        assert stamped() == [f"after-{i}" for i in range(4)]
    finally:
        client.delete_event_source_mapping(UUID=created["UUID"])


def test_maximum_record_age_skips_old_records_to_the_destination(
    tmp_path: Path, samrun_up: Any
) -> None:
    log = shared_file(tmp_path / "invocations.jsonl")
    template = FIXTURES / "templates" / "stream_age.yaml"
    server = samrun_up(template, "--time-scale", "60", "--parameter-overrides", f"LogFile={log}")
    kinesis = aws_client(server, "kinesis")
    sent = [f"r-{i}" for i in range(5)]
    kinesis.put_records(
        StreamName="Aged", Records=[{"Data": d.encode(), "PartitionKey": "p"} for d in sent]
    )
    sqs = aws_client(server, "sqs")
    url = queue_url(sqs, "expired")

    def given_up() -> int:
        return int(poller(server, "Slow")["to_destination"])

    wait_until(lambda: len(bodies(log, "Slow")) + given_up() >= 5, timeout=60)
    expired = receive(sqs, url, given_up(), timeout=20, settle=1.0)
    assert all(m["Json"]["requestContext"]["condition"] == "RecordAgeExceeded" for m in expired)
    info = [m["Json"]["KinesisBatchInfo"] for m in expired]
    assert all(i["streamArn"].endswith(":stream/Aged") for i in info)
    run = bodies(log, "Slow")
    assert 0 < sum(i["batchSize"] for i in info) == 5 - len(run)  # the ones behind a slow batch
    assert len(run) == len(set(run))  # each record run once or given up on once, none twice
