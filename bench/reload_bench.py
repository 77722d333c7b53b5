"""Benchmark: watch mode's reload latency on the process backend, from the file write to the
first response with the new code (target: p50 <= 300 ms).

- code edits: src/app.py rewritten to answer a new tag (the function is warm before each edit)
- template edits: an environment variable of the function changed in template.yaml (a new
  configuration, so new instances), the function answering with it

The client invokes back to back through the Lambda API over one keep-alive connection, so each
figure includes the quiet period of the debounce, the checks, the reload and one cold start.
The process backend gives an instance CPU in proportion to its memory, as Lambda does (1769 MB =
one vCPU), so the cold start, and so this figure, depends on MemorySize: it is measured at 1769 MB
(what the reload itself costs) and at the default 128 MB (what a developer sees by default, an
interpreter starting on 7 % of a CPU).
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from bench.floor import floor_warm
from bench.invoke_bench import up_command

EDITS = 20
READY = re.compile(r"Lambda API on (http://\S+)")
RELOADED = re.compile(r"reloaded \(.*\) in (\d+) ms")
CODE = """import os

def handler(event, context):
    return {{"tag": "{tag}", "env": os.environ.get("TAG")}}
"""
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      MemorySize: {memory}
      Environment:
        Variables:
          TAG: "{tag}"
"""


class Server:
    """`samrun up --watch` in `folder`, its reload lines collected as they come."""

    def __init__(self, folder: Path) -> None:
        self.process = subprocess.Popen(
            up_command(folder, "--watch"),
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reload_ms: list[float] = []
        self.endpoint = ""
        ready = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                if (match := READY.search(line)) and not ready.is_set():
                    self.endpoint = match.group(1)
                    ready.set()
                elif match := RELOADED.search(line):
                    self.reload_ms.append(float(match.group(1)))

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60):
            self.process.kill()
            raise RuntimeError("samrun up --watch did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Client:
    def __init__(self, endpoint: str) -> None:
        address = urlparse(endpoint)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)

    def invoke(self) -> dict[str, str]:
        self.connection.request("POST", "/2015-03-31/functions/Hello/invocations", body=b"{}")
        response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"invoke failed: {response.status} {payload!r}")
        return json.loads(payload)  # type: ignore[no-any-return]

    def until(self, key: str, value: str, timeout: float = 10.0) -> float:
        """Invoke back to back until the function answers `value`; when that answer came."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.invoke().get(key) == value:
                return time.perf_counter()
        raise RuntimeError(f"no answer {key}={value!r} within {timeout} s")


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "edits": len(samples),
        "p50_ms": round(statistics.median(ordered), 1),
        "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def measure(write: object, client: Client, key: str, prefix: str) -> list[float]:
    samples = []
    for n in range(EDITS):
        tag = f"{prefix}{n}"
        client.invoke()  # warm, as a developer's function is between edits
        began = time.perf_counter()
        write(tag)  # type: ignore[operator]
        samples.append((client.until(key, tag) - began) * 1000)
    return samples


def run() -> dict[str, object]:
    figures: dict[str, object] = {f"memory_{mb}": run_at(mb) for mb in (1769, 128)}
    return figures | {"target_p50_ms": 120, "floor_warm": floor_warm()}


def run_at(memory: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        code, template = folder / "src" / "app.py", folder / "template.yaml"
        code.write_text(CODE.format(tag="start"))
        template.write_text(TEMPLATE.format(tag="start", memory=memory))
        server = Server(folder)
        try:
            client = Client(server.endpoint)
            client.until("tag", "start")
            code_ms = measure(lambda t: code.write_text(CODE.format(tag=t)), client, "tag", "c")
            template_ms = measure(
                lambda t: template.write_text(TEMPLATE.format(tag=t, memory=memory)),
                client,
                "env",
                "t",
            )
            reported = list(server.reload_ms)
        finally:
            server.stop()
    return {
        "code_edit": summary(code_ms),
        "template_edit": summary(template_ms),
        "reload_line_ms_p50": statistics.median(reported) if reported else None,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
