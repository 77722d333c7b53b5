"""What the edge-hardening tests share: their app, and raw HTTP over a socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TEMPLATE = Path(__file__).parent / "edges_app" / "template.yaml"


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def raw_request(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` as is and read until the server closes or answers one complete response."""
    with socket.create_connection(address(url), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
            head, sep, body = received.partition(b"\r\n\r\n")
            if sep and _complete(head, body):
                break
        return received


def _complete(head: bytes, body: bytes) -> bool:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/") else 0


@contextmanager
def lambda_client(server: Any) -> Iterator[Any]:
    """A boto3 Lambda client of `server`, closed after use: an unclosed pooled socket would
    warn (an error under pytest's settings) in whichever test the garbage collector runs."""
    client = server.lambda_client()
    try:
        yield client
    finally:
        client.close()
