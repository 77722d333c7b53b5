"""Provisioning against an endpoint that already holds the template's queues: what exists is
kept as it is (a second `up` against the same LocalStack changes nothing), also when its
attributes differ from the template's, and functions get its URL on that endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import invoke_http

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
{queues}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Environment:
        Variables:
{variables}
"""
READER = """import os

def handler(event, context):
    return {k: v for k, v in os.environ.items() if k.startswith("Q_")}
"""


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    return moto_endpoint


def test_existing_queues_are_kept_and_new_ones_made(
    tmp_path: Path, endpoint: str, samrun_up: Any
) -> None:
    sqs = endpoint_client(endpoint, "sqs")
    same = sqs.create_queue(QueueName="same", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    other = sqs.create_queue(QueueName="other", Attributes={"VisibilityTimeout": "99"})
    names = ("same", "other", *(f"fresh{i}" for i in range(12)))
    queues = "\n".join(
        f"  {name.capitalize()}:\n    Type: AWS::SQS::Queue\n    Properties:\n"
        f"      QueueName: {name}\n      VisibilityTimeout: 30"
        for name in names
    )
    variables = "\n".join(f"          Q_{name}: !Ref {name.capitalize()}" for name in names)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(READER)
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE.format(queues=queues, variables=variables))

    server = samrun_up(template, "--aws-endpoint", endpoint)

    assert not any("could not create" in line for line in server.lines), server.lines
    status, _, body = invoke_http(server.lambda_endpoint, "Reader", {})
    assert status == 200, body
    assert body["Q_same"] == same
    assert body["Q_other"] == other["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=other["QueueUrl"], AttributeNames=["All"])
    assert attributes["Attributes"]["VisibilityTimeout"] == "99"  # kept as it was
    for i in range(12):
        url = sqs.get_queue_url(QueueName=f"fresh{i}")["QueueUrl"]
        assert body[f"Q_fresh{i}"] == url
