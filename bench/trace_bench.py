"""Benchmark: what X-Ray tracing costs an invocation, untraced and traced, in the same run.

One `samrun up --trace-sample-rate 1` serves two no-op Python functions at 1769 MB: `Plain`
(no Tracing: PassThrough, the header passed on, nothing recorded) and `Traced` (Tracing:
Active: every invocation sampled, its two segments and three subsegments written to the trace
store and sent to the embedded endpoint's X-Ray API). Warm p50/p99 of sequential invocations
through the Lambda API, the two interleaved in rounds so the machine's noise falls on both.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.invoke_bench import NOOP, invoke, launch, percentile

ROUNDS = 10
CALLS_PER_ROUND = 300

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.11
    Handler: app.handler
    CodeUri: src/
    MemorySize: 1769
Resources:
  Plain:
    Type: AWS::Serverless::Function
  Traced:
    Type: AWS::Serverless::Function
    Properties:
      Tracing: Active
"""


async def measure(endpoint: str) -> dict[str, Any]:
    urls = {
        name: f"{endpoint}/2015-03-31/functions/{name}/invocations" for name in ("Plain", "Traced")
    }
    samples: dict[str, list[float]] = {name: [] for name in urls}
    async with aiohttp.ClientSession() as session:
        for url in urls.values():
            for _ in range(50):
                await invoke(session, url)
        for _ in range(ROUNDS):
            for name, url in urls.items():
                samples[name] += [await invoke(session, url) for _ in range(CALLS_PER_ROUND)]
    figures: dict[str, Any] = {
        name: {
            "calls": len(values),
            "p50_ms": round(percentile(values, 0.50), 3),
            "p99_ms": round(percentile(values, 0.99), 3),
            "mean_ms": round(statistics.fmean(values), 3),
        }
        for name, values in samples.items()
    }
    plain, traced = figures["Plain"]["p50_ms"], figures["Traced"]["p50_ms"]
    figures["traced_over_plain_p50_pct"] = round((traced - plain) / plain * 100, 1)
    return figures


def start(folder: Path) -> tuple[subprocess.Popen[str], str]:
    """`samrun up --trace-sample-rate 1` in `folder`: the process and its Lambda API."""
    return launch(folder, "--trace-sample-rate", "1")


def run() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(TEMPLATE)
        process, endpoint = start(folder)
        try:
            began = time.monotonic()
            figures = uvloop.run(measure(endpoint))
            figures["seconds"] = round(time.monotonic() - began, 1)
        finally:
            process.terminate()
            process.wait(30)
        stored = folder / ".samrun" / "traces.sqlite3"
        figures["trace_store_bytes"] = stored.stat().st_size if stored.exists() else 0
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
