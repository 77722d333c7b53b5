"""A mapping created through the Lambda API outlives a restart on the same state folder, as
Lambda keeps it: same UUID, same settings, polling again; a deleted one stays deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samrun.model import EventSourceMapping
from samrun.sources.mapping_store import MappingStore
from tests.aws.helpers import aws_client, queue_url
from tests.conftest import FIXTURES, shared_file, wait_until
from tests.sources.helpers import bodies

TEMPLATE = FIXTURES / "templates" / "api_mappings.yaml"
ARN = "arn:aws:sqs:us-east-1:123456789012:inbox"


def test_api_mappings_are_kept_across_a_restart(tmp_path: Path, samrun_up: Any) -> None:
    log = shared_file(tmp_path / "invocations.jsonl")
    args = ("--parameter-overrides", f"LogFile={log}")
    first = samrun_up(TEMPLATE, *args)
    client = first.lambda_client()
    created = client.create_event_source_mapping(
        FunctionName="Target", EventSourceArn=ARN, BatchSize=3, Enabled=False
    )
    key = created["UUID"]
    client.update_event_source_mapping(UUID=key, BatchSize=4)
    assert first.stop() == 0

    second = samrun_up(TEMPLATE, *args)
    client = second.lambda_client()
    [kept] = client.list_event_source_mappings(FunctionName="Target")["EventSourceMappings"]
    assert kept["UUID"] == key and kept["EventSourceArn"] == ARN
    assert kept["BatchSize"] == 4 and kept["State"] == "Disabled"
    client.update_event_source_mapping(UUID=key, Enabled=True)
    sqs = aws_client(second, "sqs")
    sqs.send_message(QueueUrl=queue_url(sqs, "inbox"), MessageBody="after-restart")
    wait_until(lambda: bodies(log, "Target") == ["after-restart"], timeout=30)
    client.delete_event_source_mapping(UUID=key)
    wait_until(lambda: not client.list_event_source_mappings()["EventSourceMappings"])
    assert second.stop() == 0

    third = samrun_up(TEMPLATE, *args)
    assert not third.lambda_client().list_event_source_mappings()["EventSourceMappings"]


def test_an_unreadable_store_is_set_aside(tmp_path: Path) -> None:
    """A damaged file does not stop `up`: the API's mappings start empty, the file is kept."""
    path = tmp_path / "api-mappings.json"
    path.write_text("{not json")
    assert MappingStore(path).load() == {}
    assert not path.exists() and path.with_suffix(".unreadable").read_text() == "{not json"
    esm = EventSourceMapping(function="Target", source_type="sqs", source=ARN, batch_size=4)
    MappingStore(path).save({"u-1": esm})
    assert MappingStore(path).load() == {"u-1": esm}
