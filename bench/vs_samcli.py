"""Benchmark: samrun beside SAM CLI (`sam local start-lambda`) on the same no-op Python function.

Needs SAM CLI (SAMRUN_SAM_CLI, `sam` on PATH, or /tmp/samrun-samcli/bin/sam: `python3 -m venv
/tmp/samrun-samcli && /tmp/samrun-samcli/bin/pip install aws-sam-cli`, outside the repository) and
a Docker engine; without either it prints one line saying which is missing. SAM CLI runs the
docker backend's test image (SAMRUN_TEST_IMAGE, default samrun-test/python:3.11) through
`--invoke-image`, with `--skip-pull-image`; samrun runs the process backend (its default) and,
beside it, the docker backend on the same image. Both through the Lambda API's Invoke over
loopback, with the client of bench/invoke_bench.py, one tool at a time, the floor in the same run.
`python -m bench samcli`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvloop

from bench.floor import measure_floor, ratio
from bench.invoke_bench import NOOP, lambda_url, tool_figures, warm_latency
from bench.vs_peers import free_port

IMAGE = os.environ.get("SAMRUN_TEST_IMAGE", "samrun-test/python:3.11")
READY = re.compile(r"Lambda API on (http://\S+)")
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Noop0:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      MemorySize: 1769
      Timeout: 30
"""
SAMRUN_BACKENDS = {
    "samrun_process": [],
    "samrun_docker": ["--backend", "docker", "--image-map", f"python3.11={IMAGE}", "--skip-pull"],
}


def sam_cli() -> str | None:
    for candidate in (os.environ.get("SAMRUN_SAM_CLI"), shutil.which("sam")):
        if candidate:
            return candidate
    default = Path("/tmp/samrun-samcli/bin/sam")
    return str(default) if default.exists() else None


def docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    done = subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True)
    return done.returncode == 0


def start(args: list[str], folder: Path, ready: str) -> tuple[subprocess.Popen[str], float, str]:
    """Spawns a tool; returns it, the seconds to its ready line, and that line."""
    began = time.perf_counter()
    env = os.environ | {"SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    env |= {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    process = subprocess.Popen(
        args, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if ready in line:
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, time.perf_counter() - began, line
    process.kill()
    raise RuntimeError(f"{args[0]} did not become ready")


def measure_tool(name: str, sam: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP)
        (folder / "template.yaml").write_text(TEMPLATE)
        if name == "sam_cli":
            port = free_port()
            args = [sam, "local", "start-lambda", "--port", str(port), "--skip-pull-image"]
            args += ["--invoke-image", IMAGE, "--warm-containers", "EAGER"]
            process, startup, _ = start(args, folder, "Running on http")
            url = lambda_url(f"http://127.0.0.1:{port}")
        else:
            args = [sys.executable, "-m", "samrun", "up", "--port", "0", "--invoke-port", "0"]
            args += ["--state-dir", str(folder / ".samrun"), *SAMRUN_BACKENDS[name]]
            process, startup, line = start(args, folder, "ready: Lambda API on")
            url = lambda_url(READY.search(line).group(1))  # type: ignore[union-attr]
        try:
            return {"startup_s": round(startup, 2)} | uvloop.run(tool_figures(url))
        finally:
            process.terminate()
            process.wait(60)


def run() -> dict[str, Any]:
    sam = sam_cli()
    if sam is None:
        return {"skipped": "SAM CLI is not installed (pip install aws-sam-cli in a virtualenv)"}
    if not docker_ready():
        return {"skipped": f"no Docker engine, or the image {IMAGE} is not in it"}
    floor = measure_floor(warm_latency)
    out: dict[str, Any] = {"floor_p50_ms": round(floor["p50_ms"], 3)}
    for name in ("samrun_process", "sam_cli", "samrun_docker"):
        out[name] = measure_tool(name, sam)
    for name in ("samrun_process", "samrun_docker"):
        out[f"{name}_over_sam_cli"] = {
            key: ratio(out[name][key], out["sam_cli"][key]) for key in out[name]
        }
    return out


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
