"""Benchmark: `samrun smoke` wall time, and what metrics cost a warm invoke (issue 14).

- smoke: `samrun smoke templates/quickstart --checks …` with three checks (an HTTP route, a direct
  invoke, a JSON path), as a CI job runs it: a fresh process each time, wall clock from the
  command's start to its exit (target <= 3 s on 2 cores)
- metrics overhead: warm invocations of a no-op function through the invoke path, in one
  process, in alternating blocks with the telemetry observers detached (baseline), attached
  (metrics, alarms, cost), and attached with function logs shipped to CloudWatch Logs
  (target < 3 % for metrics)
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
CHECKS = """\
checks:
  - http: {path: /hello/bench}
    expect: {status: 200, json: {"$.message": "Hello, bench!"}}
  - invoke: {function: HelloFunction, event: {name: direct}}
    expect: {body_contains: "Hello, direct!"}
  - name: greets the world by default
    invoke: {function: HelloFunction}
    expect: {json: {"$.body.message": "Hello, world!"}}
"""
NOOP = "def handler(event, context):\n    return None\n"
TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Noop:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      MemorySize: 1769
"""
BLOCK, ROUNDS = 300, 12


def smoke_wall() -> dict[str, Any]:
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "quickstart"
        shutil.copytree(ROOT / "templates" / "quickstart", folder)
        (folder / "checks.yaml").write_text(CHECKS)
        for _ in range(RUNS):
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "samrun", "smoke", "--checks", "checks.yaml"],
                cwd=folder,
                capture_output=True,
                text=True,
            )
            samples.append(time.perf_counter() - began)
            assert done.returncode == 0, done.stdout + done.stderr
    return {
        "runs": RUNS,
        "checks": 5,
        "median_s": round(statistics.median(samples), 2),
        "max_s": round(max(samples), 2),
        "min_s": round(min(samples), 2),
    }


async def overhead(folder: Path) -> dict[str, Any]:
    from samrun.config import Config
    from samrun.invoke.models import InvokeRequest
    from samrun.orchestrator import App, load

    config = Config(
        template=folder / "template.yaml",
        port=0,
        invoke_port=0,
        state_dir=folder / ".samrun",
        cloudwatch=False,
    )
    graph = load(config)
    local = App(config, graph)
    shipped = App(replace(config, state_dir=folder / ".samrun2", cloudwatch=True), graph)
    request = InvokeRequest(function="Noop", payload=b"{}")
    times: dict[str, list[float]] = {"baseline": [], "metrics": [], "metrics_and_logs": []}
    async with local, shipped:
        observers = list(local.invoker.telemetry.observers)
        for app in (local, shipped):
            for _ in range(200):
                await app.invoker.invoke(request)

        async def block(app: App, name: str) -> None:
            began = time.perf_counter()
            for _ in range(BLOCK):
                await app.invoker.invoke(request)
            times[name].append((time.perf_counter() - began) / BLOCK * 1e6)

        for _ in range(ROUNDS):
            local.invoker.telemetry.observers[:] = []
            await block(local, "baseline")
            local.invoker.telemetry.observers[:] = observers
            await block(local, "metrics")
            await block(shipped, "metrics_and_logs")
    base = statistics.median(times["baseline"])
    result: dict[str, Any] = {"invocations_per_block": BLOCK, "rounds": ROUNDS}
    for name, samples in times.items():
        result[f"{name}_us"] = round(statistics.median(samples), 1)
        if name != "baseline":
            extra = (statistics.median(samples) - base) / base * 100
            result[f"{name}_overhead_pct"] = round(extra, 2)
    return result


def run() -> dict[str, object]:
    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(TEMPLATE)
        warm = uvloop.run(overhead(folder))
    return {"smoke_quickstart": smoke_wall(), "warm_invoke_metrics": warm}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
