"""Node.js cold starts are served by spare nodes (samrun/runtime/node_spare.py), started as their
instance will be before it is known, and every isolation rule of a freshly spawned runtime still
holds: samrun's own child, the instance's own environment (TZ and NODE_PATH read as a fresh node
reads them) and nothing of another's, its rlimits, uid, cgroups, tmpfs TMPDIR (gone with it),
process group and session, the descriptors a spawned node has, the timeout kill, the exit code
of a crash, the memory kill; what a spare cannot reproduce is spawned as before.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SamrunProcess, alive, invoke_http, start_up, wait_until
from tests.runtime.test_lane import transports
from tests.runtime.test_spares import call, from_spare, spares_of, started_from

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

NODE_SPARE = b"bootstraps/nodejs/spare.js"
PROBE = r"""
const fs = require('fs');
const path = require('path');
const stat = () => fs.readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');

exports.probe = async () => {
  const fields = stat();
  return {
    pid: process.pid,
    ppid: process.ppid,
    pgrp: Number(fields[2]),
    session: Number(fields[3]),
    uid: process.getuid(),
    limits: fs.readFileSync('/proc/self/limits', 'utf8'),
    cgroups: fs.readFileSync('/proc/self/cgroup', 'utf8'),
    tmpfs: fs.readFileSync('/proc/self/mounts', 'utf8').includes(` ${process.env.TMPDIR} tmpfs `),
    env: process.env,
    cwd: process.cwd(),
    fds: fs.readdirSync('/proc/self/fd').length,
    stdin: fs.readlinkSync('/proc/self/fd/0'),
    argv: process.argv,
    main: require.main.filename,
    offset: new Date(0).getTimezoneOffset(),
    paths: require.resolve.paths('x'),
  };
};

exports.slow = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, (event.seconds || 0) * 1000));
  return process.pid;
};

exports.crash = async (event) => {
  console.log('about to go');
  if (event.signal) process.kill(process.pid, 'SIGSEGV');
  process.exit(event.code === undefined ? 7 : event.code);
};

exports.hog = async (event) => {
  globalThis.kept = Buffer.alloc(event.mb * 1024 * 1024, 1);
  return event.mb;
};

exports.scratch = async (event) => {
  if (event.exit) process.exit(3);
  fs.writeFileSync(path.join(process.env.TMPDIR, 'scratch'), 'x');
  return process.env.TMPDIR;
};
"""


def function(name: str, handler: str, extra: str = "") -> str:
    return f"""  {name}:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.{handler}
      CodeUri: src/
      MemorySize: 256
      Timeout: 2
{extra}"""


def variables(**pairs: str) -> str:
    lines = "".join(f"          {key}: '{value}'\n" for key, value in pairs.items())
    return "      Environment:\n        Variables:\n" + lines


TEMPLATE = "Transform: AWS::Serverless-2016-10-31\nResources:\n" + "".join(
    [
        function("First", "probe"),
        function("Second", "probe"),
        function("Secret", "probe", variables(ONLY_SECRET="mine", TZ="Asia/Tokyo")),
        function("Threads", "probe", variables(UV_THREADPOOL_SIZE="2")),  # read at start
        function("Slow", "slow"),
        function("Crash", "crash"),
        function("Scratch", "scratch"),
        function("Hog", "hog").replace("MemorySize: 256", "MemorySize: 128"),
    ]
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    folder = tmp_path_factory.mktemp("node-spares")
    (folder / "src").mkdir()
    (folder / "src" / "index.js").write_text(PROBE)
    (folder / "template.yaml").write_text(TEMPLATE)
    process = start_up(folder / "template.yaml", folder / ".samrun")
    yield process
    process.stop()


def limit(limits: str, name: str) -> list[str]:
    line = next(line for line in limits.splitlines() if line.startswith(name))
    return line[len(name) :].split()[:2]


def test_node_cold_starts_are_served_by_spares(server: SamrunProcess) -> None:
    _, first = call(server, "First")
    _, second = call(server, "Second")
    assert from_spare(server, "First") and from_spare(server, "Second")
    assert first["ppid"] == second["ppid"] == server.process.pid  # samrun's children
    assert first["pid"] != second["pid"]
    bootstrap = first["env"]["LAMBDA_RUNTIME_DIR"] + "/nodejs/bootstrap.js"
    assert first["argv"][1:] == [bootstrap]
    assert first["main"] == bootstrap  # the main module, as `node bootstrap.js` makes it
    report = server.wait_for(r"First \| REPORT .*Init Duration: ([\d.]+) ms")
    assert float(report.group(1)) > 0
    assert transports(server)["First"] == {"lane": 1}  # the spare's lane, now the instance's


def test_a_node_instance_has_its_own_environment_and_nothing_of_another(
    server: SamrunProcess,
) -> None:
    _, secret = call(server, "Secret")
    _, other = call(server, "Second")
    assert from_spare(server, "Secret")
    assert secret["env"]["ONLY_SECRET"] == "mine"
    assert "ONLY_SECRET" not in other["env"]
    assert secret["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "Secret"
    assert not any(key.startswith(("SAMRUN", "_SAMRUN")) for key in other["env"])
    assert secret["offset"] == -540 and other["offset"] == 0  # TZ, as node reads it at start
    assert secret["cwd"] == secret["env"]["LAMBDA_TASK_ROOT"]


def test_limits_uid_cgroups_tmpfs_and_session_hold_in_a_node_instance_from_a_spare(
    server: SamrunProcess,
) -> None:
    _, body = call(server, "First")
    _, fresh = call(server, "Threads")
    assert from_spare(server, "First")
    assert started_from(server, "Threads") == {"interpreter": 1}  # UV_*: read at node's start
    assert limit(body["limits"], "Max open files") == ["1024", "1024"]
    assert limit(body["limits"], "Max processes") == ["1024", "1024"]
    assert body["pgrp"] == body["session"] == body["pid"]
    assert body["stdin"] == "/dev/null"
    assert body["fds"] == fresh["fds"]  # what a spawned node holds, and nothing of samrun's
    assert body["paths"] == fresh["paths"]  # module paths: NODE_PATH read as a fresh node does
    assert set(body["env"]["NODE_PATH"].split(":")) <= set(body["paths"])
    assert body["tmpfs"] == fresh["tmpfs"]
    if body["uid"] != 0 or fresh["uid"] != 0:
        assert body["uid"] not in (0, fresh["uid"])  # an unprivileged user of its own
    assert "samrun-" in body["cgroups"]


def test_the_timeout_kills_a_node_instance_from_a_spare_and_the_next_one_works(
    server: SamrunProcess,
) -> None:
    _, _, body = invoke_http(server.lambda_endpoint, "Slow", {"seconds": 30})
    assert body["errorType"] == "Sandbox.Timedout", body
    _, pid = call(server, "Slow", {"seconds": 0})
    assert pid > 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [({"code": 7}, "exit status 7"), ({"signal": True}, "signal: segmentation fault")],
)
def test_a_node_crash_reports_its_exit_as_a_spawned_runtime_does(
    server: SamrunProcess, payload: dict[str, object], reason: str
) -> None:
    _, _, body = invoke_http(server.lambda_endpoint, "Crash", payload)
    assert body["errorType"] == "Runtime.ExitError", body
    assert body["errorMessage"].endswith(f"Runtime exited with error: {reason}")
    server.wait_for(r"Crash \| .*\tINFO\tabout to go")


def test_memory_over_the_limit_kills_a_node_instance_from_a_spare(server: SamrunProcess) -> None:
    _, _, body = invoke_http(server.lambda_endpoint, "Hog", {"mb": 400})
    assert body["errorType"] == "Runtime.OutOfMemory", body
    _, mb = call(server, "Hog", {"mb": 10})
    assert mb == 10


def test_the_spares_tmpdir_is_the_instances_and_goes_with_it(server: SamrunProcess) -> None:
    _, tmp_dir = call(server, "Scratch", {})
    assert from_spare(server, "Scratch")
    assert Path(tmp_dir).is_dir()
    _, again = call(server, "Scratch", {})
    assert again == tmp_dir  # warm: the same instance, the same TMPDIR
    _, _, body = invoke_http(server.lambda_endpoint, "Scratch", {"exit": True})
    assert body["errorType"] == "Runtime.ExitError", body
    wait_until(lambda: not Path(tmp_dir).exists())


def test_node_spares_and_their_instances_die_with_samrun(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.js").write_text(PROBE)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    other = start_up(tmp_path / "template.yaml", tmp_path / ".samrun")
    _, body = call(other, "First")
    assert from_spare(other, "First")
    spares = wait_until(lambda: spares_of(other.process.pid, NODE_SPARE))  # the next ones
    assert isinstance(spares, set)
    assert other.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until(lambda: not any(alive(pid) for pid in {body["pid"], *spares}), timeout=10)


def test_a_runtime_a_watch_reload_brings_gets_spares(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.js").write_text(PROBE)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    python_only = "Transform: AWS::Serverless-2016-10-31\nResources:\n" + function(
        "Py", "probe"
    ).replace("nodejs20.x", "python3.11").replace("index.probe", "app.handler")
    (tmp_path / "template.yaml").write_text(python_only)
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun", "--watch")
    try:
        server.wait_for("watching")
        mark = len(server.lines)
        (tmp_path / "template.yaml").write_text(python_only + function("First", "probe"))
        server.wait_for(r"reloaded \(", start=mark, timeout=30)
        _, body = call(server, "First")
        assert body["ppid"] == server.process.pid
        assert from_spare(server, "First")  # a node spare, started at the reload
    finally:
        server.stop()
