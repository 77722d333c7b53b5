"""Python functions under debugpy, driven as VS Code drives it: the Debug Adapter Protocol over
TCP (tests/debug/dap.py) against `samrun up --debug` and `samrun invoke --debug --debug-wait`;
`breakpoint()` in pdb on a pseudo-terminal for `samrun invoke` without a debugger; a function
that is not debugged never sees debugpy; stopping samrun while a debugger holds a handler
leaves no process behind."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from samrun.runtime.debugging import free_port
from samrun.runtime.runtimes import locate_python, python_homes
from tests.conftest import alive, wait_until
from tests.debug.dap import DapClient

pytestmark = [pytest.mark.process_only, pytest.mark.slow]

# a Python other than samrun's, when the machine has one: debugpy runs under it too
OTHER = next(
    (v for v in ("3.12", "3.13") if locate_python(v, python_homes(dict(os.environ)))), "3.11"
)

TEMPLATE = f"""\
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: hello.handler
      Runtime: python3.11
      Timeout: 1
      Events:
        Api:
          Type: HttpApi
          Properties:
            Path: /hello
            Method: post
  Paused:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: paused.handler
      Runtime: python{OTHER}
      Timeout: 1
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: hello.paths
      Runtime: python3.11
      Events:
        Api:
          Type: HttpApi
          Properties:
            Path: /plain
            Method: get
"""

HELLO = """\
import importlib.util
import json
import sys


def handler(event, context):
    name = json.loads(event["body"])["name"]
    greeting = "hello " + name  # BREAK
    return {"statusCode": 200, "body": json.dumps({"greeting": greeting, **where()})}


def paths(event, context):
    return {"statusCode": 200, "body": json.dumps(where())}


def where():
    return {"debugpy": importlib.util.find_spec("debugpy") is not None, "path": sys.path}
"""

PAUSED = """\
import sys


def handler(event, context):
    name = event["name"]
    breakpoint()
    return {"greeting": "hi " + name, "python": "%d.%d" % sys.version_info[:2]}
"""


def marked_line(source: str) -> int:
    """The 1-based line of `source` marked `# BREAK` (DAP's lines start at 1 here)."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if line.endswith("# BREAK"))


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "hello.py").write_text(HELLO)
    (tmp_path / "src" / "paused.py").write_text(PAUSED)
    (tmp_path / "event.json").write_text(json.dumps({"name": "pty"}))
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE)
    return template


class Call:
    """One HTTP request in a thread: `done` is set once its answer (or error) is in."""

    def __init__(self, url: str, payload: object | None = None) -> None:
        self.done = threading.Event()
        self.result: tuple[int, Any] | None = None
        data = json.dumps(payload).encode() if payload is not None else None
        self._request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            with urllib.request.urlopen(self._request, timeout=180) as response:
                self.result = (response.status, json.loads(response.read()))
        except urllib.error.HTTPError as error:
            self.result = (error.code, error.read().decode())
        except OSError as error:
            self.result = (0, str(error))
        finally:
            self.done.set()

    def answer(self, timeout: float = 60) -> tuple[int, Any]:
        assert self.done.wait(timeout), "no answer"
        assert self.result is not None
        return self.result


def variable(client: DapClient, reference: int, name: str) -> dict[str, Any]:
    found = client.request("variables", {"variablesReference": reference})["variables"]
    return next(v for v in found if v["name"] == name)


def processes_with(text: str) -> list[int]:
    """Live processes whose command line holds `text` (a debugger's port)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in command and alive(int(entry.name)) and int(entry.name) != os.getpid():
                found.append(int(entry.name))
    return found


def listening(port: int) -> bool:
    """Something listens on loopback at `port` (read from /proc, without connecting)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                if int(local.rsplit(":", 1)[1], 16) == port and state == "0A":
                    return True
    return False


def test_attach_break_inspect_and_continue_behind_an_api_route(app: Path, samrun_up: Any) -> None:
    """`up --debug Hello=PORT`: the instance starts with `up`, so an IDE attaches first; a line
    breakpoint in the handler hits for a call through an HTTP API route; the event's field is
    read through stackTrace/scopes/variables; an expression is evaluated; held 3 s past its
    1 s timeout, the function still answers, and REPORT gives the real duration. A function
    that is not debugged cannot import debugpy, and the debugged one's sys.path is the same."""
    port = free_port()
    server = samrun_up(app, "--debug", f"Hello={port}")
    server.wait_for(rf"debugging Hello: attach a debugger to 127\.0\.0\.1:{port}.*1 s timeout")
    handler = str((app.parent / "src" / "hello.py").resolve())
    line = marked_line(HELLO)
    client = DapClient(port)
    try:
        client.attach({handler: [line]})
        call = Call(f"{server.api}/hello", {"name": "dap"})
        stopped = client.event("stopped", timeout=60)
        assert stopped["body"]["reason"] == "breakpoint"
        thread = stopped["body"]["threadId"]
        top = client.request("stackTrace", {"threadId": thread})["stackFrames"][0]
        assert (top["source"]["path"], top["line"]) == (handler, line)  # its real path
        scopes = client.request("scopes", {"frameId": top["id"]})["scopes"]
        local = next(s for s in scopes if s["name"] == "Locals")["variablesReference"]
        assert variable(client, local, "name")["value"] == "'dap'"
        event = variable(client, local, "event")["variablesReference"]
        assert variable(client, event, "'rawPath'")["value"] == "'/hello'"
        result = client.request(
            "evaluate",
            {"expression": "name.upper() + context.function_name", "frameId": top["id"]},
        )
        assert result["result"] == "'DAPHello'"

        assert not call.done.wait(3)  # held past its 1 s timeout: no answer, no timeout
        client.request("continue", {"threadId": thread})
        status, body = call.answer()
        assert status == 200, body
        assert body["greeting"] == "hello dap"
        report = server.wait_for(r"Hello \| REPORT RequestId: \S+\tDuration: ([\d.]+) ms")
        assert float(report.group(1)) >= 3000  # the real duration
        assert not any("Task timed out" in text for text in server.lines)
        state = json.loads(urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state").read())
        pool = next(p for p in state["pools"] if p["function"] == "Hello")
        assert pool["runtime_api"] == {"lane": 1}  # the lane reached the runtime under debugpy
        assert pool["started_from"] == {"interpreter": 1}

        status, plain = Call(f"{server.api}/plain").answer()
        assert status == 200, plain
        assert plain["debugpy"] is False  # not debugged: debugpy is nowhere it can import from
        assert not any("debugpy" in entry or "site-packages" in entry for entry in plain["path"])
        assert body["path"] == plain["path"]  # debugged: nothing added to its sys.path
        assert body["debugpy"] is True  # (the debugger's own modules, already imported)
    finally:
        client.close()


def test_stopping_samrun_while_a_debugger_holds_a_handler_leaves_nothing(
    app: Path, samrun_up: Any
) -> None:
    """`breakpoint()` stops in the attached debugger; samrun stopped then ends the runtime, the
    debug adapter and the caller's request, and frees the port."""
    port = free_port()
    server = samrun_up(app, "--debug", f"Paused={port}")
    client = DapClient(port)
    try:
        client.attach({})
        call = Call(
            f"{server.lambda_endpoint}/2015-03-31/functions/Paused/invocations", {"name": "x"}
        )
        stopped = client.event("stopped", timeout=60)  # breakpoint(): no breakpoint was set
        top = client.request("stackTrace", {"threadId": stopped["body"]["threadId"]})
        assert top["stackFrames"][0]["source"]["path"].endswith("paused.py")
        running = processes_with(str(port))
        assert len(running) >= 2  # the runtime under debugpy, and debugpy's adapter
        assert server.stop() == 0
        call.answer()
        wait_until(lambda: not any(alive(pid) for pid in running))
        wait_until(lambda: not listening(port))
    finally:
        client.close()


def test_invoke_waits_for_the_debugger_then_answers(app: Path) -> None:
    """`samrun invoke Paused --debug=PORT --debug-wait`: nothing runs until a client attaches
    (on another Python than samrun's when there is one); then breakpoint() stops in it, and
    once continued the response comes out on stdout."""
    port = free_port()
    log = app.parent / "stderr.txt"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "samrun", "invoke", "Paused", f"--debug={port}"),
                *("--debug-wait", "-e", "event.json", "--state-dir", str(app.parent / ".samrun")),
            ],
            cwd=app.parent,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    out: list[bytes] = []
    answered = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        out.append(process.stdout.read())
        answered.set()

    threading.Thread(target=read, daemon=True).start()
    client: DapClient | None = None
    try:
        wait_until(lambda: listening(port) or process.poll() is not None, timeout=60)
        assert process.poll() is None, log.read_text()
        assert not answered.wait(2)  # listening, waiting for its client: no answer
        client = DapClient(port)
        client.attach({})
        stopped = client.event("stopped", timeout=60)
        frame = client.request("stackTrace", {"threadId": stopped["body"]["threadId"]})
        top = frame["stackFrames"][0]
        result = client.request("evaluate", {"expression": "event['name']", "frameId": top["id"]})
        assert result["result"] == "'pty'"
        # (not waited for: `invoke` ends, and its runtime with it, as soon as the handler answers)
        client.send("continue", {"threadId": stopped["body"]["threadId"]})
        assert answered.wait(60)
        assert process.wait(30) == 0, log.read_text()
        assert json.loads(out[0]) == {"greeting": "hi pty", "python": OTHER}
    finally:
        if client is not None:
            client.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        answered.wait(10)
        assert process.stdout is not None
        process.stdout.close()


class Terminal:
    """`samrun invoke` on a pseudo-terminal: its stdin, stdout and stderr."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "samrun", *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, text: bytes, timeout: float = 60) -> bytes:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {text!r} in:\n{self.output.decode(errors='replace')}"
            ready, _, _ = select.select([self.master], [], [], min(remaining, 0.5))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the other side closed
                    chunk = b""
                assert chunk, f"ended before {text!r}:\n{self.output.decode(errors='replace')}"
                self.output += chunk
        return self.output

    def quiet_for(self, seconds: float) -> bytes:
        """What it wrote within `seconds`."""
        start = len(self.output)
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                self.output += os.read(self.master, 4096)
        return self.output[start:]

    def send(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        os.close(self.master)


def test_breakpoint_runs_pdb_on_the_terminal_of_invoke(app: Path) -> None:
    """No debugger asked for, on a terminal: breakpoint() stops in pdb there; the timeout is
    suspended once it stops; `p event` prints the event and `c` lets the handler answer."""
    terminal = Terminal(
        ["invoke", "Paused", "-e", "event.json", "--state-dir", str(app.parent / ".samrun")],
        app.parent,
    )
    try:
        terminal.read_until(b"(Pdb) ")
        assert b"Paused: stopped at a breakpoint: its 1 s timeout is suspended" in terminal.output
        assert b"timed out" not in terminal.quiet_for(2)  # past its 1 s timeout, still there
        terminal.send("p event")
        terminal.read_until(b"{'name': 'pty'}")
        terminal.send("c")
        terminal.read_until(b'"greeting": "hi pty"')
        assert terminal.process.wait(30) == 0
        assert b"Task timed out" not in terminal.output
    finally:
        terminal.close()
