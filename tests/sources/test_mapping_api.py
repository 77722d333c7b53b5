"""The event source mapping operations of the Lambda API, through boto3, on live pollers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.aws.helpers import aws_client
from tests.conftest import SamrunProcess, wait_until
from tests.sources.helpers import bodies, queue_counts


def test_template_mappings_are_listed_with_uuids(server: SamrunProcess) -> None:
    client = server.lambda_client()
    found = client.list_event_source_mappings(FunctionName="Worker")["EventSourceMappings"]
    assert len(found) == 1
    mapping = found[0]
    assert mapping["EventSourceArn"] == "arn:aws:sqs:us-east-1:123456789012:Jobs"
    assert mapping["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:Worker"
    assert mapping["State"] == "Enabled" and mapping["BatchSize"] == 10
    again = client.get_event_source_mapping(UUID=mapping["UUID"])
    assert again["UUID"] == mapping["UUID"]
    everything = client.list_event_source_mappings()["EventSourceMappings"]
    assert len(everything) == 13


def test_create_pause_update_and_delete_a_mapping(server: SamrunProcess, log: Path) -> None:
    client = server.lambda_client()
    sqs = aws_client(server, "sqs")
    url = sqs.create_queue(QueueName="made-by-api")["QueueUrl"]
    arn = "arn:aws:sqs:us-east-1:123456789012:made-by-api"
    created = client.create_event_source_mapping(
        FunctionName="ApiTarget", EventSourceArn=arn, BatchSize=5
    )
    assert created["State"] == "Creating" and created["BatchSize"] == 5
    key = created["UUID"]
    wait_until(lambda: client.get_event_source_mapping(UUID=key)["State"] == "Enabled")
    sqs.send_message(QueueUrl=url, MessageBody="api-1")
    wait_until(lambda: "api-1" in bodies(log, "ApiTarget"), timeout=20)

    paused = client.update_event_source_mapping(UUID=key, Enabled=False)
    assert paused["State"] == "Updating"
    wait_until(lambda: client.get_event_source_mapping(UUID=key)["State"] == "Disabled")
    sqs.send_message(QueueUrl=url, MessageBody="api-2")
    wait_until(lambda: queue_counts(sqs, url) == (1, 0), timeout=5)  # nobody polls it

    client.update_event_source_mapping(UUID=key, Enabled=True, BatchSize=2)
    wait_until(lambda: "api-2" in bodies(log, "ApiTarget"), timeout=30)
    assert client.get_event_source_mapping(UUID=key)["BatchSize"] == 2

    deleted = client.delete_event_source_mapping(UUID=key)
    assert deleted["State"] == "Deleting"
    with pytest.raises(ClientError) as error:
        client.get_event_source_mapping(UUID=key)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    sqs.send_message(QueueUrl=url, MessageBody="api-3")
    wait_until(lambda: queue_counts(sqs, url) == (1, 0), timeout=5)
    assert "api-3" not in bodies(log, "ApiTarget")


def test_create_checks_what_lambda_checks(server: SamrunProcess) -> None:
    client = server.lambda_client()
    jobs = "arn:aws:sqs:us-east-1:123456789012:Jobs"
    cases = [
        ({"FunctionName": "Nope", "EventSourceArn": jobs}, "ResourceNotFoundException"),
        ({"FunctionName": "Worker", "EventSourceArn": jobs}, "ResourceConflictException"),
        (
            {
                "FunctionName": "Partial",
                "EventSourceArn": jobs,
                "BatchSize": 50,
            },
            "InvalidParameterValueException",
        ),
        (
            {
                "FunctionName": "Partial",
                "EventSourceArn": jobs,
                "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": "x"})}]},
            },
            "InvalidParameterValueException",
        ),
    ]
    fifo = "arn:aws:sqs:us-east-1:123456789012:ordered.fifo"
    cases += [
        (
            {
                "FunctionName": "ApiTarget",
                "EventSourceArn": fifo,
                "BatchSize": 20,
                "MaximumBatchingWindowInSeconds": 1,
            },
            "InvalidParameterValueException",
        ),
        (
            {
                "FunctionName": "ApiTarget",
                "EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/Clicks",
            },
            "InvalidParameterValueException",
        ),  # no StartingPosition
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as error:
            client.create_event_source_mapping(**kwargs)
        assert error.value.response["Error"]["Code"] == code, kwargs


def test_update_applies_live(server: SamrunProcess, log: Path) -> None:
    client = server.lambda_client()
    sqs = aws_client(server, "sqs")
    url = sqs.create_queue(QueueName="updated-live")["QueueUrl"]
    arn = "arn:aws:sqs:us-east-1:123456789012:updated-live"
    key = client.create_event_source_mapping(FunctionName="ApiTarget", EventSourceArn=arn)["UUID"]
    client.update_event_source_mapping(
        UUID=key,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["live"]}})}]},
    )
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "other"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "live"}))
    wait_until(lambda: json.dumps({"kind": "live"}) in bodies(log, "ApiTarget"), timeout=20)
    wait_until(lambda: queue_counts(sqs, url) == (0, 0), timeout=20)  # the other one: deleted
    assert json.dumps({"kind": "other"}) not in bodies(log, "ApiTarget")
    client.delete_event_source_mapping(UUID=key)
