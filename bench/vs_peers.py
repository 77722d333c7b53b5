"""Benchmark: samrun beside serverless-offline on the same Python function behind one HTTP route.

serverless@3 and serverless-offline@13 run without an account; they are installed with npm into a
scratch folder outside the repository (SAMRUN_PEERS_DIR, default /tmp/samrun-peers) on first use.
The tools run one at a time, alternating (samrun, serverless-offline, samrun, ...), so neither
competes with the other for the two cores; the floor (bench/floor.py) is measured in the same run.

Per tool: startup (spawn to its ready line), cold start (the first request), warm p50/p99 (the
same keep-alive client as bench/invoke_bench.py) and 4-client throughput; the median over rounds,
and samrun / serverless-offline ratios (latency: < 1 is samrun faster; throughput: > 1 is samrun
ahead). `python -m bench peers`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.floor import measure_floor, ratio
from bench.invoke_bench import start_server_with_route, template, tool_figures, warm_latency

ROUNDS = 2
HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
PEERS = Path(os.environ.get("SAMRUN_PEERS_DIR", "/tmp/samrun-peers"))
PACKAGES = ("serverless@3", "serverless-offline@13")
SERVERLESS_YML = """service: bench
frameworkVersion: '3'
provider:
  name: aws
  runtime: python3.11
  memorySize: 1769
plugins:
  - serverless-offline
functions:
  noop:
    handler: handler.handler
    events:
      - httpApi:
          path: /noop
          method: get
"""


def install_serverless() -> Path | str:
    """The serverless CLI in the scratch folder, installed if missing; or why it cannot be."""
    cli = PEERS / "node_modules" / ".bin" / "serverless"
    if cli.exists():
        return cli
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "skipped: node and npm are not installed"
    PEERS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(PEERS), *PACKAGES],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or not cli.exists():
        return f"skipped: npm install {' '.join(PACKAGES)} failed: {done.stderr[-300:]}"
    return cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serverless(cli: Path) -> tuple[subprocess.Popen[str], str, float]:
    """`serverless offline start` in the scratch folder: the process, the route, startup s."""
    (PEERS / "serverless.yml").write_text(SERVERLESS_YML)
    (PEERS / "handler.py").write_text(HANDLER)
    port = free_port()
    env = os.environ | {"SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off"}
    args = [str(cli), "offline", "start", "--httpPort", str(port)]
    args += ["--lambdaPort", str(free_port()), "--noPrependStageInUrl"]
    began = time.perf_counter()
    process = subprocess.Popen(
        args, cwd=PEERS, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Server ready" in line:
            startup = time.perf_counter() - began
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, f"http://127.0.0.1:{port}/noop", startup
    process.kill()
    raise RuntimeError("serverless offline did not become ready")


def start_samrun(folder: Path) -> tuple[subprocess.Popen[str], str, float]:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "app.py").write_text(HANDLER)
    (folder / "template.yaml").write_text(template(1))
    began = time.perf_counter()
    process, _, route = start_server_with_route(folder)
    return process, route, time.perf_counter() - began


def one_round(tool: str, cli: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        if tool == "samrun":
            process, url, startup = start_samrun(Path(tmp))
        else:
            process, url, startup = start_serverless(cli)
        try:
            figures = uvloop.run(tool_figures(url, process.pid))
            return {"startup_s": round(startup, 2)} | figures
        finally:
            process.terminate()
            process.wait(30)


def median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}


def run() -> dict[str, Any]:
    cli = install_serverless()
    floor = measure_floor(warm_latency)
    out: dict[str, Any] = {"floor_p50_ms": round(floor["p50_ms"], 3)}
    if isinstance(cli, str):
        return out | {"serverless_offline": cli}
    rounds: dict[str, list[dict[str, float]]] = {"samrun": [], "serverless_offline": []}
    for _ in range(ROUNDS):
        for tool in rounds:
            rounds[tool].append(one_round(tool, cli))
    ours, theirs = median_of(rounds["samrun"]), median_of(rounds["serverless_offline"])
    out |= {"rounds": ROUNDS, "samrun": ours, "serverless_offline": theirs}
    out["samrun_over_serverless_offline"] = {key: ratio(ours[key], theirs[key]) for key in ours}
    out["p50_x_floor"] = {
        "samrun": ratio(ours["p50_ms"], floor["p50_ms"]),
        "serverless_offline": ratio(theirs["p50_ms"], floor["p50_ms"]),
    }
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
