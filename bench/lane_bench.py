"""Benchmark: the runtime lane (samrun/runtime/lane.py) against the HTTP Runtime API, A/B.

The same no-op function (1769 MB; Python, then Node.js) behind the Lambda API, with samrun's
runtime client on the lane and then on HTTP (`SAMRUN_LANE=0`), alternating, `ROUNDS` times,
medians: warm p50/p99, throughput at 4 and 16 clients, and the CPU each invocation costs samrun
and the runtime process (from /proc, over the 4-client run): CPU per invocation is what a loaded,
shared machine changes least. The floor (bench/floor.py) is measured in the same run."""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import uvloop

from bench import invoke_bench as ib
from bench.cpu import children, cpu_s
from bench.floor import measure_floor, ratio

ROUNDS = 3
WARM_CALLS = 1500
MODES = {"lane": "1", "http": "0"}
RUNTIMES = ("python3.11", "nodejs20.x")
NODE_NOOP = "exports.handler = async () => null;\n"


async def warm(url: str) -> tuple[float, float]:
    async with aiohttp.ClientSession() as session:
        for _ in range(50):
            await ib.invoke(session, url)
        samples = [await ib.invoke(session, url) for _ in range(WARM_CALLS)]
    return ib.percentile(samples, 0.5), ib.percentile(samples, 0.99)


async def measure(pid: int, url: str) -> dict[str, float]:
    p50, p99 = await warm(url)
    await ib.throughput(url, 4)  # four warm instances before counting
    runtimes = children(pid)
    before = cpu_s(pid), sum(cpu_s(child) for child in runtimes)
    began = time.perf_counter()
    rate4 = await ib.throughput(url, 4)
    counted = rate4 * (time.perf_counter() - began)  # (4 warm-up calls over: negligible)
    after = cpu_s(pid), sum(cpu_s(child) for child in runtimes)
    rate16 = await ib.throughput(url, 16)
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "throughput_4": rate4,
        "throughput_16": rate16,
        "samrun_cpu_us_per_invoke": (after[0] - before[0]) / counted * 1e6,
        "runtime_cpu_us_per_invoke": (after[1] - before[1]) / counted * 1e6,
    }


def one_round(folder: Path, mode: str) -> dict[str, float]:
    os.environ["SAMRUN_LANE"] = MODES[mode]
    try:
        process, endpoint = ib.start_server(folder)
    finally:
        os.environ.pop("SAMRUN_LANE", None)
    try:
        return uvloop.run(measure(process.pid, ib.lambda_url(endpoint)))
    finally:
        process.terminate()
        process.wait(30)


def compare(runtime: str, floor_p50: float) -> dict[str, object]:
    """Lane and HTTP alternating, ROUNDS times each, for one runtime; medians and ratios."""
    rounds: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(ib.NOOP)
        (folder / "src" / "app.js").write_text(NODE_NOOP)
        (folder / "template.yaml").write_text(ib.template(1).replace("python3.11", runtime))
        for _ in range(ROUNDS):
            for mode in MODES:
                rounds[mode].append(one_round(folder, mode))
    medians = {
        mode: {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
        for mode, runs in rounds.items()
    }
    lane, http = medians["lane"], medians["http"]
    return {
        **medians,
        "lane_p50_x_floor": ratio(lane["p50_ms"], floor_p50),
        "http_p50_x_floor": ratio(http["p50_ms"], floor_p50),
        "lane_over_http": {
            key: ratio(lane[key], http[key]) for key in lane if http[key] and lane[key]
        },
    }


def run() -> dict[str, object]:
    floor = measure_floor(ib.http_figures)
    figures: dict[str, object] = {
        "floor": {"p50_ms": floor["warm"]["p50_ms"], **floor["throughput_per_s"]},
        "rounds": ROUNDS,
    }
    for runtime in RUNTIMES:
        if runtime.startswith("python") or shutil.which("node"):
            figures[runtime] = compare(runtime, floor["warm"]["p50_ms"])
    return figures


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
