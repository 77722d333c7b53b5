"""Item 3: on SIGTERM samrun stops accepting, lets every call in flight finish (each up to its
own timeout) and answers it, then stops; a second SIGTERM cuts the wait short, and says so."""

from __future__ import annotations

import json
import signal
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import SamrunProcess, invoke_http, start_up, wait_until


def call_in_background(fn: Any, *args: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = fn(*args)
        except Exception as exc:  # the test looks at what the caller saw
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    result["thread"] = thread
    return result


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def busy(server: SamrunProcess, count: int) -> None:
    wait_until(lambda: sum(line.endswith("Version: $LATEST") for line in server.lines) >= count)


def refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        return True
    return False


def test_calls_in_flight_are_answered_after_sigterm(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    route = call_in_background(get, f"{server.api}/slow")  # 2 s of work, through API Gateway
    direct = call_in_background(  # 6 s: longer than the old cut
        invoke_http, server.lambda_endpoint, "Slow", {"sleep": 6}
    )
    busy(server, 2)
    server.process.send_signal(signal.SIGTERM)
    server.wait_for("waiting for 2 invocation\\(s\\) in flight")
    assert refused(server.lambda_endpoint)  # no new connection meanwhile
    for call in (route, direct):
        call["thread"].join(60)
    assert route["value"][0] == 200 and json.loads(route["value"][1]) == {"slept": 2}
    status, _, body = direct["value"]
    assert status == 200 and body == {"slept": 6}
    assert server.stop() == 0


def test_a_second_sigterm_cuts_the_wait_short_and_says_so(app_dir: Path) -> None:
    server = start_up(app_dir / "template.yaml", app_dir / ".samrun")
    call = call_in_background(invoke_http, server.lambda_endpoint, "Slow", {"sleep": 25})
    busy(server, 1)
    server.process.send_signal(signal.SIGTERM)
    server.wait_for("waiting for 1 invocation")
    server.process.send_signal(signal.SIGTERM)
    server.wait_for("1 invocation\\(s\\) in flight cut short")
    assert server.stop(timeout=15) == 0
    call["thread"].join(30)
    assert not call["thread"].is_alive()
    assert "error" in call or call["value"][0] != 200  # the caller hears of it at once
