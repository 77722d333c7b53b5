"""`samrun up --otlp-endpoint`: a chain's traces arrive at an OTLP/HTTP collector as spans.

The collector is a small http.server in the test that decodes the protobuf requests with
opentelemetry-proto, as a real one (Jaeger, Tempo, the OpenTelemetry Collector) would.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from samrun.observe.otlp import OtlpExporter
from tests.conftest import FIXTURES, SamrunProcess, start_up, wait_until

TEMPLATE = FIXTURES / "otlp" / "template.yaml"
ROOT = "1-6571a3b2-0123456789abcdef01234567"  # the trace the test starts at the API


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class Collector:
    """An OTLP/HTTP receiver: POST /v1/traces, protobuf in, spans kept with their resource."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.add(self.path, request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, path: str, request: ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: value_of(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        {
                            "name": span.name,
                            "trace_id": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex() or None,
                            "kind": span.kind,
                            "status": span.status.code,
                            "attributes": {a.key: value_of(a.value) for a in span.attributes},
                            "resource": resource,
                            "start": span.start_time_unix_nano,
                            "end": span.end_time_unix_nano,
                        }
                    )
        with self._lock:
            self.paths.append(path)
            self.spans += found

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [span for span in self.spans if span["trace_id"] == trace_id]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    receiver = Collector()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def server(
    collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SamrunProcess]:
    state = tmp_path_factory.mktemp("otlp") / ".samrun"
    process = start_up(TEMPLATE, state, "--otlp-endpoint", collector.url)
    yield process
    process.stop()


def test_chain_arrives_as_spans_with_parent_links(
    server: SamrunProcess, collector: Collector
) -> None:
    server.wait_for(f"spans to {collector.url}/v1/traces \\(OTLP/HTTP\\)")  # /v1/traces added
    request = urllib.request.Request(
        f"{server.api}/chain", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Sampled=1"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.status == 200
        assert b'"doubled": 42' in response.read()

    trace_id = ROOT[2:].replace("-", "")  # as the AWS X-Ray propagator maps it
    wanted = {"checkout", "Invocation"}

    def arrived() -> list[dict[str, Any]]:
        spans = collector.of_trace(trace_id)
        names = [span["name"] for span in spans]
        complete = wanted <= set(names) and names.count("Front") == 2 and names.count("Back") == 2
        return spans if complete and any(s["name"].endswith("/Prod") for s in spans) else []

    spans: Any = wait_until(arrived, timeout=60, interval=0.2)
    assert collector.paths and set(collector.paths) == {"/v1/traces"}
    ids = {span["id"]: span for span in spans}

    def one(name: str, origin: str) -> dict[str, Any]:
        found = [
            s
            for s in spans
            if s["name"] == name and s["attributes"].get("aws.xray.origin") == origin
        ]
        assert len(found) == 1, (name, origin, spans)
        return found[0]

    stage = next(s for s in spans if s["name"].endswith("/Prod"))
    front_service, front = one("Front", "AWS::Lambda"), one("Front", "AWS::Lambda::Function")
    back_service, back = one("Back", "AWS::Lambda"), one("Back", "AWS::Lambda::Function")
    checkout = next(s for s in spans if s["name"] == "checkout")

    # the links: stage <- Front (service <- function) <- Back (service <- function); the
    # subsegment Front's code sent through the daemon hangs under Front's function segment
    assert stage["parent"] is None
    assert front_service["parent"] == stage["id"]
    assert front["parent"] == front_service["id"]
    assert back_service["parent"] == front["id"]
    assert back["parent"] == back_service["id"]
    assert checkout["parent"] == front["id"]
    assert all(s["parent"] is None or s["parent"] in ids for s in spans)

    server_kind, internal_kind = Span.SpanKind.SPAN_KIND_SERVER, Span.SpanKind.SPAN_KIND_INTERNAL
    assert {stage["kind"], front["kind"], back["kind"]} == {server_kind}
    assert checkout["kind"] == internal_kind
    assert stage["attributes"]["http.request.method"] == "GET"
    assert stage["attributes"]["http.response.status_code"] == 200

    # Lambda's semantic conventions
    assert front["attributes"]["faas.trigger"] == "http"
    assert back["attributes"]["faas.trigger"] == "other"
    assert front["attributes"]["faas.coldstart"] is True
    assert front["attributes"]["faas.invocation_id"]
    assert front["attributes"]["cloud.resource_id"].endswith(":function:Front")
    assert front["resource"]["service.name"] == "Front"
    assert front["resource"]["faas.name"] == "Front"
    assert front["resource"]["cloud.provider"] == "aws"
    assert front["resource"]["cloud.platform"] == "aws_lambda"
    assert front["resource"]["cloud.region"] == "us-east-1"
    assert back["resource"]["service.name"] == "Back"
    assert checkout["resource"]["service.name"] == "Front"  # it ran in Front
    assert checkout["attributes"]["order"] == "o-1"  # an annotation
    assert all(s["start"] <= s["end"] for s in spans)


def test_bad_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "samrun",
            "up",
            str(TEMPLATE),
            "--otlp-endpoint",
            "localhost:4318",
            "--state-dir",
            str(tmp_path / ".samrun"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--otlp-endpoint: expected an http(s) URL" in done.stderr
    assert "Traceback" not in done.stderr


def unreachable_url() -> str:
    """A loopback port nobody listens on (bound, then closed)."""
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    return f"http://127.0.0.1:{port}/v1/traces"


def test_unreachable_collector_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    """Publishing never waits for the collector; one warning, however many batches fail."""
    url = unreachable_url()
    exporter = OtlpExporter(
        url,
        region="us-east-1",
        account_id="123456789012",
        app_name="app",
        exporter=OTLPSpanExporter(endpoint=url, timeout=2),  # one retry, then it gives up
        quiet_s=0.05,
    )
    document = {
        "id": "1111111111111111",
        "trace_id": ROOT,
        "name": "Front",
        "origin": "AWS::Lambda::Function",
        "start_time": time.time() - 1,
        "end_time": time.time(),
    }
    with caplog.at_level(logging.WARNING, logger="samrun.observe.otlp"):
        for n in range(3):  # queued: the caller's thread never waits for the collector
            exporter.publish([{**document, "id": f"{n + 1:016x}"}])
        wait_until(lambda: exporter.dropped >= 1, timeout=30)
        exporter.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "samrun.observe.otlp"]
    assert len(warnings) == 1, warnings
    assert "cannot send spans to" in warnings[0] and "connection refused" in warnings[0]
    assert exporter.sent == 0 and exporter.dropped == 3


def test_close_sends_what_waits(collector: Collector) -> None:
    """On shutdown, a trace still waiting for its last documents is sent before close returns."""
    exporter = OtlpExporter(
        f"{collector.url}/v1/traces",
        region="us-east-1",
        account_id="123456789012",
        app_name="app",
        quiet_s=3600,  # nothing is ripe before close
    )
    root = "1-6571a3b2-00000000000000000000c105"
    now = time.time()
    exporter.publish(
        [
            {
                "id": "00000000000000c1",
                "trace_id": root,
                "name": "late",
                "start_time": now - 1,
                "end_time": now,
            }
        ]
    )
    exporter.close()
    assert [s["name"] for s in collector.of_trace(root[2:].replace("-", ""))] == ["late"]
    assert exporter.sent == 1
