"""The `application/vnd.amazon.eventstream` encoding InvokeWithResponseStream answers in.

A message: the prelude (total length, headers length, both big-endian uint32, and the CRC32 of
those 8 bytes), the headers, the payload, and the CRC32 of everything before it. A header: its
name's length (1 byte) and name, a type (7: a string), the value's length (2 bytes) and value.
botocore's `EventStreamBuffer` is the parser this mirrors.
"""

from __future__ import annotations

import json
import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"
STRING = 7


def message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", STRING, len(raw_value))
        + raw_value
    )


def event(event_type: str, payload: bytes, content_type: str) -> bytes:
    headers = {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}
    return message(headers, payload)


def payload_chunk(data: bytes) -> bytes:
    return event("PayloadChunk", data, "application/octet-stream")


def invoke_complete(error_code: str | None, error_details: str | None, log_result: str) -> bytes:
    """The last event: the function's error (ErrorCode, ErrorDetails) if any, and the log tail
    (base64) when the caller asked for it."""
    fields = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = json.dumps({k: v for k, v in fields.items() if v}).encode()
    return event("InvokeComplete", body, "application/json")
