"""Kinesis resharding: a child shard is read only after its parents are finished, as Lambda does,
and a child born while samrun reads is read from its start. The stream lives in a moto server of
the test's own (`--aws-endpoint`), resharded with split_shard / merge_shards over real HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import shared_file, wait_until
from tests.sources.helpers import invocations

CODE = Path(__file__).resolve().parent.parent / "fixtures" / "functions" / "sources_app"
TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Reader:
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
        Clicks:
          Type: Kinesis
          Properties:
            Stream: arn:aws:kinesis:us-east-1:123456789012:stream/clicks
            StartingPosition: {{position}}
            BatchSize: 1
"""
HALF = str(2**127)  # the hash key that splits [0, 2^128) in two


@pytest.fixture
def kinesis(moto_endpoint: str) -> Any:
    client = endpoint_client(moto_endpoint, "kinesis")
    client.endpoint = moto_endpoint
    return client


def put(kinesis: Any, data: str, hash_key: str) -> str:
    reply = kinesis.put_record(
        StreamName="clicks", Data=data.encode(), PartitionKey=data, ExplicitHashKey=hash_key
    )
    return str(reply["ShardId"])


def shards_of(log: Path) -> list[tuple[str, str, float, float]]:
    """(shard, body, start, end) of every record the function got, in order."""
    return [
        (r["shard"], r["body"], line["start"], line["end"])
        for line in invocations(log)
        for r in line["records"]
    ]


def test_a_merged_child_waits_for_both_parents(
    tmp_path: Path, kinesis: Any, samrun_up: Any
) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    for n in range(3):
        assert put(kinesis, f"low-{n}", "0") == "shardId-000000000000"
        assert put(kinesis, f"high-{n}", HALF) == "shardId-000000000001"
    kinesis.merge_shards(
        StreamName="clicks",
        ShardToMerge="shardId-000000000000",
        AdjacentShardToMerge="shardId-000000000001",
    )
    assert put(kinesis, "child", "0") == "shardId-000000000002"
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log, sleep=0.3, position="TRIM_HORIZON"))

    server = samrun_up(template, "--aws-endpoint", kinesis.endpoint)
    wait_until(lambda: "child" in [body for _, body, _, _ in shards_of(log)], timeout=60)
    got = shards_of(log)
    parents = [r for r in got if r[0] != "shardId-000000000002"]
    children = [r for r in got if r[0] == "shardId-000000000002"]
    assert sorted(body for _, body, _, _ in parents) == sorted(
        [f"low-{n}" for n in range(3)] + [f"high-{n}" for n in range(3)]
    )
    assert max(end for *_, end in parents) <= min(start for _, _, start, _ in children)
    assert children[-1][1] == "child"
    server.wait_for(r"shard shardId-000000000002 waits for its parent")


def test_a_child_born_while_reading_is_read_from_its_start(
    tmp_path: Path, kinesis: Any, samrun_up: Any
) -> None:
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log, sleep=0, position="LATEST"))
    server = samrun_up(template, "--aws-endpoint", kinesis.endpoint)
    put(kinesis, "before", "0")
    wait_until(lambda: [b for _, b, _, _ in shards_of(log)] == ["before"], timeout=30)

    kinesis.split_shard(
        StreamName="clicks", ShardToSplit="shardId-000000000000", NewStartingHashKey=HALF
    )
    child = put(kinesis, "after-split", HALF)  # before samrun has seen the new shards
    assert child != "shardId-000000000000"
    wait_until(lambda: "after-split" in [b for _, b, _, _ in shards_of(log)], timeout=60)
    assert [s for s, b, _, _ in shards_of(log) if b == "after-split"] == [child]
    server.wait_for(r"shard shardId-000000000000 is closed and fully read")


def test_parents_read_from_latest_end_when_merged(
    tmp_path: Path, kinesis: Any, samrun_up: Any
) -> None:
    """LATEST: the parents' old records are never read, yet once merged they are finished
    (caught up with their end), and the child's records are read."""
    kinesis.create_stream(StreamName="clicks", ShardCount=2)
    put(kinesis, "old-low", "0")
    put(kinesis, "old-high", HALF)
    template, log = tmp_path / "template.yaml", shared_file(tmp_path / "log.jsonl")
    template.write_text(TEMPLATE.format(log=log, sleep=0, position="LATEST"))
    server = samrun_up(template, "--aws-endpoint", kinesis.endpoint)
    kinesis.merge_shards(
        StreamName="clicks",
        ShardToMerge="shardId-000000000000",
        AdjacentShardToMerge="shardId-000000000001",
    )
    assert put(kinesis, "new", "0") == "shardId-000000000002"
    wait_until(lambda: "new" in [b for _, b, _, _ in shards_of(log)], timeout=60)
    assert {shard for shard, *_ in shards_of(log)} == {"shardId-000000000002"}  # (moto copied
    # the parents' records into the child, which is read from its start: moto's, not AWS's)
    server.wait_for(r"shard shardId-000000000001 is closed and fully read")
