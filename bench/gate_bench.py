"""Benchmark: what the concurrency gate and alias routing add to an invocation.

The per-invocation work of both (resolving a weighted alias, taking and releasing a gate lease
on a function with reserved concurrency) is timed in-process over many calls, and set against the
p50 of a warm invoke through the Lambda API measured end to end (target: under 5 % of it).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench import invoke_bench
from bench.floor import floor_warm
from samrun.invoke.gate import ConcurrencyGate
from samrun.invoke.resolve import FunctionDirectory
from samrun.model import Alias, AppGraph, Code, Function, FunctionConfig, Version

CALLS = 200_000
ROUNDS = 5


def graph() -> AppGraph:
    config = FunctionConfig(runtime="python3.11", handler="app.handler", code=Code(path="/tmp"))
    function = Function(
        logical_id="Fn",
        name="Fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:Fn",
        config=config,
        reserved_concurrency=10,
    )
    versions = tuple(Version(function="Fn", version=v, config=config) for v in ("1", "2"))
    alias = Alias(function="Fn", name="live", version="1", additional_version_weights={"2": 0.05})
    return AppGraph(
        template_path="bench", functions=(function,), versions=versions, aliases=(alias,)
    )


def per_call_us(step: object) -> float:
    """The median over ROUNDS of the mean cost of `step()` over CALLS calls, in microseconds."""
    rounds = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for _ in range(CALLS):
            step()  # type: ignore[operator]
        rounds.append((time.perf_counter() - began) / CALLS * 1e6)
    return statistics.median(rounds)


def run() -> dict[str, object]:
    directory = FunctionDirectory(graph())
    gate = ConcurrencyGate()
    gate.set_reserved("Fn", 10)

    def latest() -> None:
        directory.resolve("Fn")

    def alias_with_gate() -> None:
        target = directory.resolve("Fn", "live")
        with gate.lease(target.function.name):
            pass

    baseline_us = per_call_us(latest)
    routed_us = per_call_us(alias_with_gate)
    warm_p50_ms = measure_warm_p50()
    added_us = routed_us - baseline_us
    return {
        "resolve_latest_us": round(baseline_us, 2),
        "resolve_weighted_alias_and_gate_us": round(routed_us, 2),
        "added_by_gate_and_alias_us": round(added_us, 2),
        "warm_invoke_p50_ms": warm_p50_ms,
        "share_of_warm_invoke_pct": round(routed_us / (warm_p50_ms * 1000) * 100, 2),
        "floor_warm": floor_warm(),
    }


def measure_warm_p50() -> float:
    import tempfile

    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(invoke_bench.NOOP)
        (folder / "template.yaml").write_text(invoke_bench.template(1))
        process, endpoint = invoke_bench.start_server(folder)
        try:
            return round(
                uvloop.run(invoke_bench.warm_latency(invoke_bench.lambda_url(endpoint)))["p50_ms"],
                3,
            )
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    print(run())
