"""Python cold starts are served by spare interpreters (samrun/runtime/spares.py), and every
isolation rule of a freshly spawned runtime still holds: samrun's own child, the instance's own
environment and nothing of another's, its own hash seed, its rlimits, uid, cgroups and tmpfs, its
process group, the timeout kill, the exit code of a crash, the memory kill; and what a spare
cannot reproduce is spawned as before, as is every instance with SAMRUN_SPARES=0.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from samrun.runtime.lane import LANE_ENV
from tests.conftest import SamrunProcess, alive, invoke_http, start_up, wait_until
from tests.runtime.test_lane import transports

PROBE = r"""
import os, resource, signal, sys, time

def entries(name):
    return [e for e in open(f"/proc/self/{name}", "rb").read().decode().split("\0") if e]

def probe(event, context):
    mounts = open("/proc/self/mounts").read()
    return {
        "ppid": os.getppid(),
        "pid": os.getpid(),
        "pgid_is_pid": os.getpgid(0) == os.getpid(),
        "sid_is_pid": os.getsid(0) == os.getpid(),
        "uid": os.getuid(),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "nproc": list(resource.getrlimit(resource.RLIMIT_NPROC)),
        "cgroups": open("/proc/self/cgroup").read(),
        "tmp_is_tmpfs": f" {os.environ['TMPDIR']} tmpfs " in mounts,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "stdin": os.readlink("/proc/self/fd/0"),
        "argv": sys.argv,
        "orig_argv": sys.orig_argv,
        "no_bytecode": [sys.flags.dont_write_bytecode, sys.dont_write_bytecode],
        "main": sys.modules["__main__"].__file__,
        "proc_cmdline": entries("cmdline"),
        "proc_environ": entries("environ"),
        "path": sys.path,
        "modules": "app" in sys.modules,
        "hash": hash("same text, another seed"),
    }

def slow(event, context):
    time.sleep(event.get("seconds", 0))
    return os.getpid()

def crash(event, context):
    print("about to go", flush=True)
    if event.get("signal"):
        os.kill(os.getpid(), signal.SIGSEGV)
    os._exit(event.get("code", 7))

def hog(event, context):
    global kept
    kept = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(kept), 4096):
        kept[i] = 1
    return event["mb"]
"""


def function(name: str, handler: str, extra: str = "") -> str:
    return f"""  {name}:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.{handler}
      CodeUri: src/
      MemorySize: 256
      Timeout: 2
{extra}"""


TEMPLATE = "Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(
    [
        function("First", "probe"),
        function("Second", "probe"),
        function(
            "Secret",
            "probe",
            "      Environment:\n        Variables:\n          ONLY_SECRET: mine\n",
        ),
        function(
            "Seeded",
            "probe",
            "      Environment:\n        Variables:\n          PYTHONHASHSEED: '0'\n",
        ),
        function("Slow", "slow"),
        function("Crash", "crash"),
        function("Hog", "hog").replace("MemorySize: 256", "MemorySize: 128"),
    ]
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    folder = tmp_path_factory.mktemp("spares")
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text(PROBE)
    (folder / "template.yaml").write_text(TEMPLATE)
    process = start_up(folder / "template.yaml", folder / ".samrun")
    yield process
    process.stop()


def call(server: SamrunProcess, name: str, payload: object = None) -> tuple[dict[str, str], Any]:
    status, headers, body = invoke_http(server.lambda_endpoint, name, payload)
    assert status == 200, body
    return headers, body


def started_from(server: SamrunProcess, name: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=30) as reply:
        pools = json.loads(reply.read())["pools"]
    return next(pool["started_from"] for pool in pools if pool["function"] == name)


def from_spare(server: SamrunProcess, name: str) -> bool:
    return started_from(server, name) == {"spare": 1}


def test_cold_starts_are_served_by_spare_interpreters(server: SamrunProcess) -> None:
    _, first = call(server, "First")
    _, second = call(server, "Second")
    assert from_spare(server, "First") and from_spare(server, "Second")
    assert first["ppid"] == second["ppid"] == server.process.pid  # samrun's children
    assert first["pid"] != second["pid"]
    assert first["hash"] != second["hash"]  # each its own interpreter and hash seed
    bootstrap = str(Path(first["path"][1]) / "bootstrap.py")
    assert first["argv"] == [bootstrap]
    assert first["orig_argv"][1:] == ["-u", "-S", bootstrap]  # what a spawn's would be
    assert first["main"] == bootstrap
    assert first["no_bytecode"] == [1, True]
    assert first["proc_cmdline"] == first["orig_argv"]  # ps shows the runtime, not the spare
    assert first["modules"]  # the handler's module, imported in the child
    report = server.wait_for(r"First \| REPORT .*Init Duration: ([\d.]+) ms")
    assert float(report.group(1)) > 0
    assert transports(server)["First"] == {"lane": 1}  # the forked runtime speaks the lane


def test_an_instance_has_its_own_environment_and_nothing_of_another(
    server: SamrunProcess,
) -> None:
    _, secret = call(server, "Secret")
    _, other = call(server, "Second")
    assert from_spare(server, "Secret")
    assert secret["env"]["ONLY_SECRET"] == "mine"
    assert "ONLY_SECRET" not in other["env"]
    assert secret["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "Secret"
    assert other["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "Second"
    assert not any(key.startswith("SAMRUN") for key in other["env"])
    initial = {f"{k}={v}" for k, v in secret["env"].items() if k != "_X_AMZN_TRACE_ID"}
    # /proc/PID/environ: its own, from the start (with the lane's descriptor, as a spawned
    # runtime's: the bootstrap takes it out of os.environ, the kernel's copy keeps it)
    lane = {entry for entry in secret["proc_environ"] if entry.startswith(f"{LANE_ENV}=")}
    assert set(secret["proc_environ"]) - lane == initial
    assert "ONLY_SECRET=mine" not in other["proc_environ"]
    assert secret["cwd"] == secret["env"]["LAMBDA_TASK_ROOT"]
    assert secret["path"][0] == secret["env"]["LAMBDA_TASK_ROOT"]


def test_limits_uid_cgroups_and_session_hold_in_an_instance_from_a_spare(
    server: SamrunProcess,
) -> None:
    _, body = call(server, "First")
    assert from_spare(server, "First")
    assert body["nofile"] == [1024, 1024]
    assert body["nproc"] == [1024, 1024]
    assert body["pgid_is_pid"] and body["sid_is_pid"]
    assert body["stdin"] == "/dev/null"
    assert body["fds"][:3] == [0, 1, 2] and len(body["fds"]) <= 5  # stdio, its socket, listdir
    if os.geteuid() == 0:
        assert body["uid"] != 0
    if os.geteuid() == 0 and Path("/sys/fs/cgroup/cpu").is_dir():
        assert "samrun-" in body["cgroups"]


def test_the_timeout_kills_an_instance_from_a_spare_and_the_next_one_works(
    server: SamrunProcess,
) -> None:
    _, _, body = invoke_http(server.lambda_endpoint, "Slow", {"seconds": 30})
    assert started_from(server, "Slow") in ({"spare": 1}, {})  # (gone after the kill)
    assert body["errorType"] == "Sandbox.Timedout", body
    assert "Task timed out after 2.0" in body["errorMessage"]
    _, pid = call(server, "Slow", {"seconds": 0})
    assert pid > 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({"code": 7}, "exit status 7"), ({"signal": True}, "signal: segmentation fault")],
)
def test_a_crash_reports_its_exit_as_a_spawned_runtime_does(
    server: SamrunProcess, payload: dict[str, object], reason: str
) -> None:
    _, _, body = invoke_http(server.lambda_endpoint, "Crash", payload)
    assert body["errorType"] == "Runtime.ExitError", body
    assert body["errorMessage"].endswith(f"Runtime exited with error: {reason}")
    server.wait_for(r"Crash \| about to go")


def test_memory_over_the_limit_kills_an_instance_from_a_spare(server: SamrunProcess) -> None:
    _, _, body = invoke_http(server.lambda_endpoint, "Hog", {"mb": 400})
    assert body["errorType"] == "Runtime.OutOfMemory", body
    _, mb = call(server, "Hog", {"mb": 10})
    assert mb == 10


def test_max_memory_used_follows_the_instance_from_call_to_call(server: SamrunProcess) -> None:
    for mb in (20, 60):  # the same warm instance: REPORT reads its high-water mark each time
        headers, got = call(server, "Hog", {"mb": mb})
        assert got == mb
        request_id = headers["x-amzn-RequestId"]
        report = server.wait_for(
            rf"Hog \| REPORT RequestId: {request_id}.*Max Memory Used: (\d+) MB"
        )
        assert int(report.group(1)) >= mb


def test_what_a_spare_cannot_reproduce_is_spawned_as_before(server: SamrunProcess) -> None:
    _, body = call(server, "Seeded")
    assert started_from(server, "Seeded") == {"interpreter": 1}  # PYTHONHASHSEED: read at start
    assert body["env"]["PYTHONHASHSEED"] == "0"


def spares_of(pid: int, script: bytes = b"bootstraps/python/spare.py") -> set[int]:
    """samrun's children that are spares (of `script`), still waiting for an instance."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            stat = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid and script in cmdline.read_bytes():
                found.add(int(cmdline.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_spares_and_their_instances_die_with_samrun(server: SamrunProcess) -> None:
    folder = Path(server.process.args[server.process.args.index("--state-dir") + 1]).parent
    other = start_up(folder / "template.yaml", folder / ".samrun-killed")
    _, body = call(other, "First")
    assert from_spare(other, "First")
    spares = wait_until(lambda: spares_of(other.process.pid))  # the next one, waiting
    assert other.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until(lambda: not any(alive(pid) for pid in {body["pid"], *spares}), timeout=10)


def test_with_spares_off_every_instance_starts_its_own_interpreter(
    server: SamrunProcess,
) -> None:
    folder = Path(server.process.args[server.process.args.index("--state-dir") + 1]).parent
    os.environ["SAMRUN_SPARES"] = "0"
    try:
        other = start_up(folder / "template.yaml", folder / ".samrun-off")
    finally:
        del os.environ["SAMRUN_SPARES"]
    try:
        _, body = call(other, "First")
        assert started_from(other, "First") == {"interpreter": 1}
        assert body["ppid"] == other.process.pid
        assert not spares_of(other.process.pid)
    finally:
        other.stop()
