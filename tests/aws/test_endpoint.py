"""The local AWS endpoint: an embedded moto server that samrun starts, fills and stops; functions
reach it (and samrun's Lambda API) with boto3 and no endpoint in their code."""

from __future__ import annotations

import json

import pytest

from tests.aws.helpers import aws_client, queue_url, receive
from tests.conftest import FIXTURES, SamrunProcess, alive, start_up, wait_until

TEMPLATE = FIXTURES / "templates" / "async.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("endpoint")
    process = start_up(TEMPLATE, state / ".samrun", "--time-scale", "600")
    yield process
    pid = moto_pid(process)
    assert process.stop() == 0
    wait_until(lambda: not alive(pid), timeout=10)


def moto_pid(server: SamrunProcess) -> int:
    return int(server.wait_for(r"embedded moto, pid (\d+)", timeout=1).group(1))


def test_up_names_the_embedded_endpoint_on_loopback(server: SamrunProcess) -> None:
    url = server.addresses["AWS endpoint"]
    assert url.startswith("http://127.0.0.1:")
    assert alive(moto_pid(server))


def test_template_resources_exist_with_their_properties(server: SamrunProcess) -> None:
    sqs = aws_client(server, "sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url(sqs, "orders.fifo"), AttributeNames=["All"]
    )["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert attributes["ContentBasedDeduplication"] == "true"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == "arn:aws:sqs:us-east-1:123456789012:OrdersDlq.fifo"
    assert int(redrive["maxReceiveCount"]) == 3
    notes = sqs.get_queue_attributes(QueueUrl=queue_url(sqs, "Notes"), AttributeNames=["All"])
    assert notes["Attributes"]["VisibilityTimeout"] == "45"
    sns = aws_client(server, "sns")
    topic = "arn:aws:sns:us-east-1:123456789012:Alerts"
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("sqs", "arn:aws:sqs:us-east-1:123456789012:Notes")
    ]
    assert "uploads" in [b["Name"] for b in aws_client(server, "s3").list_buckets()["Buckets"]]
    kinesis = aws_client(server, "kinesis")
    assert (
        kinesis.describe_stream_summary(StreamName="Clicks")["StreamDescriptionSummary"][
            "OpenShardCount"
        ]
        == 1
    )
    assert aws_client(server, "events").describe_event_bus(Name="app-bus")["Name"] == "app-bus"
    table = aws_client(server, "dynamodb").describe_table(TableName="Table")["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_function_uses_sqs_and_dynamodb_with_no_endpoint_in_code(server: SamrunProcess) -> None:
    client = server.lambda_client()
    response = client.invoke(FunctionName="UseServices", Payload=json.dumps({"value": "v1"}))
    assert "FunctionError" not in response, response["Payload"].read()
    body = json.loads(response["Payload"].read())
    assert body["item"] == "v1"
    assert body["endpoint"] == server.addresses["AWS endpoint"]
    sqs = aws_client(server, "sqs")
    assert body["queue_url"] == queue_url(sqs, "Notes")  # !Ref resolved to the real local URL
    table = aws_client(server, "dynamodb").describe_table(TableName="Table")["Table"]
    assert body["stream_arn"] == table["LatestStreamArn"]  # known only once the table exists
    item = aws_client(server, "dynamodb").get_item(TableName="Table", Key={"id": {"S": "k1"}})
    assert item["Item"]["v"]["S"] == "v1"
    assert [m["Body"] for m in receive(sqs, body["queue_url"], 1)] == ["v1"]


def test_function_invokes_another_with_no_endpoint_in_code(server: SamrunProcess) -> None:
    client = server.lambda_client()
    event = {"target": "Succeeds", "payload": {"from": "CallOther"}}
    response = client.invoke(FunctionName="CallOther", Payload=json.dumps(event))
    assert "FunctionError" not in response, response["Payload"].read()
    body = json.loads(response["Payload"].read())
    assert body == {"status": 200, "payload": {"ok": True, "got": {"from": "CallOther"}}}
