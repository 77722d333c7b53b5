"""Event records as Lambda builds them from what SQS, Kinesis and DynamoDB Streams return.

boto3 answers in its own shape (capitalised keys, bytes, datetimes); Lambda hands functions the
shapes of AWS's published sample events (camelCase SQS records, base64 Kinesis data, epoch-second
numbers), which tests/fixtures/events/ keeps as golden files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> Record:
    """One `Records` entry of an SQS event, from a ReceiveMessage message."""
    attributes = message.get("MessageAttributes") or {}
    record: Record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {name: _attribute(value) for name, value in attributes.items()},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if attributes and message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {}
    if "StringValue" in value:
        shaped["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        shaped["binaryValue"] = _b64(value["BinaryValue"])
    shaped["stringListValues"] = list(value.get("StringListValues") or [])
    shaped["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues") or []]
    shaped["dataType"] = value.get("DataType", "String")
    return shaped


def sqs_attributes(shaped: dict[str, Any]) -> dict[str, Any]:
    """A Lambda record's messageAttributes back in SendMessage's shape."""
    out: dict[str, Any] = {}
    for name, value in shaped.items():
        attribute: dict[str, Any] = {"DataType": value.get("dataType", "String")}
        if value.get("stringValue") is not None:
            attribute["StringValue"] = value["stringValue"]
        elif value.get("binaryValue") is not None:
            attribute["BinaryValue"] = base64.b64decode(value["binaryValue"])
        else:
            continue
        out[name] = attribute
    return out


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


def kinesis_record(raw: Mapping[str, Any], shard_id: str, stream_arn: str, region: str) -> Record:
    """One `Records` entry of a Kinesis event, from a GetRecords record."""
    arrival = raw.get("ApproximateArrivalTimestamp")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": raw["SequenceNumber"],
            "data": _b64(raw.get("Data", b"")),
            "approximateArrivalTimestamp": epoch(arrival),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{raw['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{stream_arn.split(':')[4]}:role/lambda-role",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def dynamodb_record(raw: Mapping[str, Any], stream_arn: str, region: str) -> Record:
    """One `Records` entry of a DynamoDB Streams event, from a GetRecords record."""
    change = dict(raw.get("dynamodb") or {})
    if "ApproximateCreationDateTime" in change:
        change["ApproximateCreationDateTime"] = int(epoch(change["ApproximateCreationDateTime"]))
    return {
        "eventID": raw.get("eventID", ""),
        "eventName": raw.get("eventName", ""),
        "eventVersion": raw.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def epoch(value: Any) -> float:
    """Seconds since the epoch from boto3's datetime (or a number already)."""
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def sequence_of(record: Mapping[str, Any]) -> str:
    """The sequence number of a stream record, as partial batch responses name it."""
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"].get("SequenceNumber", ""))


def arrival_of(record: Mapping[str, Any]) -> float:
    if "kinesis" in record:
        return float(record["kinesis"]["approximateArrivalTimestamp"])
    return float(record["dynamodb"].get("ApproximateCreationDateTime", 0))


def filter_view(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as FilterCriteria see it: an SQS body or Kinesis data that is JSON is matched
    as JSON (Lambda's rule), anything else as the plain string; a Kinesis record is `{"data"}`."""
    view = dict(record)
    if "body" in view:
        view["body"] = _json_or(view["body"], view["body"])
    elif "kinesis" in view:  # Kinesis filters see the `data` key only, as Lambda's do
        data = view["kinesis"]["data"]
        try:
            return {"data": _json_or(base64.b64decode(data).decode(), data)}
        except (ValueError, UnicodeDecodeError):
            return {"data": data}
    return view


def _json_or(text: str, default: Any) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return default
    return value if isinstance(value, dict) else default


def batch_info(
    source_type: str, shard_id: str, stream_arn: str, records: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """The `KinesisBatchInfo` / `DDBStreamBatchInfo` of an on-failure record."""
    key = "KinesisBatchInfo" if source_type == "kinesis" else "DDBStreamBatchInfo"
    return key, {
        "shardId": shard_id,
        "startSequenceNumber": sequence_of(records[0]),
        "endSequenceNumber": sequence_of(records[-1]),
        "approximateArrivalOfFirstRecord": iso(arrival_of(records[0])),
        "approximateArrivalOfLastRecord": iso(arrival_of(records[-1])),
        "batchSize": len(records),
        "streamArn": stream_arn,
    }


def iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
