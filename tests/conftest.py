"""Shared fixtures: run samrun as users do, as a subprocess, and talk to it over real HTTP."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
READY = re.compile(r"Lambda API on (http://\S+)")
ADDRESS = re.compile(r"samrun: (.+?) on (http://[\d.]+:\d+)")


class SamrunProcess:
    """A running `samrun up`, with its output collected line by line as it arrives."""

    def __init__(self, args: list[str], cwd: Path, ready_timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "samrun", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.lambda_endpoint = self.wait_for(READY, timeout=ready_timeout).group(1)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(
        self, pattern: re.Pattern[str] | str, timeout: float = 30, start: int = 0
    ) -> re.Match[str]:
        """The first output line from `start` on that matches, waiting up to `timeout`."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    match = regex.search(line)
                    if match:
                        return match
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._pending()):
                    output = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no line matched {regex.pattern!r}; output:\n{output}")
                self._changed.wait(min(remaining, 0.5))

    @property
    def addresses(self) -> dict[str, str]:
        """Every `samrun: NAME on http://...` the server announced: `API`, `Lambda API`..."""
        with self._changed:
            found = (ADDRESS.search(line) for line in self.lines)
            return {match.group(1): match.group(2) for match in found if match}

    @property
    def api(self) -> str:
        return self.addresses["API"]

    def wait_for_line(self, pattern: str, timeout_s: float = 10.0) -> str:
        return self.wait_for(pattern, timeout_s).string

    def _pending(self) -> bool:
        return self.process.stdout is not None and not self.process.stdout.closed

    def lambda_client(self) -> object:
        return boto3.client(
            "lambda",
            endpoint_url=self.lambda_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=BotoConfig(
                retries={"total_max_attempts": 1}, read_timeout=120, max_pool_connections=64
            ),
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 45) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()  # reaped here, never left to a later test's garbage collection
            raise AssertionError("samrun did not stop within the deadline") from None
        finally:
            self._reader.join(timeout)
            if self.process.stdout is not None:
                self.process.stdout.close()


def start_up(
    template: Path, state_dir: Path, *extra: str, ready_timeout: float = 60
) -> SamrunProcess:
    """`samrun up TEMPLATE` on free ports with its own state folder, as the tests run it."""
    args = [
        "up",
        str(template),
        "--port",
        "0",
        "--invoke-port",
        "0",
        "--state-dir",
        str(state_dir),
        *extra,
    ]
    return SamrunProcess(args, cwd=template.parent, ready_timeout=ready_timeout)


@pytest.fixture
def samrun_up(tmp_path: Path) -> Iterator[object]:
    """Factory: `samrun_up(template, *extra_args)` starts a server and stops it after the test."""
    started: list[SamrunProcess] = []

    def start(template: Path, *extra: str, ready_timeout: float = 60) -> SamrunProcess:
        """`ready_timeout`: longer for an app whose build installs a tool (esbuild) first."""
        server = start_up(template, tmp_path / ".samrun", *extra, ready_timeout=ready_timeout)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def invoke_http(
    endpoint: str,
    name: str,
    payload: object = None,
    qualifier: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], object]:
    """One Invoke over plain HTTP (no SDK retries or pools): status, headers, parsed body."""
    query = f"?Qualifier={qualifier}" if qualifier else ""
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{name}/invocations{query}",
        data=json.dumps(payload or {}).encode(),
        method="POST",
        headers=headers or {},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


def alive(pid: int) -> bool:
    """The process runs (it exists and is not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def wait_until(condition: object, timeout: float = 20, interval: float = 0.05) -> object:
    """Poll `condition()` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture(scope="session", autouse=True)
def shared_node_sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One install of the AWS SDK for JavaScript for the whole session (samrun.build installs it
    for Node.js functions): every samrun the tests start inherits SAMRUN_NODE_SDK_DIR."""
    folder = tmp_path_factory.mktemp("node-sdk") / "aws-sdk-js-v3"
    previous = os.environ.get("SAMRUN_NODE_SDK_DIR")
    os.environ["SAMRUN_NODE_SDK_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("SAMRUN_NODE_SDK_DIR", None)
    else:
        os.environ["SAMRUN_NODE_SDK_DIR"] = previous


# The execution core runs on two backends. A test module parametrises its server fixture with
# BACKENDS; items on the docker backend get the `docker` marker, and without an engine (or the
# test image: `make test-image`) they are deselected with one summary line, unless
# SAMRUN_REQUIRE_DOCKER=1 (CI), where they run and fail. `process_only` tests are not generated
# for docker (host processes, cgroup paths, host interpreters).
BACKENDS = ("process", "docker")
TEST_IMAGE = os.environ.get("SAMRUN_TEST_IMAGE", "samrun-test/python:3.11")
REQUIRE_DOCKER = os.environ.get("SAMRUN_REQUIRE_DOCKER") == "1"
_docker_note: list[str] = []


def backend_args(backend: str) -> list[str]:
    """`samrun up` flags for a backend: docker maps the runtime to the locally built image."""
    if backend == "docker":
        return ["--backend", "docker", "--image-map", f"python3.11={TEST_IMAGE}", "--skip-pull"]
    return []


@functools.cache
def docker_problem() -> str | None:
    """Why docker tests cannot run here, or None (asked in a child: a failed connection leaves
    an unclosed socket behind, which would fail the test that happens to collect it)."""
    check = (
        "import sys, docker\n"
        "try:\n    client = docker.from_env(timeout=5); client.ping()\n"
        "except Exception as exc:\n"
        "    sys.exit('no Docker engine reachable (%s)' % str(exc).splitlines()[0][:120])\n"
        "try:\n    client.images.get(sys.argv[1])\n"
        "except Exception:\n"
        "    sys.exit('the test image %s is missing (make test-image)' % sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check, TEST_IMAGE], capture_output=True, text=True, timeout=60
    )
    return done.stderr.strip().splitlines()[-1] if done.returncode else None


def on_docker(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and "docker" in callspec.params.values()


@pytest.hookimpl(tryfirst=True)  # before -m and -k select: the `docker` marker is set here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, dropped = [], []
    for item in items:
        if on_docker(item):
            if item.get_closest_marker("process_only"):
                dropped.append(item)
                continue
            item.add_marker(pytest.mark.docker)
        keep.append(item)
    docker_items = [item for item in keep if item.get_closest_marker("docker")]
    problem = docker_problem() if docker_items else None
    if problem and not REQUIRE_DOCKER:
        dropped += docker_items
        keep = [item for item in keep if item not in docker_items]
        _docker_note.append(
            f"skipped {len(docker_items)} docker tests: {problem}; "
            "SAMRUN_REQUIRE_DOCKER=1 makes this a failure"
        )
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in _docker_note:
        terminalreporter.write_line(note, yellow=True)


def shared_file(path: Path) -> Path:
    """A file a function may write (as root, functions run as an unprivileged user)."""
    path.touch()
    path.chmod(0o666)
    return path


def complete_lines(path: Path) -> list[str]:
    """The lines functions have finished writing to `path`: one still being written (no newline
    yet) is left for the next read."""
    if not path.exists():
        return []
    return [line for line in path.read_text().rpartition("\n")[0].splitlines() if line.strip()]


@pytest.fixture
def moto_endpoint() -> Iterator[str]:
    """A moto server of the test's own (samrun's moto child, with its patches), for an endpoint
    that outlives the samrun a test kills: `--aws-endpoint`, or a profile's `endpoint_url`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "samrun.aws.moto_child", "127.0.0.1", str(os.getpid())],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    process.terminate()
    process.wait(10)
    process.stdout.close()
