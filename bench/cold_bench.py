"""Benchmark: cold starts by language, `samrun up` of a large app, and memory (issue 15).

- cold start: the first call of a fresh no-op function, Python 3.11 and Node.js alternating (one
  fresh function each per round), through the Lambda API on a keep-alive connection; beside the
  bare start of each interpreter (`python -S -c pass`, `node -e 0`) measured in the same run
  (targets: Python <= 20 ms, Node.js <= 40 ms); on samrun's default (from a spare interpreter
  or node, runtime/spares.py) and on a second `samrun up` with SAMRUN_SPARES=0 (a fresh
  interpreter or node per instance)
- `samrun up` to its ready line for a generated 200-function template (bench/plan_bench.py's:
  a queue, an SQS mapping and a schedule each), the second and later starts, when the SAM
  transform is read back from the state folder's cache (target <= 1.5 s); the first start too
- memory with those 200 functions and 50 warm Python instances: samrun's own resident memory
  (VmRSS of its process, and of the embedded moto server, its own process), and each warm
  instance's VmRSS and Pss (/proc/PID/smaps_rollup: shared pages divided among the processes
  that share them) (targets: samrun <= 150 MB, each instance <= 20 MB)
- `sdk` (issue 19): the cold start of a function on another Python than samrun's (python3.13
  beside samrun's 3.11) that imports boto3 and creates a client in its handler, at full CPU
  (1769 MB) and at 128 MB; before (SAMRUN_PYTHON_BYTECODE=off: the SDK compiled from source at
  every cold start) and after (the SDK compiled once per Python in the user cache, a fresh one
  here, so the after's ready time includes that compile)
- `ruby` (issue 22): the cold start of fresh no-op ruby3.3 functions on the machine's `ruby`,
  beside `ruby -e 0` in the same run (bench/ruby_bench.py)
- `java` (issue 22): the cold start of fresh no-op java17 functions on the machine's JDK, beside
  the JVM's own start (`java -version`) in the same run (bench/java_bench.py)
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench import java_bench, ruby_bench
from bench.invoke_bench import launch, percentile
from bench.plan_bench import write_template

ROUNDS = 30  # fresh functions per language
UP_RUNS = 5
WARM_INSTANCES = 50
NOOP_PY = "def handler(event, context):\n    return None\n"
NOOP_JS = "exports.handler = async () => null;\n"
SDK_ROUNDS = {1769: 8, 128: 3}  # fresh functions per memory size and mode
SDK_PY = (
    "def handler(event, context):\n"
    "    import boto3\n\n"
    '    boto3.client("s3", region_name="us-east-1")\n'
    "    return None\n"
)


def cold_template(functions: int) -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for i in range(functions):
        for name, runtime, handler, code in (
            ("Py", "python3.11", "app.handler", "py/"),
            ("Js", "nodejs20.x", "index.handler", "js/"),
        ):
            lines += [
                f"  {name}{i}:",
                "    Type: AWS::Serverless::Function",
                "    Properties:",
                f"      Runtime: {runtime}",
                f"      Handler: {handler}",
                f"      CodeUri: {code}",
                "      MemorySize: 1769",
            ]
    return "\n".join(lines) + "\n"


def start_up(
    folder: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str, float]:
    """`samrun up` in `folder`: the process, its Lambda API, seconds from spawn to ready."""
    began = time.perf_counter()
    process, endpoint = launch(folder, *extra, env=env)
    return process, endpoint, time.perf_counter() - began


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def first_call(session: aiohttp.ClientSession, endpoint: str, name: str) -> float:
    url = f"{endpoint}/2015-03-31/functions/{name}/invocations"
    began = time.perf_counter()
    async with session.post(url, data=b"{}") as response:
        await response.read()
        assert response.status == 200, (name, response.status, await response.text())
    return (time.perf_counter() - began) * 1000


def bare_ms(argv: list[str], runs: int = 20) -> float:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, check=True)
        samples.append((time.perf_counter() - began) * 1000)
    return round(statistics.median(samples), 1)


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p90_ms": round(percentile(samples, 0.9), 1),
        "min_ms": round(min(samples), 1),
    }


def cold_starts() -> dict[str, Any]:
    """Two `samrun up` of the same app at once, one with spare interpreters (the default), one
    without (SAMRUN_SPARES=0); per round a fresh Python function and a fresh Node.js one on each,
    alternating, so a load spike from the machine's other users hits all four alike."""
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        for mode in ("spawn", "spare"):
            folder = Path(tmp) / mode
            (folder / "py").mkdir(parents=True)
            (folder / "py" / "app.py").write_text(NOOP_PY)
            (folder / "js").mkdir()
            (folder / "js" / "index.js").write_text(NOOP_JS)
            (folder / "template.yaml").write_text(cold_template(ROUNDS + 1))
            env = {**os.environ, "SAMRUN_SPARES": "1" if mode == "spare" else "0"}
            servers[mode] = start_up(folder, "--max-sandboxes", str(2 * ROUNDS + 4), env=env)

        async def measure() -> dict[str, list[float]]:
            found: dict[str, list[float]] = {
                "python3.11": [],
                "spare": [],
                "nodejs20.x": [],
                "node_spare": [],
            }
            spawn, spare = servers["spawn"][1], servers["spare"][1]
            async with aiohttp.ClientSession() as session:
                for endpoint in (spawn, spare):  # the connection, samrun's caches
                    await first_call(session, endpoint, "Py0")
                    await first_call(session, endpoint, "Js0")
                for i in range(1, ROUNDS + 1):
                    found["python3.11"].append(await first_call(session, spawn, f"Py{i}"))
                    found["spare"].append(await first_call(session, spare, f"Py{i}"))
                    found["nodejs20.x"].append(await first_call(session, spawn, f"Js{i}"))
                    found["node_spare"].append(await first_call(session, spare, f"Js{i}"))
            return found

        try:
            found = uvloop.run(measure())
        finally:
            for process, _, _ in servers.values():
                stop(process)
    node = shutil.which("node") or "node"
    return {
        "functions_per_language": ROUNDS,
        "python3.11": {**summary(found["spare"]), "target_ms": 20},
        "python3.11_fresh_interpreter": {**summary(found["python3.11"]), "target_ms": 20},
        "nodejs20.x": {**summary(found["node_spare"]), "target_ms": 40},
        "nodejs20.x_fresh_node": {**summary(found["nodejs20.x"]), "target_ms": 40},
        "bare_python_S_ms": bare_ms([sys.executable, "-S", "-c", "pass"]),
        "bare_node_ms": bare_ms([node, "-e", "0"]),
    }


def up_time() -> dict[str, Any]:
    """First start (the transform runs and is cached), then UP_RUNS starts reading the cache."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_template(folder)
        process, _, first = start_up(folder)
        stop(process)
        again = []
        for _ in range(UP_RUNS):
            process, _, elapsed = start_up(folder)
            stop(process)
            again.append(elapsed)
    return {
        "functions": 200,
        "first_start_s": round(first, 2),
        "cached_p50_s": round(statistics.median(again), 2),
        "cached_min_s": round(min(again), 2),
        "cached_max_s": round(max(again), 2),
        "target_s": 1.5,
    }


def status_kb(pid: int, field: str, file: str = "status") -> int:
    with open(f"/proc/{pid}/{file}") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            return [int(p) for p in listing.read().split()]
    except OSError:
        return []


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as text:
            return text.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def memory(spares: bool = True) -> dict[str, Any]:
    env = {**os.environ, "SAMRUN_SPARES": "1" if spares else "0"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_template(folder)
        process, endpoint, _ = start_up(folder, "--max-sandboxes", "64", env=env)
        try:
            baseline_kb = status_kb(process.pid, "VmRSS")

            async def warm() -> None:
                async with aiohttp.ClientSession() as session:
                    for i in range(WARM_INSTANCES):
                        await first_call(session, endpoint, f"Fn{i}")

            uvloop.run(warm())
            samrun_kb = status_kb(process.pid, "VmRSS")
            samrun_hwm_kb = status_kb(process.pid, "VmHWM")
            instances: list[tuple[int, int]] = []
            moto_kb = spare_kb = 0
            pids = children(process.pid)
            for pid in pids:
                line = cmdline(pid)
                if "spare.py" in line:  # the one waiting for the next cold start
                    spare_kb = status_kb(pid, "VmRSS")
                elif "bootstrap.py" in line:
                    rss = status_kb(pid, "VmRSS")
                    pss = status_kb(pid, "Pss", "smaps_rollup")
                    instances.append((rss, pss))
                elif "moto" in line:
                    moto_kb = status_kb(pid, "VmRSS")
        finally:
            stop(process)
    rss_mb = [kb / 1024 for kb, _ in instances]
    pss_mb = [kb / 1024 for _, kb in instances]
    return {
        "functions": 200,
        "warm_instances": len(instances),
        "samrun_rss_mb": round(samrun_kb / 1024, 1),
        "samrun_rss_before_instances_mb": round(baseline_kb / 1024, 1),
        "samrun_peak_rss_mb": round(samrun_hwm_kb / 1024, 1),
        "moto_rss_mb": round(moto_kb / 1024, 1),
        "spare_rss_mb": round(spare_kb / 1024, 1),
        "instance_rss_mb": {
            "p50": round(statistics.median(rss_mb), 1) if rss_mb else None,
            "max": round(max(rss_mb), 1) if rss_mb else None,
        },
        "instance_pss_mb": {
            "p50": round(statistics.median(pss_mb), 1) if pss_mb else None,
            "max": round(max(pss_mb), 1) if pss_mb else None,
        },
        "targets_mb": {"samrun": 150, "instance": 20},
    }


def sdk_template(version: str) -> str:
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for memory, rounds in SDK_ROUNDS.items():
        for i in range(rounds):
            lines += [
                f"  Sdk{memory}x{i}:",
                "    Type: AWS::Serverless::Function",
                "    Properties:",
                f"      Runtime: python{version}",
                "      Handler: app.handler",
                "      CodeUri: py/",
                f"      MemorySize: {memory}",
                "      Timeout: 60",  # the before at 128 MB takes longer than Lambda's 10 s
            ]
    return "\n".join(lines) + "\n"


def sdk_cold_starts() -> dict[str, Any]:
    """Two `samrun up` at once, before and after; per round a fresh function on each."""
    from samrun.runtime.runtimes import PYTHON_VERSIONS, locate_python, python_homes

    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    homes = python_homes(dict(os.environ))
    versions = [v for v in PYTHON_VERSIONS if v != running and locate_python(v, homes)]
    if not versions:
        return {"skipped": "no Python but samrun's own on this machine"}
    version = versions[-1]
    with tempfile.TemporaryDirectory() as tmp:
        servers, ready = {}, {}
        for mode in ("before", "after"):
            folder = Path(tmp) / mode
            (folder / "py").mkdir(parents=True)
            (folder / "py" / "app.py").write_text(SDK_PY)
            (folder / "template.yaml").write_text(sdk_template(version))
            env = {**os.environ, "SAMRUN_CACHE_DIR": str(Path(tmp) / "cache")}
            env["SAMRUN_PYTHON_BYTECODE"] = "off" if mode == "before" else "on"
            process, endpoint, elapsed = start_up(folder, env=env)
            servers[mode], ready[mode] = (process, endpoint), round(elapsed, 2)

        async def measure() -> dict[str, list[float]]:
            found: dict[str, list[float]] = {}
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(300)) as session:
                for memory, rounds in SDK_ROUNDS.items():
                    for i in range(rounds):
                        for mode in ("before", "after"):
                            ms = await first_call(session, servers[mode][1], f"Sdk{memory}x{i}")
                            found.setdefault(f"{mode}_{memory}", []).append(ms)
            return found

        try:
            found = uvloop.run(measure())
        finally:
            for process, _ in servers.values():
                stop(process)
    return {
        "runtime": f"python{version}",
        "handler": "import boto3; boto3.client('s3')",
        "ready_s": ready,
        **{f"{key}MB": summary(samples) for key, samples in found.items()},
    }


def run() -> dict[str, object]:
    parts = os.environ.get("SAMRUN_COLD_PARTS", "cold,sdk,up,memory,ruby,java").split(",")
    figures: dict[str, object] = {"load_average": os.getloadavg()[0]}
    if "cold" in parts:
        figures["cold_start"] = cold_starts()
    if "ruby" in parts:  # ruby3.3 on the machine's ruby, beside `ruby -e 0` (bench/ruby_bench.py)
        figures["ruby_cold_start"] = ruby_bench.cold_starts()
    if "java" in parts:  # java17 on the machine's JDK, beside `java -version` (java_bench.py)
        figures["java_cold_start"] = java_bench.cold_starts()
    if "up" in parts:
        figures["up_200_functions"] = up_time()
    if "sdk" in parts:
        figures["sdk_other_python"] = sdk_cold_starts()
    if "memory" in parts:
        figures["memory"] = memory()
        figures["memory_without_spares"] = memory(spares=False)
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
