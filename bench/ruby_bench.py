"""Benchmark rows for Ruby functions (issue 22), on the machine's `ruby` and samrun's Ruby runtime
client: `bench cold`'s cold start (the first call of a fresh no-op ruby3.3 function, through the
Lambda API on a keep-alive connection, beside the bare start of the same interpreter, `ruby -e 0`,
measured in the same run) and `bench invoke`'s warm p50/p99 of sequential calls of one no-op
function at 1769 MB. Ruby has no spare interpreters: every cold start spawns a `ruby`.

`python -m bench.ruby_bench` runs only these rows.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.invoke_bench import launch, percentile, warm_latency

COLD_ROUNDS = 20
NOOP_RB = "def handler(event:, context:)\n  nil\nend\n"


def template(functions: int) -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(functions):
        lines += [
            f"  Rb{i}:",
            "    Type: AWS::Serverless::Function",
            "    Properties:",
            "      Runtime: ruby3.3",
            "      Handler: app.handler",
            "      CodeUri: rb/",
            "      MemorySize: 1769",
        ]
    return "\n".join(lines) + "\n"


def serve(folder: Path, functions: int) -> tuple[subprocess.Popen[str], str]:
    """`samrun up` of `functions` no-op Ruby functions: the process and its Lambda API."""
    (folder / "rb").mkdir(parents=True)
    (folder / "rb" / "app.rb").write_text(NOOP_RB)
    (folder / "template.yaml").write_text(template(functions))
    return launch(folder, "--max-sandboxes", str(functions + 4))


def url(endpoint: str, name: str) -> str:
    return f"{endpoint}/2015-03-31/functions/{name}/invocations"


async def first_calls(endpoint: str, rounds: int) -> list[float]:
    samples = []
    async with aiohttp.ClientSession() as session:
        for i in range(rounds + 1):  # Rb0: the connection and samrun's caches, not counted
            began = time.perf_counter()
            async with session.post(url(endpoint, f"Rb{i}"), data=b"{}") as response:
                await response.read()
                assert response.status == 200, response.status
            samples.append((time.perf_counter() - began) * 1000)
    return samples[1:]


def bare_ruby_ms(ruby: str, runs: int = 20) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([ruby, "-e", "0"], check=True)
        samples.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(samples), 1)


def ruby_version(ruby: str) -> str:
    return subprocess.run([ruby, "-e", "print RUBY_VERSION"], capture_output=True, text=True).stdout


def cold_starts(rounds: int = COLD_ROUNDS) -> dict[str, Any]:
    """`bench cold`'s Ruby row."""
    ruby = shutil.which("ruby")
    if ruby is None:
        return {"skipped": "no ruby on the PATH"}
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = serve(Path(tmp), rounds + 1)
        try:
            samples = uvloop.run(first_calls(endpoint, rounds))
        finally:
            process.terminate()
            process.wait(30)
    return {
        "ruby": ruby_version(ruby),
        "functions": rounds,
        "p50_ms": round(statistics.median(samples), 1),
        "p90_ms": round(percentile(samples, 0.9), 1),
        "min_ms": round(min(samples), 1),
        "bare_ruby_ms": bare_ruby_ms(ruby),
    }


def warm() -> dict[str, Any]:
    """`bench invoke`'s Ruby row: warm latency of one no-op ruby3.3 function at 1769 MB."""
    ruby = shutil.which("ruby")
    if ruby is None:
        return {"skipped": "no ruby on the PATH"}
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = serve(Path(tmp), 1)
        try:
            figures = uvloop.run(warm_latency(url(endpoint, "Rb0")))
        finally:
            process.terminate()
            process.wait(30)
    return {"ruby": ruby_version(ruby), **{k: round(v, 3) for k, v in figures.items()}}


if __name__ == "__main__":
    print(json.dumps({"ruby3.3_cold_start": cold_starts(), "ruby3.3_warm": warm()}, indent=2))
