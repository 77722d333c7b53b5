"""The HTTP request and response every front door speaks, independent of aiohttp.

Event builders and response parsers take and return these, so they are pure functions that unit
tests drive without a server.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

TEXT_TYPES = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "+json",
    "+xml",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequest:
    method: str
    path: str  # percent-decoded
    raw_path: str  # as sent
    query: str  # raw query string, without '?'
    headers: tuple[tuple[str, str], ...]  # in arrival order, names as sent
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    host: str = "localhost"
    protocol: str = "HTTP/1.1"
    received_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def header(self, name: str) -> str | None:
        """The first value of a header, matched case-insensitively (as HTTP names are)."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    reason: str | None = None
    # a streamed body (RESPONSE_STREAM function URLs): sent chunk by chunk as it comes, after
    # `status` and `headers`; raising StreamAborted cuts the response short
    stream: AsyncIterator[bytes] | None = field(default=None, compare=False)


class StreamAborted(Exception):
    """A streamed body that failed midway: the client sees the response end unfinished."""


def json_response(status: int, body: str, *extra: tuple[str, str]) -> HttpResponse:
    return HttpResponse(
        status=status, body=body.encode(), headers=(("Content-Type", "application/json"), *extra)
    )


def is_text(content_type: str) -> bool:
    """Whether a body of this type travels as text (HTTP APIs and ALB base64 everything else)."""
    content_type = content_type.lower()
    return not content_type or any(t in content_type for t in TEXT_TYPES)


def encode_body(body: bytes, as_base64: bool) -> tuple[str | None, bool]:
    """The event's (`body`, `isBase64Encoded`) pair."""
    if not body:
        return None, False
    if as_base64:
        return base64.b64encode(body).decode(), True
    try:
        return body.decode(), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True


def grouped(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """Multi-value form of (name, value) pairs, first-seen order."""
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out
