"""Benchmark: the invoke path of the process backend, through the Lambda API over loopback.

- warm latency: p50/p99 of sequential invocations of a no-op Python function (target p50 <= 2 ms),
  at 1769 MB (a full CPU share: what samrun itself costs) and at 128 MB
- throughput: invocations/s at 1, 4 and 16 concurrent clients (target >= 1,000/s on 2 cores)
- cold start: first-invocation latency of fresh functions, minus a warm invocation, against the
  bare start of the same interpreter (target: <= 150 ms over it)

The client is one asyncio process with keep-alive connections (aiohttp), on the same machine,
so it shares the two cores with samrun and the function: the figures include its cost.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

WARM_CALLS = 3000
THROUGHPUT_SECONDS = 5.0
COLD_FUNCTIONS = 40
READY = re.compile(r"Lambda API on (http://\S+)")
NOOP = "def handler(event, context):\n    return None\n"


def template(functions: int, memory_mb: int = 1769) -> str:
    """No-op functions; Noop0, the one measured warm, gets `memory_mb`."""
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(functions):
        lines += [
            f"  Noop{i}:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            "      Runtime: python3.11",
            "      Handler: app.handler",
            "      CodeUri: src/",
            f"      MemorySize: {memory_mb if i == 0 else 1769}",
        ]
    return "\n".join(lines) + "\n"


def start_server(folder: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "samrun",
            "up",
            "--port",
            "0",
            "--invoke-port",
            "0",
            "--state-dir",
            str(folder / ".samrun"),
            "--max-sandboxes",
            "64",
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:
        match = READY.search(line)
        if match:  # keep reading its log, or samrun blocks on a full pipe
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, match.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("samrun up did not become ready")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def invoke(session: aiohttp.ClientSession, url: str) -> float:
    began = time.perf_counter()
    async with session.post(url, data=b"{}") as response:
        await response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - began) * 1000


async def warm_latency(endpoint: str) -> dict[str, float]:
    url = f"{endpoint}/2015-03-31/functions/Noop0/invocations"
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            await invoke(session, url)
        samples = [await invoke(session, url) for _ in range(WARM_CALLS)]
    return {
        "calls": WARM_CALLS,
        "p50_ms": percentile(samples, 0.50),
        "p99_ms": percentile(samples, 0.99),
        "mean_ms": statistics.fmean(samples),
    }


async def throughput(endpoint: str, clients: int) -> float:
    url = f"{endpoint}/2015-03-31/functions/Noop0/invocations"
    done = 0
    stop_at = time.perf_counter() + THROUGHPUT_SECONDS

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await invoke(session, url)
            done += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(invoke(session, url) for _ in range(clients)))  # warm instances
        began = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        return done / (time.perf_counter() - began)


async def cold_starts(endpoint: str) -> list[float]:
    async with aiohttp.ClientSession() as session:
        samples = []
        for i in range(1, COLD_FUNCTIONS + 1):
            url = f"{endpoint}/2015-03-31/functions/Noop{i}/invocations"
            samples.append(await invoke(session, url))
        return samples


def bare_interpreter_ms(runs: int = 20) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def measure(endpoint: str) -> dict[str, Any]:
    warm = await warm_latency(endpoint)
    rates = {str(n): round(await throughput(endpoint, n)) for n in (1, 4, 16)}
    cold = await cold_starts(endpoint)
    bare = bare_interpreter_ms()
    cold_p50 = statistics.median(cold)
    return {
        "warm": {k: round(v, 3) for k, v in warm.items()},
        "throughput_per_s": rates,
        "cold_start": {
            "functions": len(cold),
            "p50_ms": round(cold_p50, 1),
            "p90_ms": round(percentile(cold, 0.9), 1),
            "bare_interpreter_ms": round(bare, 1),
            "overhead_over_bare_ms": round(cold_p50 - warm["p50_ms"] - bare, 1),
        },
    }


def run() -> dict[str, object]:
    """At 1769 MB (one vCPU: samrun's own cost), then warm latency again at 128 MB, where
    Lambda's CPU share (1/14 of a CPU, from cgroups where writable) holds the function back."""
    figures = measure_app(1769, measure)
    warm_128 = measure_app(128, warm_latency)
    figures["warm_at_128_mb"] = {key: round(value, 3) for key, value in warm_128.items()}
    return figures


def measure_app(memory_mb: int, how: Callable[[str], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(template(COLD_FUNCTIONS + 1, memory_mb))
        process, endpoint = start_server(folder)
        try:
            return uvloop.run(how(endpoint))
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
