"""Benchmark (issue 20): debugging costs nothing unless asked for.

The warm path of a function that is not debugged (Noop0: warm p50/p99 of sequential calls and
throughput at 4 clients, through the Lambda API), in the same run, in two apps that differ only
in `--debug Other`: another function of the app runs under debugpy, with a live instance (invoked
once before measuring, in both apps alike). Rounds alternate (plain, debugged, plain, debugged),
so the machine's drift falls on both; the figures are the best round of each, and their ratio
(debugged / plain for latencies, plain / debugged for throughput: 1.0 is no cost).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.floor import ratio
from bench.invoke_bench import NOOP, lambda_url, launch, throughput, warm_latency

ROUNDS = 3
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Noop0:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      MemorySize: 1769
  Other:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      MemorySize: 1769
"""


async def measure(endpoint: str) -> dict[str, float]:
    other = lambda_url(endpoint).replace("Noop0", "Other")
    async with (  # the debugged function's instance: live while Noop0 is measured
        aiohttp.ClientSession() as session,
        session.post(other, data=b"{}") as response,
    ):
        await response.read()
        assert response.status == 200, response.status
    warm = await warm_latency(lambda_url(endpoint))
    rate = await throughput(lambda_url(endpoint), 4)
    return {
        "p50_ms": round(warm["p50_ms"], 3),
        "p99_ms": round(warm["p99_ms"], 3),
        "throughput_4_per_s": round(rate),
    }


def one_round(folder: Path, debugged: bool) -> dict[str, float]:
    process, endpoint = launch(folder, *(["--debug", "Other"] if debugged else []))
    try:
        return uvloop.run(measure(endpoint))
    finally:
        process.terminate()
        process.wait(30)


def best(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {
        "p50_ms": min(r["p50_ms"] for r in rounds),
        "p99_ms": min(r["p99_ms"] for r in rounds),
        "throughput_4_per_s": max(r["throughput_4_per_s"] for r in rounds),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(TEMPLATE)
        plain: list[dict[str, float]] = []
        debugged: list[dict[str, float]] = []
        for _ in range(ROUNDS):
            plain.append(one_round(folder, debugged=False))
            debugged.append(one_round(folder, debugged=True))
    without, with_debug = best(plain), best(debugged)
    return {
        "without_debug": without,
        "with_other_debugged": with_debug,
        "rounds": {"without_debug": plain, "with_other_debugged": debugged},
        "debugged_over_plain": {
            "p50": ratio(with_debug["p50_ms"], without["p50_ms"]),
            "p99": ratio(with_debug["p99_ms"], without["p99_ms"]),
            "throughput_plain_over_debugged": ratio(
                without["throughput_4_per_s"], with_debug["throughput_4_per_s"]
            ),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
