"""A small Debug Adapter Protocol client, as an IDE talks to debugpy: Content-Length framed JSON
over TCP, requests answered by responses (matched by `request_seq`), events on their own."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any


class DapClient:
    """One connection to a debug adapter; a reader thread keeps every message it receives."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 30) -> None:
        self.port = port
        self._sock = connect(host, port, timeout)
        self._seq = 0
        self._messages: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self._sock.makefile("rb")
        try:
            while True:
                length = None
                while True:
                    line = stream.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if length is None:
                    return
                message = json.loads(stream.read(length))
                with self._changed:
                    self._messages.append(message)
                    self._changed.notify_all()
        except OSError:
            return
        finally:
            with self._changed:
                self._closed = True
                self._changed.notify_all()

    def send(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        """Send a request; returns its seq (for `response`)."""
        self._seq += 1
        message = {"seq": self._seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        body = json.dumps(message).encode()
        self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def response(self, seq: int, timeout: float = 30) -> dict[str, Any]:
        """The response to request `seq`; fails unless it succeeded."""
        found = self._wait(
            lambda m: m.get("type") == "response" and m.get("request_seq") == seq, timeout
        )
        assert found.get("success"), f"{found.get('command')} failed: {found}"
        return found

    def request(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """Send a request and wait for its (successful) response's body."""
        return self.response(self.send(command, arguments), timeout).get("body") or {}

    def event(self, name: str, timeout: float = 30, after: int = 0) -> dict[str, Any]:
        """The first `name` event received as message number `after` or later."""
        return self._wait(
            lambda m: m.get("type") == "event" and m.get("event") == name, timeout, after
        )

    def mark(self) -> int:
        """How many messages arrived so far: pass it as `after` to wait for newer events."""
        with self._changed:
            return len(self._messages)

    def _wait(self, match: Any, timeout: float, after: int = 0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self._messages[after:]:
                    if match(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    seen = [m.get("command") or m.get("event") for m in self._messages]
                    raise AssertionError(f"no such DAP message within {timeout}s; got {seen}")
                self._changed.wait(min(remaining, 0.5))

    def attach(self, breakpoints: dict[str, list[int]]) -> None:
        """What VS Code does for an "attach" configuration with `connect`: initialize, attach,
        then (on `initialized`) the breakpoints and configurationDone."""
        self.request(
            "initialize",
            {
                "clientID": "vscode",
                "adapterID": "debugpy",
                "pathFormat": "path",
                "linesStartAt1": True,
                "columnsStartAt1": True,
                "supportsVariableType": True,
            },
        )
        attach = self.send(
            "attach",
            {
                "name": "samrun",
                "type": "debugpy",
                "request": "attach",
                "connect": {"host": "127.0.0.1", "port": self.port},
                "justMyCode": True,
            },
        )
        self.event("initialized")
        for path, lines in breakpoints.items():
            body = self.request(
                "setBreakpoints",
                {"source": {"path": path}, "breakpoints": [{"line": n} for n in lines]},
            )
            assert len(body["breakpoints"]) == len(lines), body
        self.request("configurationDone")
        self.response(attach)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(5)


def connect(host: str, port: int, timeout: float) -> socket.socket:
    """Connect once the debugger listens (it starts with the function's instance)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
            continue
        sock.settimeout(None)  # the reader waits for as long as the debuggee runs
        return sock
