"""Pure pieces of response streaming: the event-stream encoding (read back with botocore's own
parser) and the HTTP-integration prelude split across chunks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from botocore.eventstream import EventStreamBuffer

from samrun.api import eventstream
from samrun.frontdoors.function_urls import read_prelude
from samrun.frontdoors.rest_v1 import MalformedResponse


def test_event_stream_messages_parse_with_botocore() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(eventstream.payload_chunk(b"\x00hello"))
    buffer.add_data(eventstream.invoke_complete("Error", '{"errorType":"Error"}', "bG9n"))
    chunk, complete = list(buffer)
    assert chunk.headers == {
        ":event-type": "PayloadChunk",
        ":content-type": "application/octet-stream",
        ":message-type": "event",
    }
    assert chunk.payload == b"\x00hello"
    assert complete.headers[":event-type"] == "InvokeComplete"
    assert json.loads(complete.payload) == {
        "ErrorCode": "Error",
        "ErrorDetails": '{"errorType":"Error"}',
        "LogResult": "bG9n",
    }


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_prelude_split_across_chunks() -> None:
    prelude = json.dumps({"statusCode": 418, "headers": {"x-a": "1"}, "cookies": ["c=d"]})
    raw = prelude.encode() + b"\0" * 8 + b"body"
    chunks = pieces(raw[:5], raw[5:-7], raw[-7:])
    status, headers, rest = asyncio.run(read_prelude(chunks))
    assert status == 418
    assert headers == [
        ("x-a", "1"),
        ("Set-Cookie", "c=d"),
        ("Content-Type", "application/octet-stream"),
    ]
    assert rest == b"body"


@pytest.mark.parametrize(
    "raw", [b'{"statusCode": 200}', b"not json" + b"\0" * 8, b"[]" + b"\0" * 8]
)
def test_malformed_prelude(raw: bytes) -> None:
    with pytest.raises(MalformedResponse):
        asyncio.run(read_prelude(pieces(raw)))
