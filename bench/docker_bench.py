"""Benchmark: the docker backend beside the process backend, through the Lambda API.

- warm invoke: p50/p99 of sequential invocations of a no-op Python function at 1769 MB
  (target on docker: p50 <= 3 ms)
- cold start: the first invocation of fresh functions, one after another (target on docker,
  with a local image: <= 1 s); the docker figure includes creating, attaching and starting the
  container and the runtime's init inside it

The docker backend runs the tests' image (`make test-image`: samrun-test/python:3.11, Debian's
python3 and awslambdaric, the official images' contract) through --image-map, with --skip-pull.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.floor import floor_warm
from bench.invoke_bench import NOOP, invoke, launch, percentile, template

WARM_CALLS = 1000
COLD_FUNCTIONS = 12
IMAGE = os.environ.get("SAMRUN_TEST_IMAGE", "samrun-test/python:3.11")
BACKENDS = {
    "process": [],
    "docker": ["--backend", "docker", "--image-map", f"python3.11={IMAGE}", "--skip-pull"],
}


def start(folder: Path, extra: list[str]) -> tuple[subprocess.Popen[str], str]:
    return launch(folder, "--max-sandboxes", "64", *extra)


async def measure(endpoint: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        cold = []
        for i in range(1, COLD_FUNCTIONS + 1):
            cold.append(
                await invoke(session, f"{endpoint}/2015-03-31/functions/Noop{i}/invocations")
            )
        url = f"{endpoint}/2015-03-31/functions/Noop0/invocations"
        for _ in range(50):
            await invoke(session, url)
        warm = [await invoke(session, url) for _ in range(WARM_CALLS)]
    return {
        "warm_p50_ms": round(percentile(warm, 0.5), 3),
        "warm_p99_ms": round(percentile(warm, 0.99), 3),
        "cold_p50_ms": round(statistics.median(cold), 1),
        "cold_p90_ms": round(percentile(cold, 0.9), 1),
        "cold_max_ms": round(max(cold), 1),
    }


def run() -> dict[str, object]:
    figures: dict[str, object] = {"warm_calls": WARM_CALLS, "cold_functions": COLD_FUNCTIONS}
    for name, extra in BACKENDS.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "src").mkdir()
            (folder / "src" / "app.py").write_text(NOOP)
            (folder / "template.yaml").write_text(template(COLD_FUNCTIONS + 1))
            process, endpoint = start(folder, extra)
            try:
                began = time.perf_counter()
                figures[name] = uvloop.run(measure(endpoint))
                figures[name]["seconds"] = round(time.perf_counter() - began, 1)  # type: ignore[index]
            finally:
                process.terminate()
                process.wait(30)
    figures["floor_warm"] = floor_warm()
    return figures
