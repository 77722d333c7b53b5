"""The Telemetry API and the older Logs API through a real `samrun up`: two external extensions
of a layer (tests/fixtures/telemetry) subscribe to `platform` and `function` events, listen on a
port of their own (`sandbox.localdomain` in their subscription) and write every batch they get
to a file. One invocation later, both hold its events in Lambda's schema; their bad, foreign and
cross-API subscription requests got Lambda's errors."""

from __future__ import annotations

import json
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from samrun.runtime import telemetry
from samrun.runtime.extensions import Extension
from tests.conftest import (
    FIXTURES,
    SamrunProcess,
    complete_lines,
    invoke_http,
    start_up,
    wait_until,
)

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
REPORT_METRICS = {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SamrunProcess, Path, str, str]]:
    """The server, the subscribers' output folder, one invocation's request id and marker."""
    root = tmp_path_factory.mktemp("telemetry")
    shutil.copytree(FIXTURES / "telemetry", root / "app")
    out = root / "out"
    out.mkdir()
    out.chmod(0o777)  # (as root, functions and their extensions run as another user)
    server = start_up(
        root / "app" / "template.yaml", root / ".samrun", "--parameter-overrides", f"OutDir={out}"
    )
    marker = uuid.uuid4().hex
    status, headers, body = invoke_http(server.lambda_endpoint, "Watched", {"marker": marker})
    assert (status, body) == (200, {"ok": True}), "\n".join(server.lines[-30:])
    yield server, out, headers["x-amzn-RequestId"], marker
    assert server.stop() == 0


def events(out: Path, name: str) -> list[dict]:
    batches = [json.loads(line) for line in complete_lines(out / f"{name}.batches")]
    assert all(isinstance(batch, list) and batch for batch in batches)  # a JSON array per POST
    return [event for batch in batches for event in batch]


def invocation(out: Path, name: str, request_id: str) -> list[dict]:
    """The subscriber's events, once it has the invocation's report."""

    def reported() -> list[dict]:
        got = events(out, name)
        done = [e for e in got if e["type"] == "platform.report"]
        return got if any(e["record"]["requestId"] == request_id for e in done) else []

    return wait_until(reported)  # type: ignore[return-value]


def test_telemetry_api_subscriber_gets_the_invocation_in_lambdas_schema(app) -> None:
    server, out, request_id, marker = app
    got = invocation(out, "telemetry-subscriber", request_id)
    assert all(set(e) == {"time", "type", "record"} and TIME.fullmatch(e["time"]) for e in got)
    kinds = [e["type"] for e in got]
    assert kinds[0] == "platform.initStart"  # from before it subscribed: kept and replayed
    init = got[0]["record"]
    assert init["initializationType"] == "on-demand" and init["phase"] == "init"
    assert init["functionName"] == "Watched" and init["functionVersion"] == "$LATEST"
    assert init["runtimeVersion"].startswith("python:3.12")
    subscribed = next(e for e in got if e["type"] == "platform.telemetrySubscription")
    assert subscribed["record"] == {
        "name": "telemetry-subscriber",
        "state": "Subscribed",
        "types": ["function", "platform"],
    }
    ready = next(e["record"] for e in got if e["type"] == "platform.initRuntimeDone")
    assert ready == {"initializationType": "on-demand", "phase": "init", "status": "success"}
    init_report = next(e["record"] for e in got if e["type"] == "platform.initReport")
    assert init_report["status"] == "success" and init_report["metrics"]["durationMs"] > 0
    assert "platform.logsSubscription" not in kinds  # the Logs API's, not ours
    ours = [e for e in got if e["type"] == "function" or e["record"].get("requestId") == request_id]
    assert [e["type"] for e in ours] == [
        "platform.start",
        "function",
        "platform.runtimeDone",
        "platform.report",
    ], ours
    start, line, done, report = (e["record"] for e in ours)
    assert start["version"] == "$LATEST"
    assert start["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert start["tracing"]["value"].startswith("Root=1-")
    assert line == f"function line {marker}"  # a text log line: a string record
    assert done["status"] == "success" and done["tracing"] == start["tracing"]
    assert set(done["metrics"]) == {"durationMs", "producedBytes"}
    assert done["metrics"]["producedBytes"] == len(b'{"ok": true}')
    assert [span["name"] for span in done["spans"]] == ["responseLatency", "responseDuration"]
    assert report["status"] == "success"
    assert set(report["metrics"]) == REPORT_METRICS | {"initDurationMs"}  # a cold start
    assert report["metrics"]["memorySizeMB"] == 128
    assert report["metrics"]["billedDurationMs"] >= report["metrics"]["durationMs"]
    assert report["metrics"]["durationMs"] >= done["metrics"]["durationMs"]
    # the same lines reach the function's log as well
    assert any(line.endswith(f"function line {marker}") for line in server.lines)


def test_logs_api_subscriber_gets_the_invocation_in_its_own_schema(app) -> None:
    _, out, request_id, marker = app
    got = invocation(out, "logs-subscriber", request_id)
    kinds = [e["type"] for e in got]
    assert not [kind for kind in kinds if kind.startswith("platform.init")]  # none on this API
    subscribed = next(e for e in got if e["type"] == "platform.logsSubscription")
    assert subscribed["record"]["name"] == "logs-subscriber"
    ours = [e for e in got if e["type"] == "function" or e["record"].get("requestId") == request_id]
    assert [e["type"] for e in ours] == [
        "platform.start",
        "function",
        "platform.runtimeDone",  # schema 2021-03-18
        "platform.end",
        "platform.report",
    ], ours
    start, line, done, end, report = (e["record"] for e in ours)
    assert start == {"requestId": request_id, "version": "$LATEST"}
    assert line == f"function line {marker}"
    assert done == {"requestId": request_id, "status": "success"}
    assert end == {"requestId": request_id}
    assert set(report) == {"requestId", "metrics"}
    assert set(report["metrics"]) == REPORT_METRICS | {"initDurationMs"}


def test_bad_foreign_and_cross_api_subscriptions_get_lambdas_errors(app) -> None:
    _, out, request_id, _ = app
    invocation(out, "logs-subscriber", request_id)  # (both have answered by now)
    for name, own in (("telemetry-subscriber", "Telemetry"), ("logs-subscriber", "Logs")):
        answers = {
            a["request"]: a for a in map(json.loads, complete_lines(out / f"{name}.answers"))
        }
        assert answers["ok"]["status"] == 200 and answers["ok"]["body"] == "OK"
        bad = answers["bad"]
        assert bad["status"] == 400
        error = json.loads(bad["body"])
        assert error["errorType"] == "ValidationError"
        for problem in ("types should not be empty", "URI port is not provided", "timeoutMs"):
            assert problem in error["errorMessage"], error
        crossed = answers["other"]
        assert crossed["status"] == 400
        assert json.loads(crossed["body"])["errorType"] == "ValidationError"
        assert f"subscribed with the {own} API" in json.loads(crossed["body"])["errorMessage"]
        stranger = answers["stranger"]
        assert stranger["status"] == 403
        assert json.loads(stranger["body"])["errorType"] == "Extension.UnknownExtensionIdentifier"


def test_subscription_requests_are_validated_as_lambda_does() -> None:
    """The request rules (pure): defaults, limits per API, and every problem in one message."""
    good = {
        "schemaVersion": "2022-12-13",
        "types": ["platform"],
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/in"},
    }
    request = telemetry.parse_request(telemetry.TELEMETRY, json.dumps(good).encode())
    assert (request.max_items, request.max_bytes, request.timeout_ms) == (1000, 262144, 100)
    assert (request.port, request.path) == (4243, "/in")
    logs = telemetry.parse_request(
        telemetry.LOGS, json.dumps({**good, "schemaVersion": None}).encode()
    )
    assert (logs.max_items, logs.timeout_ms) == (10_000, 1000)
    with pytest.raises(telemetry.SubscriptionError) as caught:
        telemetry.parse_request(
            telemetry.TELEMETRY,
            json.dumps(
                {**good, "schemaVersion": "2020-01-01", "buffering": {"maxItems": 5}}
            ).encode(),
        )
    assert caught.value.status == 400 and caught.value.error_type == "ValidationError"
    assert "schemaVersion" in str(caught.value) and "maxItems" in str(caught.value)
    with pytest.raises(telemetry.SubscriptionError):
        telemetry.parse_request(telemetry.TELEMETRY, b"not json")


async def test_batches_follow_max_items_and_flush_delivers_the_rest() -> None:
    """Buffering against a real listener on loopback: full batches go at once, the rest with
    `flush` (as at shutdown), in order, each a JSON array."""
    batches: list[list[dict]] = []

    async def receive(request: web.Request) -> web.Response:
        batches.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/in", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    hub = telemetry.Telemetry()
    body = {
        "schemaVersion": "2022-12-13",
        "types": ["function"],
        "buffering": {"maxItems": 25, "timeoutMs": 30_000},
        "destination": {"protocol": "HTTP", "URI": f"http://sandbox.localdomain:{port}/in"},
    }
    try:
        hub.subscribe(telemetry.TELEMETRY, Extension(name="ext"), json.dumps(body).encode())
        hub.init_done()
        for n in range(60):
            hub.function_line(f"line {n}")
        await hub.flush()
    finally:
        await hub.close()
        await runner.cleanup()
    assert [len(batch) for batch in batches] == [25, 25, 10]
    lines = [event["record"] for batch in batches for event in batch]
    assert lines == [f"line {n}" for n in range(60)]
