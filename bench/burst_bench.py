"""Benchmark: a burst of 1,000 concurrent synchronous invokes (issue 12, item 1).

One aiohttp client opens 1,000 connections at once to the Lambda API of a `samrun up` whose soft
descriptor limit starts at 1,024 (a common default: samrun raises it to the hard limit itself),
each invoking a function that sleeps 50 ms. Recorded: successes (200), throttles (429), errors
(anything else, 500 `ServiceException` in the defect), and the p50/p99 latency of the 200s.
The client shares the machine's two cores with samrun and the functions.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.invoke_bench import percentile

CONCURRENT = 1000
READY = re.compile(r"Lambda API on (http://\S+)")
HANDLER = """import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Burst:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      MemorySize: 128
      Timeout: 60
"""


def start(folder: Path, soft_fds: int) -> tuple[subprocess.Popen[str], str, list[str]]:
    """`samrun up` with a soft descriptor limit of `soft_fds`; its endpoint and its log."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft_fds, hard), hard))

    process = subprocess.Popen(
        [sys.executable, "-m", "samrun", "up", "--port", "0", "--invoke-port", "0"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lower,
    )
    assert process.stdout is not None
    log: list[str] = []
    stream = process.stdout
    for line in stream:
        log.append(line)
        match = READY.search(line)
        if match:  # keep reading its log, or samrun blocks on a full pipe
            threading.Thread(target=lambda: log.extend(stream), daemon=True).start()
            return process, match.group(1), log
    raise RuntimeError("samrun did not start:\n" + "".join(log))


async def burst(endpoint: str, count: int, sleep_s: float) -> dict[str, Any]:
    url = f"{endpoint}/2015-03-31/functions/Burst/invocations"
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    payload = json.dumps({"sleep": sleep_s}).encode()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.post(url, data=payload) as response:  # one cold start first
            await response.read()

        async def one() -> None:
            began = time.perf_counter()
            try:
                async with session.post(url, data=payload) as response:
                    await response.read()
                    statuses[response.status] += 1
                    if response.status == 200:
                        latencies.append((time.perf_counter() - began) * 1000)
            except aiohttp.ClientError:
                statuses[0] += 1

        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        elapsed = time.perf_counter() - began
    return {
        "concurrent": count,
        "successes": statuses[200],
        "throttles": statuses[429],
        "errors": sum(n for status, n in statuses.items() if status not in (200, 429)),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "seconds": round(elapsed, 2),
    }


def measure(count: int = CONCURRENT, sleep_s: float = 0.05, soft_fds: int = 1024) -> dict[str, Any]:
    """Start samrun, fire `count` concurrent invokes, stop it; the figures."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the client's own connections
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(HANDLER)
        (folder / "template.yaml").write_text(TEMPLATE)
        process, endpoint, log = start(folder, soft_fds)
        try:
            result = asyncio.run(burst(endpoint, count, sleep_s))
        finally:
            process.terminate()
            process.wait(60)
        result["tracebacks_logged"] = sum("Traceback" in line for line in log)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return result


def run() -> dict[str, Any]:
    return measure()
