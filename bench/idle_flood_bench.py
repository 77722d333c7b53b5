"""Benchmark: invokes while 1,100 half-sent requests are held open (issue 12, item 2).

samrun runs with 1,024 descriptors (soft and hard, as a default Linux session has). A client
opens 1,100 connections to the Lambda API and sends half a request on each (the headers never
end), then a second client invokes a no-op function 200 times, a new connection each time:
- successes / failures of those invokes, and their latency p50 / p99 (ms), with and without the
  flood (before the change, every one failed: samrun had no descriptor left to accept them);
- evicted: idle connections samrun closed to make room (`/_samrun/state`);
- cut off after (s): from the last half-sent request until samrun closed every one of them.

The client shares the two cores with samrun and the function: the figures include its cost.
"""

from __future__ import annotations

import http.client
import json
import resource
import socket
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.invoke_bench import NOOP, percentile, start_server, template

HALF_SENT = 1100
INVOKES = 200
PATH = "/2015-03-31/functions/Noop0/invocations"


def invoke(host: str, port: int) -> float | None:
    """One invoke on a new connection: its latency in ms, or None when it failed."""
    began = time.perf_counter()
    try:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request("POST", PATH, body=b"{}")
        response = connection.getresponse()
        response.read()
        connection.close()
    except OSError:
        return None
    return (time.perf_counter() - began) * 1000 if response.status == 200 else None


def invokes(host: str, port: int) -> dict[str, Any]:
    results = [invoke(host, port) for _ in range(INVOKES)]
    ok = [r for r in results if r is not None]
    return {
        "successes": len(ok),
        "failures": len(results) - len(ok),
        "p50_ms": round(percentile(ok, 0.5), 2) if ok else None,
        "p99_ms": round(percentile(ok, 0.99), 2) if ok else None,
    }


def state(host: str, port: int) -> dict[str, Any]:
    try:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request("GET", "/_samrun/state")
        body: dict[str, Any] = json.loads(connection.getresponse().read())
        connection.close()
    except OSError:
        return {}
    return body


def closed(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def measure(endpoint: str, pid: int) -> dict[str, Any]:
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (1024, 1024))
    host, port = urlsplit(endpoint).hostname or "127.0.0.1", urlsplit(endpoint).port or 80
    invoke(host, port)  # the cold start
    quiet = invokes(host, port)
    held = []
    for _ in range(HALF_SENT):
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nX-Half: ".encode())
        held.append(sock)
    flood_done = time.perf_counter()
    flooded = invokes(host, port)
    connections = state(host, port).get("connections", {})
    deadline = time.perf_counter() + 120
    while not all(map(closed, held)) and time.perf_counter() < deadline:
        time.sleep(0.2)
    cut_off = time.perf_counter() - flood_done
    for sock in held:
        sock.close()
    return {
        "without_flood": quiet,
        f"with_{HALF_SENT}_half_sent": flooded,
        "connection_budget": connections.get("limit"),
        "evicted": connections.get("evicted"),
        "all_half_sent_cut_off_after_s": round(cut_off, 1),
    }


def run() -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, HALF_SENT + 512)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(template(1, 128))
        process, endpoint = start_server(folder)
        try:
            return measure(endpoint, process.pid)
        finally:
            process.terminate()
            process.wait(30)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
