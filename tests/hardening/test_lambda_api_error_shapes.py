"""Every error of the Lambda API comes in Lambda's shape (an `x-amzn-ErrorType` header and a JSON
`{"Type", "message"}` body that botocore parses), never aiohttp's plain text: unknown routes and
methods, malformed HTTP (answered without a traceback in samrun's log), names and qualifiers that
break the API's constraints (400 ValidationException, not 404), out-of-range pagination, and a
ClientContext that is base64 but not a JSON object (400 InvalidRequestContentException)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import SamrunProcess
from tests.hardening.edges import TEMPLATE, lambda_client, raw_request, status_of


@pytest.fixture
def server(samrun_up) -> SamrunProcess:
    return samrun_up(TEMPLATE)


@pytest.fixture
def client(server: SamrunProcess) -> Iterator[Any]:
    with lambda_client(server) as boto3_client:
        yield boto3_client


def call(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, dict, object]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        with error:
            body = error.read()
        assert error.headers["Content-Type"].startswith("application/json"), body
        return error.code, dict(error.headers), json.loads(body)


def assert_lambda_error(result: tuple[int, dict, object], status: int, code: str) -> str:
    got_status, headers, body = result
    assert (got_status, headers.get("x-amzn-ErrorType")) == (status, code), (headers, body)
    assert isinstance(body, dict) and body.get("Type") == "User", body
    assert headers.get("x-amzn-RequestId")
    return str(body["message"])


def test_unknown_route_and_method_are_json_errors(server: SamrunProcess) -> None:
    base = server.lambda_endpoint
    assert_lambda_error(call(f"{base}/nope"), 404, "UnknownOperationException")
    result = call(f"{base}/2015-03-31/functions/Echo/invocations", "DELETE")
    assert "DELETE" in assert_lambda_error(result, 405, "UnknownOperationException")


def test_malformed_http_is_a_json_400_and_logs_no_traceback(server: SamrunProcess) -> None:
    mark = len(server.lines)
    requests = [
        b"GARBAGE\r\n\r\n",
        b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /2015-03-31/functions/Echo/invocations HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for data in requests:
        answer = raw_request(server.lambda_endpoint, data)
        assert status_of(answer) in (400, 414), answer[:300]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"x-amzn-ErrorType: InvalidRequestContentException" in head, head
        assert json.loads(body)["message"].startswith("Malformed HTTP request")
    status, _, _ = call(f"{server.lambda_endpoint}/_samrun/state")  # still serving
    assert status == 200
    assert not [line for line in server.lines[mark:] if "Traceback" in line], server.lines[mark:]


def test_names_and_qualifiers_that_break_constraints_are_validation_errors(client: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    bad = [
        {"FunctionName": "a" * 65},
        {"FunctionName": arn + "b" * 130},
        {"FunctionName": "Echo", "Qualifier": "bad!q"},
        {"FunctionName": "Echo", "Qualifier": "q" * 129},
        {"FunctionName": "Echo:bad!q"},
    ]
    for params in bad:
        with pytest.raises(ClientError) as caught:
            client.invoke(Payload=b"{}", **params)
        error = caught.value.response
        assert error["Error"]["Code"] == "ValidationException", params
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"].startswith("1 validation error detected"), error
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="a" * 64, Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as config:
        client.get_function_configuration(FunctionName="x" * 65)
    assert config.value.response["Error"]["Code"] == "ValidationException"


@pytest.mark.parametrize(
    "path",
    [
        "/2015-03-31/functions/?MaxItems=-5",
        "/2015-03-31/functions/?MaxItems=0",
        "/2015-03-31/functions/?MaxItems=10001",
        "/2015-03-31/functions/?MaxItems=ten",
        "/2019-09-25/functions/Echo/event-invoke-config/list?MaxItems=51",
    ],
)
def test_out_of_range_pagination_is_400(server: SamrunProcess, path: str) -> None:
    message = assert_lambda_error(call(server.lambda_endpoint + path), 400, "ValidationException")
    assert "maxItems" in message


def test_pagination_in_range_still_pages(server: SamrunProcess) -> None:
    status, _, body = call(server.lambda_endpoint + "/2015-03-31/functions/?MaxItems=1")
    assert status == 200 and isinstance(body, dict) and len(body["Functions"]) == 1


@pytest.mark.parametrize("context", [b"[1, 2]", b"not json", b'"text"', b"{"])
def test_client_context_that_is_not_a_json_object_is_refused(client: Any, context: bytes) -> None:
    for invocation_type in ("RequestResponse", "Event"):
        with pytest.raises(ClientError) as caught:
            client.invoke(
                FunctionName="Echo",
                InvocationType=invocation_type,
                ClientContext=base64.b64encode(context).decode(),
                Payload=b"{}",
            )
        error = caught.value.response
        assert error["Error"]["Code"] == "InvalidRequestContentException"
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["Error"]["Message"] == (
            "Client context must be a valid Base64-encoded JSON object."
        )
    good = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    response = client.invoke(FunctionName="Echo", ClientContext=good, Payload=b"{}")
    assert json.loads(response["Payload"].read())["client"] == {"k": "v"}
