"""boto3 against a running samrun's embedded AWS endpoint, and waiting for SQS messages."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from tests.conftest import SamrunProcess


def aws_client(server: SamrunProcess, service: str) -> Any:
    return endpoint_client(server.addresses["AWS endpoint"], service)


def endpoint_client(url: str, service: str) -> Any:
    """A boto3 client of an AWS endpoint (moto's server) with test credentials, no retries."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=BotoConfig(retries={"max_attempts": 1}),
    )


def queue_url(sqs: Any, name: str) -> str:
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def receive(sqs: Any, url: str, count: int, timeout: float = 20, settle: float = 0.0) -> list[Any]:
    """At least `count` messages (bodies as JSON where they parse), waiting up to `timeout`;
    then `settle` seconds more to catch any extra ones."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    settle_until: float | None = None
    while True:
        now = time.monotonic()
        if len(found) >= count and settle_until is None:
            settle_until = now + settle
        if settle_until is not None and now >= settle_until:
            return found
        if now > deadline:
            raise AssertionError(f"{len(found)} of {count} messages in {url} after {timeout}s")
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            try:
                message["Json"] = json.loads(message["Body"])
            except ValueError:
                message["Json"] = None
            found.append(message)
        if not response.get("Messages"):
            time.sleep(0.05)
