"""The trailers of a runtime's chunked (streamed) response, which aiohttp's server parses and drops.

A runtime reports an error in the middle of a streamed response in its trailers
(`Lambda-Runtime-Function-Error-Type`, `Lambda-Runtime-Function-Error-Body`: base64 of the error
JSON). aiohttp hands a server no trailers, so each Runtime API connection has a `TrailerTap` in
front of aiohttp's protocol: it keeps references to the connection's last reads (no copy, one
append per read, whatever the request), and a streamed response that has ended reads its
trailers from them (`chunked_trailers`): they are the message's last bytes, since a runtime
sends its next request only once this one is answered.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections import deque

WINDOW = 64 * 1024  # at least this much of a connection's latest input is kept: aiohttp takes
# trailer lines of 8190 bytes at most, so the error trailers fit
LAST_CHUNK = re.compile(rb"\r\n0+(?:;[^\r\n]*)?\r\n")  # CRLF ends the data before it


class TrailerTap(asyncio.Protocol):
    """aiohttp's protocol for one connection, with its latest input kept for `trailers`."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self._inner = inner
        self._recent: deque[bytes] = deque()
        self._size = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._recent.clear()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def data_received(self, data: bytes) -> None:
        recent = self._recent
        recent.append(data)
        self._size += len(data)
        while self._size - len(recent[0]) >= WINDOW:
            self._size -= len(recent.popleft())
        self._inner.data_received(data)

    def trailers(self) -> dict[str, str]:
        """The trailer fields of the chunked request that has just been read to its end."""
        return chunked_trailers(b"".join(self._recent))


def chunked_trailers(tail: bytes) -> dict[str, str]:
    """The trailer fields (names lower-cased) of the chunked message `tail` ends with: after its
    last chunk (`0`), up to the empty line. A trailer line has no CRLF, nor a last chunk's
    form, so the last `CRLF 0 CRLF` is the message's."""
    matches = list(LAST_CHUNK.finditer(tail))
    if not matches:
        return {}
    section = tail[matches[-1].end() :]
    end = section.find(b"\r\n\r\n")
    if section.startswith(b"\r\n") or end < 0:
        return {}
    fields: dict[str, str] = {}
    for line in section[:end].split(b"\r\n"):
        name, colon, value = line.decode("latin-1").partition(":")
        if colon and name.strip():
            fields[name.strip().lower()] = value.strip()
    return fields


def error_body(encoded: str) -> bytes:
    """`Lambda-Runtime-Function-Error-Body`: base64 of the error JSON (taken as it is when it
    is not base64)."""
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return encoded.encode()
