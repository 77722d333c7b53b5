"""The local X-Ray daemon from a container: a `Tracing: Active` function on the docker backend
sends a subsegment to AWS_XRAY_DAEMON_ADDRESS over UDP (the daemon's wire format, by hand: the
test image has no aws-xray-sdk), on the host network of a local engine and on a bridge network
(`--container-host`), and it arrives in the invocation's trace beside Lambda's segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import backend_args, invoke_http, start_up
from tests.docker.test_remote_engine import bridge_gateway
from tests.observe.test_tracing import one, wait_for_documents

HANDLER = """import json, os, secrets, socket, time


def handler(event, context):
    fields = dict(p.split("=", 1) for p in os.environ["_X_AMZN_TRACE_ID"].split(";") if "=" in p)
    now = time.time()
    document = {
        "type": "subsegment",
        "id": secrets.token_hex(8),
        "trace_id": fields["Root"],
        "parent_id": fields["Parent"],
        "name": "by-hand",
        "start_time": now,
        "end_time": now,
        "annotations": {"where": "container"},
    }
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)
    packet = json.dumps({"format": "json", "version": 1}) + "\\n" + json.dumps(document)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(packet.encode(), (host, int(port)))
    return {"trace": os.environ["_X_AMZN_TRACE_ID"], "daemon": f"{host}:{port}"}
"""
TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Resources:
  Traced:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: src/
      Tracing: Active
"""


@pytest.mark.docker
@pytest.mark.parametrize("network", ["host", "bridge"])
def test_container_sends_a_subsegment_to_the_local_daemon(tmp_path: Path, network: str) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(HANDLER)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    extra = ["--trace-sample-rate", "1", *backend_args("docker")]
    if network == "bridge":  # the daemon binds the address containers reach samrun on
        gateway = bridge_gateway()
        extra = ["--host", gateway, "--container-host", gateway, *extra]
    server = start_up(tmp_path / "template.yaml", tmp_path / ".samrun", *extra)
    try:
        status, _, body = invoke_http(server.lambda_endpoint, "Traced")
        assert status == 200, body
        assert isinstance(body, dict)
        if network == "bridge":
            assert body["daemon"].startswith(f"{gateway}:")
        root = body["trace"].split(";")[0].removeprefix("Root=")
        xray = endpoint_client(server.addresses["AWS endpoint"], "xray")
        docs = wait_for_documents(
            xray, root, ("Traced", "AWS::Lambda::Function"), ("by-hand", None)
        )
        function = one(docs, "Traced", "AWS::Lambda::Function")
        sent = one(docs, "by-hand")
        assert sent["parent_id"] == function["id"]
        assert sent["annotations"] == {"where": "container"}
    finally:
        assert server.stop() == 0
