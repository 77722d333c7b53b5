"""Benchmark: the invoke path of the process backend, through the Lambda API over loopback.

- warm latency: p50/p99 of sequential invocations of a no-op Python function (target p50 <= 2 ms),
  at 1769 MB (a full CPU share: what samrun itself costs) and at 128 MB
- throughput: invocations/s at 1, 4 and 16 concurrent clients (target >= 1,000/s on 2 cores)
- cold start: first-invocation latency of fresh functions, minus a warm invocation, against the
  bare start of the same interpreter (target: <= 150 ms over it)
- the same function behind an HTTP API route (GET /noop): warm p50/p99, 4 and 16 clients
- a no-op ruby3.3 function's warm p50/p99 on the machine's `ruby` (bench/ruby_bench.py)
- a no-op java17 function's warm p50/p99 on the machine's JDK (bench/java_bench.py)
- the floor (bench/floor.py): the same client against a bare aiohttp + uvloop echo server, in the
  same run, and each samrun figure as a ratio to it (issue 15: ratios survive a noisy machine)

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
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.cpu import descendants, tree_cpu_s
from bench.floor import measure_floor, ratio

WARM_CALLS = 3000
THROUGHPUT_SECONDS = 5.0
COLD_FUNCTIONS = 40
READY = re.compile(r"Lambda API on (http://\S+)")
ROUTE = re.compile(r"(http://\S+/noop)\b")
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
        if i == 0:
            lines += [
                "      Events:",
                "        Noop:",
                "          Type: HttpApi",
                "          Properties: {Path: /noop, Method: GET}",
            ]
    return "\n".join(lines) + "\n"


def up_command(folder: Path, *extra: str) -> list[str]:
    """`samrun up` of the app in `folder` on free ports, its state folder inside it."""
    return [
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
        *extra,
    ]


def start_server(folder: Path) -> tuple[subprocess.Popen[str], str]:
    process, endpoint, _ = start_server_with_route(folder)
    return process, endpoint


def start_server_with_route(folder: Path) -> tuple[subprocess.Popen[str], str, str]:
    """`samrun up` in `folder`: the process, its Lambda API and the URL of its /noop route."""
    routes: list[str] = []

    def watch(line: str) -> None:
        found = ROUTE.search(line)
        if found:
            routes.append(found.group(1))

    process, endpoint = launch(folder, "--max-sandboxes", "64", watch=watch)
    return process, endpoint, routes[-1] if routes else ""


def launch(
    folder: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    watch: Callable[[str], None] | None = None,
    timeout_s: float = 60,
) -> tuple[subprocess.Popen[str], str]:
    """`samrun up` of the app in `folder` (`up_command`): the process and its Lambda API once
    it says it is ready; `watch` sees each line before that (a route's URL, say)."""
    process = subprocess.Popen(
        up_command(folder, *extra),
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    for line in process.stdout:
        if watch is not None:
            watch(line)
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


def lambda_url(endpoint: str) -> str:
    return f"{endpoint}/2015-03-31/functions/Noop0/invocations"


async def invoke(session: aiohttp.ClientSession, url: str) -> float:
    """One exchange: GET for a route (…/noop), POST `{}` for the Lambda API and the floor."""
    began = time.perf_counter()
    method = "GET" if url.endswith("/noop") else "POST"
    async with session.request(method, url, data=None if method == "GET" else b"{}") as response:
        await response.read()
        assert response.status == 200, response.status
    return (time.perf_counter() - began) * 1000


async def warm_latency(url: str) -> dict[str, float]:
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


async def throughput(url: str, clients: int) -> float:
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


async def http_figures(url: str, clients: tuple[int, ...] = (1, 4, 16)) -> dict[str, Any]:
    """Warm p50/p99 and throughput at each client count, for one URL (samrun's or the floor's)."""
    warm = await warm_latency(url)
    rates = {str(n): round(await throughput(url, n)) for n in clients}
    return {"warm": {k: round(v, 3) for k, v in warm.items()}, "throughput_per_s": rates}


def ratios(samrun: dict[str, Any], floor: dict[str, Any]) -> dict[str, float]:
    """samrun / floor for latencies (>= 1), floor / samrun for throughputs (>= 1): how many times
    the bare exchange each samrun figure costs."""
    out = {
        "p50_x_floor": ratio(samrun["warm"]["p50_ms"], floor["warm"]["p50_ms"]),
        "p99_x_floor": ratio(samrun["warm"]["p99_ms"], floor["warm"]["p99_ms"]),
    }
    for n, rate in samrun["throughput_per_s"].items():
        out[f"floor_over_throughput_{n}"] = ratio(floor["throughput_per_s"][n], rate)
    return out


async def measure(endpoint: str, route: str) -> dict[str, Any]:
    figures = await http_figures(lambda_url(endpoint))
    warm, rates = figures["warm"], figures["throughput_per_s"]
    route_figures = await http_figures(route, (4, 16))
    cold = await cold_starts(endpoint)
    bare = bare_interpreter_ms()
    cold_p50 = statistics.median(cold)
    return {
        "warm": warm,
        "throughput_per_s": rates,
        "http_api_route": route_figures,
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
    floor = measure_floor(http_figures)
    figures = measure_app(1769, measure)
    warm_128 = measure_app(128, lambda endpoint, _: warm_latency(lambda_url(endpoint)))
    figures["warm_at_128_mb"] = {key: round(value, 3) for key, value in warm_128.items()}
    figures["floor"] = floor
    from bench import ruby_bench  # (it measures with this module's helpers)

    figures["ruby3.3_warm"] = ruby_bench.warm()
    from bench import java_bench  # (the same)

    figures["java17_warm"] = java_bench.warm()
    figures["x_floor"] = {
        "lambda_api": ratios(figures, floor),
        "http_api_route": ratios(figures["http_api_route"], floor),
    }
    return figures


def measure_app(
    memory_mb: int, how: Callable[[str, str], Coroutine[Any, Any, dict[str, Any]]]
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(template(COLD_FUNCTIONS + 1, memory_mb))
        process, endpoint, route = start_server_with_route(folder)
        try:
            return uvloop.run(how(endpoint, route))
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))


async def tool_figures(url: str, pid: int | None = None) -> dict[str, float]:
    """One tool's figures for the side-by-side benchmarks: first call, warm p50/p99, 4 clients;
    with the tool's `pid`, the CPU each request of the 4-client run cost the tool (its process
    and every process under it) and the client (this process)."""
    async with aiohttp.ClientSession() as session:
        cold = await invoke(session, url)
    warm = await warm_latency(url)
    await throughput(url, 4)  # its instances warm before counting
    tree = descendants(pid) if pid is not None else []
    tool_before, client_before = tree_cpu_s(tree), time.process_time()
    began = time.perf_counter()
    rate = await throughput(url, 4)
    requests = rate * (time.perf_counter() - began)
    figures = {
        "cold_start_ms": round(cold, 1),
        "p50_ms": round(warm["p50_ms"], 3),
        "p99_ms": round(warm["p99_ms"], 3),
        "throughput_4_per_s": round(rate),
    }
    if pid is not None:
        tool_us = (tree_cpu_s(tree) - tool_before) / requests * 1e6
        client_us = (time.process_time() - client_before) / requests * 1e6
        figures |= {"cpu_us_per_request": round(tool_us), "client_cpu_us": round(client_us)}
    return figures
