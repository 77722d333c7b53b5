"""InvocationType Event takes payloads up to 1 MB (1,048,576 bytes), as Lambda does since 2025:
a payload at the limit is accepted and delivered, one byte more is 413 RequestTooLargeException."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import SamrunProcess, shared_file, wait_until
from tests.hardening.edges import TEMPLATE, lambda_client

LIMIT = 1024 * 1024


def payload_of_size(size: int, log: Path) -> bytes:
    """A JSON object of exactly `size` bytes that names `log`."""
    head = json.dumps({"log": str(log), "pad": ""})
    pad = size - len(head)
    return json.dumps({"log": str(log), "pad": "x" * pad}).encode()


def test_async_payload_up_to_1_mb_is_accepted_and_delivered(samrun_up, tmp_path: Path) -> None:
    server: SamrunProcess = samrun_up(TEMPLATE)
    with lambda_client(server) as client:
        log = shared_file(tmp_path / "delivered.log")  # functions may run as another user
        for size in (300 * 1024, LIMIT):
            payload = payload_of_size(size, log)
            assert len(payload) == size
            response = client.invoke(FunctionName="Echo", InvocationType="Event", Payload=payload)
            assert response["StatusCode"] == 202
            assert response["Payload"].read() == b""  # read: its connection goes back
        wait_until(lambda: len(log.read_text().splitlines()) == 2, timeout=60)
        with pytest.raises(ClientError) as too_big:
            client.invoke(
                FunctionName="Echo", InvocationType="Event", Payload=payload_of_size(LIMIT + 1, log)
            )
        error = too_big.value.response
        assert error["Error"]["Code"] == "RequestTooLargeException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert str(LIMIT) in error["Error"]["Message"]
