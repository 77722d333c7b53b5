"""Benchmark: where a Python cold start's time goes (issue 15), samrun's side and the child's.

samrun's side: `samrun up` runs in a driver process whose launcher, Runtime API listener,
backend and session are wrapped with clocks (the code is samrun's own; only timestamps are
added); fresh no-op functions are invoked one after another and each step is timed: code
preparation (once per function version), the instance's tmp folder, the listener, the
environment, the spawn (fork, the child's setup: cgroups, tmpfs, rlimits, uid; exec), and from
the spawn's return to the runtime's first `next` (the child: interpreter start, the runtime
client's imports, the handler's import, its connection). The child's side alone, without
samrun: the same interpreter with the same flags, `-c pass`, then importing what the runtime
client imports, then the runtime client itself up to its first `next` on a bare socket.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cold_bench import NOOP_PY, stop

FUNCTIONS = 20
DRIVER = r"""
import json, sys, time
import samrun.runtime.launcher as launcher_module
from samrun.runtime import environment, process, server, session

marks = {}
def mark(key, name):
    marks.setdefault(key, {})[name] = time.perf_counter()

launch = launcher_module.Launcher.launch
async def timed_launch(self, initialization_type="on-demand"):
    key = self.function_name
    mark(key, "launch")
    instance = await launch(self, initialization_type)
    mark(key, "launched")
    return instance
launcher_module.Launcher.launch = timed_launch

prepare = launcher_module.Launcher._prepare
def timed_prepare(self):
    mark(self.function_name, "prepare")
    try:
        return prepare(self)
    finally:
        mark(self.function_name, "prepared")
launcher_module.Launcher._prepare = timed_prepare

open_ = server.RuntimeApiServer.open
async def timed_open(self, runtime_session):
    key = current[0]
    mark(key, "listener")
    address = await open_(self, runtime_session)
    mark(key, "listening")
    runtime_session._bench_key = key
    return address
server.RuntimeApiServer.open = timed_open

env = launcher_module.lambda_environment
def timed_env(config, who, **kwargs):
    mark(who.function_name, "environment")
    try:
        return env(config, who, **kwargs)
    finally:
        mark(who.function_name, "environment_done")
launcher_module.lambda_environment = timed_env

start = process.ProcessBackend.start
async def timed_start(self, spec, on_output):
    key = spec.name.split(":")[0]
    mark(key, "spawn")
    sandbox = await start(self, spec, on_output)
    mark(key, "spawned")
    return sandbox
process.ProcessBackend.start = timed_start

next_ = session.RuntimeSession.next
async def timed_next(self):
    key = getattr(self, "_bench_key", None)
    if key and "next" not in marks.get(key, {}):
        mark(key, "next")
    return await next_(self)
session.RuntimeSession.next = timed_next

current = [""]
mkdir = launcher_module.Path.mkdir
def timed_mkdir(self, *args, **kwargs):
    if self.parent.name == "tmp":
        key = self.name.rsplit("-", 1)[0]
        current[0] = key
        mark(key, "tmp")
        mkdir(self, *args, **kwargs)
        mark(key, "tmp_done")
    else:
        mkdir(self, *args, **kwargs)
launcher_module.Path.mkdir = timed_mkdir

import atexit
marks_file = sys.argv[1]
atexit.register(lambda: open(marks_file, "w").write(json.dumps(marks)))
from samrun.cli import main
sys.argv = ["samrun", *sys.argv[2:]]
main()
"""
STEPS = (
    ("launch", "prepare", "launcher, before preparing code"),
    ("prepare", "prepared", "code prepared (once per version)"),
    ("tmp", "tmp_done", "tmp folder"),
    ("listener", "listening", "Runtime API listener"),
    ("environment", "environment_done", "environment"),
    ("spawn", "spawned", "spawn: fork, child setup, exec"),
    ("spawned", "next", "child: interpreter, imports, handler, connect, first next"),
    ("launch", "next", "launch to first next (total)"),
)


def samrun_side() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(NOOP_PY)
        lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
        for i in range(FUNCTIONS + 1):
            lines += [
                f"  Noop{i}:",
                "    Type: AWS::Serverless::Function",
                "    Properties: {Runtime: python3.11, Handler: app.handler, CodeUri: src/,"
                " MemorySize: 1769}",
            ]
        (folder / "template.yaml").write_text("\n".join(lines) + "\n")
        marks_file = folder / "marks.json"
        argv = ["up", "--port", "0", "--invoke-port", "0", "--state-dir", str(folder / "s")]
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(marks_file), *argv],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        from bench.invoke_bench import READY

        assert process.stdout is not None
        endpoint = ""
        for line in process.stdout:
            found = READY.search(line)
            if found:
                endpoint = found.group(1)
                break
        import threading
        import urllib.request

        threading.Thread(target=process.stdout.read, daemon=True).start()
        for i in range(FUNCTIONS + 1):
            url = f"{endpoint}/2015-03-31/functions/Noop{i}/invocations"
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=30).read()
        stop(process)
        marks = json.loads(marks_file.read_text())
    steps: dict[str, object] = {}
    for begin, end, label in STEPS:
        samples = [
            (m[end] - m[begin]) * 1000
            for name, m in marks.items()
            if name != "Noop0" and begin in m and end in m
        ]
        if samples:
            steps[label] = round(statistics.median(samples), 2)
    return steps


BOOTSTRAP_IMPORTS = "import decimal, importlib, json, logging, os, socket, sys, time, traceback"


def child_side(runs: int = 20) -> dict[str, float]:
    """The runtime client's process without samrun: fork+exec to exit, and to its first `next`."""
    from samrun.runtime.runtimes import BOOTSTRAPS

    bootstrap = str(BOOTSTRAPS / "python" / "bootstrap.py")
    python = [sys.executable, "-u", "-S"]

    def exit_ms(argv: list[str]) -> float:
        samples = []
        for _ in range(runs):
            began = time.perf_counter()
            subprocess.run(argv, check=True)
            samples.append((time.perf_counter() - began) * 1000)
        return round(statistics.median(samples), 2)

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "app.py").write_text(NOOP_PY)
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        env = {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "_HANDLER": "app.handler",
            "LAMBDA_TASK_ROOT": tmp,
            "PYTHONPATH": tmp,
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": os.environ.get("PATH", ""),
        }
        to_next = []
        for _ in range(runs):
            began = time.perf_counter()
            child = subprocess.Popen(
                [*python, bootstrap], env=env, cwd=tmp, stderr=subprocess.DEVNULL
            )
            connection, _ = listener.accept()
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(4096)
            to_next.append((time.perf_counter() - began) * 1000)
            connection.close()
            child.wait()
        listener.close()
    return {
        "python -u -S -c pass": exit_ms([*python, "-c", "pass"]),
        "+ the runtime client's imports": exit_ms([*python, "-c", BOOTSTRAP_IMPORTS]),
        "runtime client to its first next (no samrun)": round(statistics.median(to_next), 2),
    }


async def backend_alone(cgroups: bool, tmpfs: bool, users: bool, runs: int = 15) -> list[float]:
    """samrun's ProcessBackend alone: spawn to the first `next` (ms), with or without each of
    the child's setups (cgroups, a private tmpfs, its own uid; each where the machine allows)."""
    import asyncio

    from samrun.runtime.process import ProcessBackend
    from samrun.runtime.runtimes import BOOTSTRAPS
    from samrun.runtime.sandbox import LaunchSpec

    backend = ProcessBackend()
    backend.cgroups.available &= cgroups
    backend.tmpfs &= tmpfs
    backend.users.enabled &= users
    loop = asyncio.get_running_loop()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "app.py").write_text(NOOP_PY)
        env = {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}",
            "_HANDLER": "app.handler",
            "LAMBDA_TASK_ROOT": tmp,
            "PYTHONPATH": tmp,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        argv = (sys.executable, "-u", "-S", str(BOOTSTRAPS / "python" / "bootstrap.py"))
        for i in range(runs):
            tmp_dir = Path(tmp) / f"tmp{i}"
            tmp_dir.mkdir()
            spec = LaunchSpec(
                name=f"Bench:{i}", argv=argv, env=env, code_dir=Path(tmp), opt_dir=None,
                tmp_dir=tmp_dir, memory_mb=1769, ephemeral_storage_mb=512,
            )  # fmt: skip
            began = time.perf_counter()
            sandbox = await backend.start(spec, lambda line: None)
            connection, _ = await loop.sock_accept(listener)
            request = b""
            while b"\r\n\r\n" not in request:
                request += await loop.sock_recv(connection, 4096)
            samples.append((time.perf_counter() - began) * 1000)
            connection.close()
            await sandbox.stop()
    listener.close()
    await backend.close()
    return samples


def backend_variants() -> dict[str, float]:
    import uvloop

    found = {}
    for label, flags in (
        ("all (cgroups, tmpfs, uid)", (True, True, True)),
        ("no cgroups", (False, True, True)),
        ("no tmpfs", (True, False, True)),
        ("no uid switch", (True, True, False)),
        ("none", (False, False, False)),
    ):
        found[label] = round(statistics.median(uvloop.run(backend_alone(*flags))), 1)
    return found


def run() -> dict[str, object]:
    return {
        "load_average": os.getloadavg()[0],
        "samrun_side_p50_ms": samrun_side(),
        "child_alone_p50_ms": child_side(),
        "backend_alone_spawn_to_next_p50_ms": backend_variants(),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
