"""Benchmark: `samrun smoke` wall time, and what metrics cost a warm invoke (issue 14).

- smoke: `samrun smoke templates/quickstart --checks …` with three checks (an HTTP route, a direct
  invoke, a JSON path), as a CI job runs it: a fresh process each time, wall clock from the
  command's start to its exit (target <= 3 s on 2 cores)
- metrics overhead: warm invocations of a no-op function through the invoke path, in one
  process, round robin one invocation at a time: telemetry observers detached (baseline),
  attached (metrics, alarms, cost), and attached with function logs shipped to CloudWatch Logs;
  medians compared (target < 3 % for metrics); and the hook's own cost per invocation, measured
  alone, as a share of the baseline
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
CALLS = 9000
HOOK_EVENTS = 200_000


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
    from samrun.app import App
    from samrun.config import Config
    from samrun.invoke.models import InvokeRequest
    from samrun.orchestrator import load

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
        order = list(times)
        for i in range(CALLS):
            # round robin, one invocation each: load on the shared machine hits all three alike
            name = order[i % 3]
            app = shipped if name == "metrics_and_logs" else local
            local.invoker.telemetry.observers[:] = [] if name == "baseline" else observers
            began = time.perf_counter()
            await app.invoker.invoke(request)
            times[name].append((time.perf_counter() - began) * 1e6)
    base = statistics.median(times["baseline"])
    result: dict[str, Any] = {"invocations_each": CALLS // 3}
    for name, samples in times.items():
        result[f"{name}_us"] = round(statistics.median(samples), 1)
        if name != "baseline":
            extra = (statistics.median(samples) - base) / base * 100
            result[f"{name}_overhead_pct"] = round(extra, 2)
    return result


def hook_cost() -> dict[str, float]:
    """What the warm path pays per invocation for metrics, measured alone: the record, the
    observer's append, and (off the invoke path, but on the same loop) folding it into a period."""
    from samrun.invoke.telemetry import Invoked, Telemetry
    from samrun.observe.cost import load_prices
    from samrun.observe.metrics import MetricStore

    store = MetricStore(load_prices())
    telemetry = Telemetry()
    telemetry.subscribe(store.observe)
    began = time.perf_counter()
    for _ in range(HOOK_EVENTS):
        telemetry.emit(
            Invoked("Noop", "$LATEST", None, 0.4, None, 1769, "x86_64", 1, 1, None, False)
        )
    emit = (time.perf_counter() - began) / HOOK_EVENTS * 1e6
    began = time.perf_counter()
    store.fold()
    fold = (time.perf_counter() - began) / HOOK_EVENTS * 1e6
    return {"emit_us": round(emit, 2), "fold_us": round(fold, 2)}


def run() -> dict[str, object]:
    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(TEMPLATE)
        warm = uvloop.run(overhead(folder))
    hook = hook_cost()
    per_invoke = hook["emit_us"] + hook["fold_us"]
    hook["share_of_warm_invoke_pct"] = round(per_invoke / warm["baseline_us"] * 100, 2)
    return {"smoke_quickstart": smoke_wall(), "warm_invoke_metrics": warm, "hook": hook}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
