"""A small app in a temporary folder to edit while `samrun up --watch` serves it, and clients that
keep invoking it (through the Lambda API with boto3, and through an HTTP API route) meanwhile."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

HANDLER = """def handler(event, context):
    return {{"statusCode": 200, "body": "{tag}"}}
"""


def function_yaml(name: str, path: str, code: str = "src/") -> str:
    return f"""  {name}:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: {code}
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: {path}
            Method: GET
"""


def template(*functions: tuple[str, str]) -> str:
    head = "Transform: AWS::Serverless-2016-10-31\nResources:\n"
    return head + "".join(function_yaml(name, path) for name, path in functions)


def write_app(folder: Path, tag: str = "v1") -> Path:
    """template.yaml with Hello on GET /hello, its code in src/app.py answering `tag`."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "app.py").write_text(HANDLER.format(tag=tag))
    path = folder / "template.yaml"
    path.write_text(template(("Hello", "/hello")))
    return path


def set_tag(folder: Path, tag: str) -> None:
    (folder / "src" / "app.py").write_text(HANDLER.format(tag=tag))


@dataclass
class Reply:
    channel: str  # "lambda" | "http"
    sent: float
    received: float
    body: str
    error: str | None = None


@dataclass
class Clients:
    """One thread per channel, each invoking Hello back to back until `stop()`."""

    lambda_client: object
    api: str
    replies: list[Reply] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Clients:
        for target in (self._lambda_loop, self._http_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Reply]:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        return list(self.replies)

    def _record(self, reply: Reply) -> None:
        with self._lock:
            self.replies.append(reply)

    def snapshot(self) -> list[Reply]:
        with self._lock:
            return list(self.replies)

    def _lambda_loop(self) -> None:
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                response = self.lambda_client.invoke(FunctionName="Hello", Payload=b"{}")  # type: ignore[attr-defined]
                payload = json.loads(response["Payload"].read())
                error = response.get("FunctionError")
                self._record(Reply("lambda", sent, time.monotonic(), payload.get("body"), error))
            except Exception as exc:  # a failure is what the tests look for
                self._record(Reply("lambda", sent, time.monotonic(), "", repr(exc)))

    def _http_loop(self) -> None:
        address = urlparse(self.api)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                connection.request("GET", "/hello")
                response = connection.getresponse()
                body = response.read().decode()
                error = None if response.status == 200 else f"HTTP {response.status}: {body}"
                self._record(Reply("http", sent, time.monotonic(), body, error))
            except Exception as exc:  # a failure is what the tests look for
                self._record(Reply("http", sent, time.monotonic(), "", repr(exc)))
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        connection.close()


def wait_for_reply(clients: Clients, tag: str, timeout: float = 15.0) -> Reply:
    """The first reply answering `tag` on each channel; the earliest one is returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = {}
        for reply in clients.snapshot():
            if reply.body == tag and reply.channel not in found:
                found[reply.channel] = reply
        if len(found) == 2:
            return min(found.values(), key=lambda r: r.received)
        time.sleep(0.01)
    raise AssertionError(f"no reply {tag!r} on both channels within {timeout}s")


def wait_for_count(clients: Clients, after: float, count: int, timeout: float = 15.0) -> None:
    """Until each channel has `count` replies sent after `after`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = clients.snapshot()
        if all(
            sum(1 for r in replies if r.channel == c and r.sent > after) >= count
            for c in ("lambda", "http")
        ):
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {count} replies per channel within {timeout}s")
