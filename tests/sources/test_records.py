"""Pure pieces of the pollers: records as filters see them, partial batch responses, lanes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from samrun.invoke.models import InvokeResult
from samrun.sources.base import fitted, item_failures
from samrun.sources.filters import compile_filters
from samrun.sources.records import dynamodb_record, filter_view, kinesis_record, sqs_record
from samrun.sources.stream_batches import lanes

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s"


def kinesis(data: bytes, key: str = "k", sequence: str = "1") -> dict:
    raw = {
        "PartitionKey": key,
        "SequenceNumber": sequence,
        "Data": data,
        "ApproximateArrivalTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
    }
    return kinesis_record(raw, "shardId-000000000000", ARN, "us-east-1")


def result(payload: object) -> InvokeResult:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return InvokeResult(request_id="r", payload=body, executed_version="$LATEST")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", set()),
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"id": "b"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, None),
        (b"{not json", None),
    ],
)
def test_partial_batch_responses_as_lambda_reads_them(payload: object, expected: object) -> None:
    assert item_failures(result(payload), {"a", "b"}) == expected


def test_sqs_body_is_filtered_as_json_when_it_is_json() -> None:
    keep = compile_filters([{"Pattern": json.dumps({"body": {"n": [{"numeric": [">", 1]}]}})}])
    message = {"MessageId": "1", "ReceiptHandle": "h", "Body": json.dumps({"n": 2})}
    record = sqs_record(message, "arn:aws:sqs:us-east-1:1:q", "us-east-1")
    assert keep(filter_view(record))
    assert record["body"] == json.dumps({"n": 2})  # the function still gets the text
    plain = sqs_record({**message, "Body": "n=2"}, "arn:aws:sqs:us-east-1:1:q", "us-east-1")
    assert not keep(filter_view(plain))


def test_kinesis_filters_see_the_decoded_data_key_only() -> None:
    keep = compile_filters([{"Pattern": json.dumps({"data": {"kind": ["click"]}})}])
    on_key = compile_filters([{"Pattern": json.dumps({"partitionKey": ["k"]})}])
    record = kinesis(json.dumps({"kind": "click"}).encode())
    assert keep(filter_view(record))
    assert not keep(filter_view(kinesis(b"kind=click")))
    assert not on_key(filter_view(record))
    assert record["kinesis"]["data"] == base64.b64encode(b'{"kind": "click"}').decode()
    assert record["kinesis"]["approximateArrivalTimestamp"] == 1767225600.0


def test_dynamodb_records_filter_on_their_own_fields() -> None:
    raw = {
        "eventID": "e",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "dynamodb": {"Keys": {"id": {"S": "a"}}, "SequenceNumber": "7"},
    }
    record = dynamodb_record(raw, "arn:aws:dynamodb:us-east-1:1:table/t/stream/x", "us-east-1")
    assert compile_filters([{"Pattern": json.dumps({"eventName": ["INSERT"]})}])(record)
    assert not compile_filters([{"Pattern": json.dumps({"eventName": ["REMOVE"]})}])(record)


def test_invalid_patterns_are_refused() -> None:
    for bad in ['{"body": "x"}', "not json", "[1]"]:
        with pytest.raises(ValueError):
            compile_filters([{"Pattern": bad}])
    with pytest.raises(ValueError):
        compile_filters([{"Pattern": "{}"}] * 6)


def test_lanes_keep_each_partition_key_in_order() -> None:
    records = [kinesis(b"x", key=f"k{i % 4}", sequence=str(i)) for i in range(40)]
    split = lanes(records, 3)
    assert 1 < len(split) <= 3
    assert sorted(r["kinesis"]["sequenceNumber"] for lane in split for r in lane) == sorted(
        str(i) for i in range(40)
    )
    for lane in split:
        sequence = [int(r["kinesis"]["sequenceNumber"]) for r in lane]
        assert sequence == sorted(sequence)
        for key in {r["kinesis"]["partitionKey"] for r in lane}:
            assert all(
                r in lane for r in records if r["kinesis"]["partitionKey"] == key
            )  # one key, one lane
    assert lanes(records, 1) == [records]


def test_batches_are_split_to_fit_lambdas_payload_limit() -> None:
    big = [{"body": "x" * 1_000_000, "n": n} for n in range(14)]
    parts = fitted(big)
    assert [r["n"] for part in parts for r in part] == list(range(14))  # order kept
    assert len(parts) == 3
    assert all(len(json.dumps({"Records": part})) < 6 * 1024 * 1024 for part in parts)
    assert fitted([]) == []
