"""Public sample apps (tests/fixtures/public/NAME, each README names its source) run as their
users run them: `samrun up`, then boto3 or curl-like HTTP against what it serves."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from samrun.runtime.environment import local_lambda_endpoint
from tests.conftest import FIXTURES, SamrunProcess
from tests.template.conftest import run_samrun

PUBLIC = FIXTURES / "public"


def test_durable_sdk_example_checkpoints_locally_despite_its_aws_lambda_endpoint(
    samrun_up: object,
) -> None:
    """The SDK's examples set AWS_ENDPOINT_URL_LAMBDA to AWS's endpoint; locally it is samrun's."""
    server: SamrunProcess = samrun_up(  # type: ignore[operator]
        PUBLIC / "durable-sdk-python-examples" / "template.json",
        "--enforce-iam",
        ready_timeout=300,  # the build pip-installs the SDK
    )
    client = server.lambda_client()
    reply = client.invoke(FunctionName="StepWithRetry", Payload=b"{}")  # type: ignore[attr-defined]
    assert reply.get("FunctionError") is None, reply["Payload"].read()
    assert json.loads(reply["Payload"].read()) == "Operation succeeded"
    arn = reply["ResponseMetadata"]["HTTPHeaders"]["x-amz-durable-execution-arn"]
    execution = client.get_durable_execution(DurableExecutionArn=arn)  # type: ignore[attr-defined]
    assert execution["Status"] == "SUCCEEDED"


def test_plan_says_the_lambda_endpoint_is_samruns() -> None:
    """Pointing the function at samrun's Lambda API is not done silently."""
    template = PUBLIC / "durable-sdk-python-examples" / "template.json"
    done = run_samrun("plan", str(template))
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "AWS_ENDPOINT_URL_LAMBDA" in line]
    assert said and said[0].startswith(f"warning: {template}:"), done.stderr


class _Origin(BaseHTTPRequestHandler):
    """The custom origin: answers with the headers that reached it."""

    def do_GET(self) -> None:
        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_sam_lambda_edge_sample_reaches_a_match_viewer_origin_over_http(
    samrun_up: object, origin: ThreadingHTTPServer
) -> None:
    """match-viewer: the viewer's protocol (HTTP here) on HTTPPort; the function's header lands."""
    port = _free_port()
    samrun_up(  # type: ignore[operator]
        PUBLIC / "sam-lambda-edge" / "template.yaml",
        "--cloudfront-port",
        f"CFDistribution={port}",
        "--parameter-overrides",
        f"OriginPort={origin.server_address[1]}",
        "EnableAliasProvisionedConcurrency=false",
    )

    # the door is up once `up` is ready: one request, as a user's curl
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/page", timeout=60) as reply:
        assert reply.status == 200
        seen = json.loads(reply.read())
    assert seen["hello"] == "world"


@pytest.mark.parametrize(
    ("written", "seen"),
    [
        ("https://lambda.us-west-2.amazonaws.com", "LOCAL"),
        ("https://lambda-fips.us-east-1.amazonaws.com/", "LOCAL"),
        ("https://lambda.cn-north-1.amazonaws.com.cn", "LOCAL"),
        ("http://127.0.0.1:9001", "http://127.0.0.1:9001"),  # a user's own endpoint is kept
        ("https://sqs.us-east-1.amazonaws.com", "https://sqs.us-east-1.amazonaws.com"),
    ],
)
def test_only_aws_own_lambda_endpoint_is_pointed_at_samrun(written: str, seen: str) -> None:
    env = local_lambda_endpoint({"AWS_ENDPOINT_URL_LAMBDA": written, "X": "1"}, "LOCAL")
    assert env == {"AWS_ENDPOINT_URL_LAMBDA": seen, "X": "1"}
