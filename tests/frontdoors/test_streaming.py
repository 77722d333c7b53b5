"""Response streaming against one running `samrun up`: a Node.js `streamifyResponse` handler
behind a RESPONSE_STREAM function URL and through InvokeWithResponseStream (boto3), a custom
runtime streaming over HTTP, a function failing midway, a buffered function read as a stream.

Each streaming handler writes its first chunk, then waits for a gate file that the test creates
only once it has read that chunk: so the chunk reached the client while the handler was still
running. The handler's timestamps show the same order."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.frontdoors.conftest import Running

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

TEMPLATE = "streaming.yaml"


@pytest.fixture(scope="module")
def gates() -> Iterator[Path]:
    """A folder the function's (possibly unprivileged) process can look into."""
    folder = Path(tempfile.mkdtemp(prefix="samrun-stream-gates-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def stamp(line: bytes, label: str) -> int:
    text = line.decode()
    assert text.startswith(f"{label}@"), text
    return int(text.strip().split("@", 1)[1])


@contextlib.contextmanager
def url_get(base: str, query: dict[str, str]) -> Iterator[http.client.HTTPResponse]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", "/?" + urlencode(query))
        yield conn.getresponse()
    finally:
        conn.close()


def test_function_url_streams_chunks_as_the_handler_writes_them(
    samrun_up: Running, gates: Path
) -> None:
    gate = gates / uuid.uuid4().hex
    with url_get(samrun_up.addresses["function URL of Streamer"], {"gate": str(gate)}) as response:
        assert response.status == 201  # from HttpResponseStream.from's prelude
        assert response.getheader("Content-Type") == "text/plain"
        assert response.getheader("X-Streamed") == "yes"
        assert response.getheader("Set-Cookie") == "flavour=oat"
        assert response.getheader("Transfer-Encoding") == "chunked"
        first = response.readline()
        received = now_ms()
        assert not gate.exists()  # the handler is still waiting for it
        gate.touch()
        second, third = response.readline(), response.read()
    assert stamp(first, "first") <= received <= stamp(second, "second")
    assert third == b"third\n"


def test_function_url_failing_midway_is_cut_short(samrun_up: Running, gates: Path) -> None:
    gate = gates / uuid.uuid4().hex
    query = {"gate": str(gate), "fail": "1"}
    with url_get(samrun_up.addresses["function URL of Streamer"], query) as response:
        assert response.status == 201  # sent with the first chunk, before the failure
        assert response.readline().startswith(b"first@")
        gate.touch()
        with pytest.raises(http.client.IncompleteRead):
            response.read()  # no final chunk: the client can tell it did not end cleanly


def read_stream(samrun_up: Running, gates: Path, name: str, **extra: object) -> dict:
    """InvokeWithResponseStream through boto3: the first chunk, read before the gate opens,
    when it was received, the rest, and InvokeComplete."""
    gate = gates / uuid.uuid4().hex
    client = samrun_up.lambda_client()
    response = client.invoke_with_response_stream(  # type: ignore[attr-defined]
        FunctionName=name, Payload=json.dumps({"gate": str(gate), **extra}), LogType="Tail"
    )
    events = iter(response["EventStream"])
    first = next(events)["PayloadChunk"]["Payload"]
    received = now_ms()
    assert not gate.exists()
    gate.touch()
    rest = list(events)
    chunks = [first] + [e["PayloadChunk"]["Payload"] for e in rest if "PayloadChunk" in e]
    complete = [e["InvokeComplete"] for e in rest if "InvokeComplete" in e]
    assert len(complete) == 1 and "InvokeComplete" in rest[-1]
    return {"response": response, "chunks": chunks, "received": received, "complete": complete[0]}


def test_invoke_with_response_stream_reads_the_same_chunks(samrun_up: Running, gates: Path) -> None:
    got = read_stream(samrun_up, gates, "Streamer")
    response, chunks, complete = got["response"], got["chunks"], got["complete"]
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/vnd.amazon.eventstream"
    )
    assert stamp(chunks[0], "first") <= got["received"] <= stamp(chunks[1], "second")
    assert chunks[2:] == [b"third\n"]
    assert "ErrorCode" not in complete
    request_id = response["ResponseMetadata"]["RequestId"]
    assert f"REPORT RequestId: {request_id}" in base64.b64decode(complete["LogResult"]).decode()


def test_invoke_with_response_stream_reports_an_error_midway(
    samrun_up: Running, gates: Path
) -> None:
    got = read_stream(samrun_up, gates, "Streamer", fail=1)
    assert got["chunks"][0].startswith(b"first@") and len(got["chunks"]) == 1
    complete = got["complete"]
    assert complete["ErrorCode"] == "Error"
    details = json.loads(complete["ErrorDetails"])
    assert details["errorType"] == "Error"
    assert details["errorMessage"] == "broke midway"


def test_custom_runtime_streams_over_http(samrun_up: Running, gates: Path) -> None:
    got = read_stream(samrun_up, gates, "CustomStreamer")
    chunks = got["chunks"]
    assert stamp(chunks[0], "custom first") <= got["received"] <= stamp(chunks[1], "custom second")
    assert "ErrorCode" not in got["complete"]
    # a mid-stream error in the chunked response's trailers, as a runtime reports it over HTTP
    got = read_stream(samrun_up, gates, "CustomStreamer", fail=1)
    assert got["chunks"][0].startswith(b"custom first@") and len(got["chunks"]) == 1
    complete = got["complete"]
    assert complete["ErrorCode"] == "Custom.Broken"
    details = json.loads(complete["ErrorDetails"])
    assert details == {"errorType": "Custom.Broken", "errorMessage": "broke midway"}


def test_buffered_function_answers_one_chunk(samrun_up: Running) -> None:
    client = samrun_up.lambda_client()
    response = client.invoke_with_response_stream(  # type: ignore[attr-defined]
        FunctionName="Buffered", Payload=b'{"n": 1}'
    )
    events = list(response["EventStream"])
    assert [list(e) for e in events] == [["PayloadChunk"], ["InvokeComplete"]]
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == {"whole": True, "got": {"n": 1}}
    assert events[1]["InvokeComplete"] == {}
    with pytest.raises(ClientError) as missing:
        client.invoke_with_response_stream(FunctionName="Nope", Payload=b"{}")  # type: ignore[attr-defined]
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
