"""X-Ray tracing of a running `samrun up`, read back as users read it: boto3's X-Ray client on
the embedded endpoint (batch_get_traces, get_trace_summaries) and `samrun traces`.

tests/fixtures/tracing: API (TracingEnabled) -> Front (aws-xray-sdk: an annotated subsegment,
a DynamoDB put, a Lambda invoke) -> Middle (Powertools' Tracer, an SQS send) -> Back (the
queue's mapping); and functions that fail, time out and are throttled."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import FIXTURES, SamrunProcess, invoke_http, start_up, wait_until


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tracing")
    shutil.copytree(FIXTURES / "tracing", folder / "app")
    return folder


@pytest.fixture(scope="module")
def server(app_dir: Path):
    process = start_up(
        app_dir / "app" / "template.yaml",
        app_dir / ".samrun",
        "--trace-sample-rate",
        "1",
        ready_timeout=240,  # the build installs aws-xray-sdk and Powertools
    )
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def xray(server: SamrunProcess) -> Any:
    url = server.wait_for(r"AWS endpoint on (http://\S+)").group(1)
    return endpoint_client(url, "xray")


def flatten(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every segment and subsegment of a trace, nested ones included."""
    found: list[dict[str, Any]] = []

    def walk(doc: dict[str, Any]) -> None:
        found.append(doc)
        for sub in doc.get("subsegments") or ():
            walk(sub)

    for doc in documents:
        walk(doc)
    return found


def trace_documents(xray: Any, trace_id: str) -> list[dict[str, Any]]:
    traces = xray.batch_get_traces(TraceIds=[trace_id])["Traces"]
    return [json.loads(s["Document"]) for t in traces for s in t["Segments"]]


def wait_for_documents(xray: Any, trace_id: str, *wanted: tuple[str, str]) -> list[dict]:
    """The trace's documents once it has a top-level document of each (name, origin)."""

    def complete() -> list[dict] | None:
        docs = trace_documents(xray, trace_id)
        have = {(d.get("name"), d.get("origin")) for d in docs}
        return docs if all(w in have for w in wanted) else None

    return wait_until(complete, timeout=60, interval=0.2)  # type: ignore[return-value]


def one(docs: list[dict[str, Any]], name: str, origin: str | None = None) -> dict[str, Any]:
    found = [
        d for d in docs if d.get("name") == name and (origin is None or d.get("origin") == origin)
    ]
    assert len(found) == 1, (name, origin, [(d.get("name"), d.get("origin")) for d in docs])
    return found[0]


def new_header() -> str:
    return f"Root=1-{int(time.time()):08x}-{random.getrandbits(96):024x};Sampled=1"


def test_chain_is_one_trace_with_lambda_and_sdk_segments(
    server: SamrunProcess, xray: Any, app_dir: Path
) -> None:
    with urllib.request.urlopen(f"{server.api}/chain", timeout=120) as reply:
        body = json.loads(reply.read())
    root = body["trace"].split(";")[0].removeprefix("Root=")
    assert body["trace"].endswith("Sampled=1") and body["middle"]["trace"].startswith(
        f"Root={root};"
    )

    docs = wait_for_documents(
        xray,
        root,
        ("Back", "AWS::Lambda::Function"),
        ("Front", "AWS::Lambda::Function"),
        ("Middle", "AWS::Lambda::Function"),
        ("work", None),
        ("## handler", None),
    )
    assert {d["trace_id"] for d in docs} == {root}
    every = flatten(docs)
    ids = {d["id"] for d in every}
    parents = [d for d in docs if d.get("parent_id")]
    assert all(d["parent_id"] in ids for d in parents), "a parent id outside the trace"

    stage = one(docs, "serverless/Prod", "AWS::ApiGateway::Stage")
    assert "parent_id" not in stage and stage["http"]["response"]["status"] == 200
    front = one(docs, "Front", "AWS::Lambda")
    front_fn = one(docs, "Front", "AWS::Lambda::Function")
    assert front["parent_id"] == stage["id"] and front_fn["parent_id"] == front["id"]
    names = [s["name"] for s in front_fn["subsegments"]]
    assert names == ["Initialization", "Invocation", "Overhead"]  # its cold start
    assert front_fn["aws"]["cold_start"] is True
    # aws-xray-sdk: the annotated subsegment and its DynamoDB call, under Lambda's segment
    work = one(docs, "work")
    assert work["parent_id"] == front_fn["id"] and work["annotations"] == {"order": "o-42"}
    dynamodb = one(docs, "dynamodb")
    assert dynamodb["parent_id"] == work["id"] and dynamodb["aws"]["operation"] == "PutItem"
    # Front -> (SDK) Middle: Middle's service segment hangs under Front's Lambda call
    call = one(docs, "lambda")
    assert call["parent_id"] == front_fn["id"]
    middle = one(docs, "Middle", "AWS::Lambda")
    middle_fn = one(docs, "Middle", "AWS::Lambda::Function")
    assert middle["parent_id"] == call["id"] and middle_fn["parent_id"] == middle["id"]
    handler = one(docs, "## handler")  # Powertools' Tracer
    assert handler["parent_id"] == middle_fn["id"]
    assert handler["annotations"]["stage"] == "middle"
    # Middle -> SQS -> Back: the trace goes on from the message's AWSTraceHeader
    sqs = one(docs, "sqs")
    back = one(docs, "Back", "AWS::Lambda")
    assert sqs["parent_id"] == handler["id"] and back["parent_id"] == sqs["id"]
    assert one(docs, "Back", "AWS::Lambda::Function")["parent_id"] == back["id"]

    start = datetime.now(UTC) - timedelta(minutes=10)
    summaries = xray.get_trace_summaries(StartTime=start, EndTime=start + timedelta(minutes=20))
    assert root in {s["Id"] for s in summaries["TraceSummaries"]}

    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "samrun",
            "traces",
            "--id",
            root,
            "--state-dir",
            str(app_dir / ".samrun"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"Trace {root}")
    for expected in (
        "serverless/Prod (AWS::ApiGateway::Stage)",
        "Back (AWS::Lambda::Function)",
        "## handler",
    ):
        assert any(expected in line for line in lines), shown.stdout
    assert any("Initialization" in line and "COLD START" in line for line in lines)
    # nesting: Back's function segment is drawn deeper than the stage's
    depth = {
        n: next(len(line) - len(line.lstrip()) for line in lines if n in line)
        for n in ("serverless/Prod", "Back (AWS::Lambda::Function)")
    }
    assert depth["Back (AWS::Lambda::Function)"] > depth["serverless/Prod"]


def test_errors_timeouts_and_throttles_are_marked(server: SamrunProcess, xray: Any) -> None:
    headers = {name: new_header() for name in ("Failing", "Slow", "Closed")}
    status, _, failed = invoke_http(
        server.lambda_endpoint, "Failing", headers={"X-Amzn-Trace-Id": headers["Failing"]}
    )
    assert status == 200 and failed["errorType"] == "ValueError"
    status, _, _ = invoke_http(
        server.lambda_endpoint, "Slow", headers={"X-Amzn-Trace-Id": headers["Slow"]}
    )
    assert status == 200
    status, _, _ = invoke_http(
        server.lambda_endpoint, "Closed", headers={"X-Amzn-Trace-Id": headers["Closed"]}
    )
    assert status == 429
    roots = {name: h.split(";")[0].removeprefix("Root=") for name, h in headers.items()}

    failing = wait_for_documents(xray, roots["Failing"], ("Failing", "AWS::Lambda::Function"))
    segment = one(failing, "Failing", "AWS::Lambda::Function")
    assert segment["error"] is True and "fault" not in segment
    assert segment["cause"]["exceptions"][0] == {
        "type": "ValueError",
        "message": "failed on purpose",
    }
    assert "parent_id" not in one(failing, "Failing", "AWS::Lambda")  # the caller had no segment

    slow = wait_for_documents(xray, roots["Slow"], ("Slow", "AWS::Lambda::Function"))
    segment = one(slow, "Slow", "AWS::Lambda::Function")
    assert segment["fault"] is True
    assert segment["cause"]["exceptions"][0]["type"] == "Sandbox.Timedout"

    closed = wait_for_documents(xray, roots["Closed"], ("Closed", "AWS::Lambda"))
    service = one(closed, "Closed", "AWS::Lambda")
    assert service["throttle"] is True and service["error"] is True
    assert service["http"]["response"]["status"] == 429
    assert not [d for d in closed if d.get("origin") == "AWS::Lambda::Function"]  # never ran


def test_async_invocation_shows_its_dwell_time_and_attempt(
    server: SamrunProcess, xray: Any
) -> None:
    header = new_header()
    status, _, _ = invoke_http(
        server.lambda_endpoint,
        "Back",
        {"Records": []},
        headers={"X-Amzn-Trace-Id": header, "X-Amz-Invocation-Type": "Event"},
    )
    assert status == 202
    root = header.split(";")[0].removeprefix("Root=")
    docs = wait_for_documents(xray, root, ("Back", "AWS::Lambda::Function"))
    service = one(docs, "Back", "AWS::Lambda")
    dwell, attempt = service["subsegments"]
    assert dwell["name"] == "Dwell Time" and attempt["name"] == "Attempt #1"
    assert dwell["end_time"] <= attempt["start_time"] + 1e-6


def test_header_parsing_and_default_sampling() -> None:
    """Pure: the header's fields, and Lambda's default rule (1 a second, then 5 %)."""
    from samrun.invoke.tracing import Sampler, parse

    assert parse("Root=1-5-a;Parent=b;Sampled=1;Lineage=c:1") == {
        "Root": "1-5-a",
        "Parent": "b",
        "Sampled": "1",
        "Lineage": "c:1",
    }
    sampler = Sampler(ids=random.Random(7))
    taken = sum(sampler.sample(1000.5) for _ in range(2000))
    assert 1 + 50 <= taken <= 1 + 170  # the reservoir's one, then about 5 % of 1999
    assert sampler.sample(1001.0)  # a new second: the reservoir again
    assert all(Sampler(1.0).sample(0) for _ in range(100))
