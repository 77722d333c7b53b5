"""Tenant isolation (`TenancyConfig: TenantIsolationMode: PER_TENANT`): each invocation carries
a tenant id (boto3's `TenantId`, the `X-Amz-Tenant-Id` header), no instance ever serves two
tenants, the function sees its caller's tenant; a call without one is refused as Lambda refuses
it. And a function on Lambda Managed Instances (`CapacityProviderConfig`) runs as an ordinary
one, with one startup line saying what samrun does not reproduce of that mode.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from samrun.invoke.event_store import FILE_NAME, SCHEMA, EventStore
from tests.conftest import SamrunProcess, invoke_http, start_up

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

PYTHON = """
import os

mark = None


def handler(event, context):
    global mark
    before = mark
    if event.get("mark"):
        mark = event["mark"]
    print(f"serving tenant {context.tenant_id}")
    return {"pid": os.getpid(), "tenant": context.tenant_id, "before": before}
"""

NODE = """
exports.handler = async (event, context) => ({ pid: process.pid, tenant: context.tenantId });
"""

TEMPLATE = """Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: src/
    Runtime: python3.11
    Handler: app.handler
Resources:
  Isolated:
    Type: AWS::Serverless::Function
    Properties:
      TenancyConfig: {TenantIsolationMode: PER_TENANT}
  NodeIsolated:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      TenancyConfig: {TenantIsolationMode: PER_TENANT}
  Shared:
    Type: AWS::Serverless::Function
  Managed:
    Type: AWS::Serverless::Function
    Properties:
      CapacityProviderConfig:
        Arn: arn:aws:lambda:us-east-1:123456789012:capacity-provider:local
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    folder = tmp_path_factory.mktemp("tenancy")
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text(PYTHON)
    (folder / "src" / "index.js").write_text(NODE)
    (folder / "template.yaml").write_text(TEMPLATE)
    process = start_up(folder / "template.yaml", folder / ".samrun")
    yield process
    process.stop()


def call(server: SamrunProcess, name: str, tenant: str | None, payload: object = None) -> Any:
    headers = {"X-Amz-Tenant-Id": tenant} if tenant else {}
    status, _, body = invoke_http(server.lambda_endpoint, name, payload, headers=headers)
    assert status == 200, body
    return body


def test_two_tenants_calling_in_turn_never_share_an_instance(server: SamrunProcess) -> None:
    blue = call(server, "Isolated", "blue", {"mark": "blue's"})
    green = call(server, "Isolated", "green")
    assert blue["pid"] != green["pid"]
    assert green["before"] is None  # blue's module-level value is not in green's instance
    again = call(server, "Isolated", "blue")
    assert again["pid"] == blue["pid"] and again["before"] == "blue's"  # blue's warm instance
    green = call(server, "Isolated", "green", {"mark": "green's"})
    assert call(server, "Isolated", "blue")["before"] == "blue's"
    assert (blue["tenant"], green["tenant"]) == ("blue", "green")  # context.tenant_id


def test_boto3_tenant_id_reaches_the_python_and_node_contexts(server: SamrunProcess) -> None:
    client: Any = server.lambda_client()
    for name in ("Isolated", "NodeIsolated"):
        reply = client.invoke(FunctionName=name, Payload=b"{}", TenantId="red")
        assert "FunctionError" not in reply
        assert reply["StatusCode"] == 200
        body = json.loads(reply["Payload"].read())
        assert body["tenant"] == "red"
    other = client.invoke(FunctionName="NodeIsolated", Payload=b"{}", TenantId="blue")
    assert json.loads(other["Payload"].read())["pid"] != body["pid"]
    queued = client.invoke(FunctionName="Isolated", InvocationType="Event", TenantId="violet")
    assert queued["StatusCode"] == 202  # the tenant survives the durable async queue
    server.wait_for(r"Isolated \| .*serving tenant violet")


def test_a_call_without_a_tenant_id_is_refused_as_lambda_refuses_it(
    server: SamrunProcess,
) -> None:
    client: Any = server.lambda_client()
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        client.invoke(FunctionName="Isolated", Payload=b"{}")
    error = raised.value.response
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "tenant" in error["Error"]["Message"].lower()
    with pytest.raises(botocore.exceptions.ClientError) as raised:  # and the other way round
        client.invoke(FunctionName="Shared", Payload=b"{}", TenantId="blue")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert call(server, "Shared", None)["tenant"] is None


def test_a_managed_instances_function_runs_as_an_ordinary_one_and_says_so(
    server: SamrunProcess,
) -> None:
    line = server.wait_for(r"Managed\.CapacityProviderConfig").string
    assert "Lambda Managed Instances" in line
    assert call(server, "Managed", None)["pid"] > 0


def test_an_older_async_queue_keeps_its_events_and_gains_the_tenant(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / FILE_NAME)
    old.executescript(SCHEMA.replace(",\n    tenant_id TEXT", ""))
    old.execute(
        "INSERT INTO events (request_id, function, qualifier, payload, enqueued_at, due_at)"
        " VALUES ('r1', 'Isolated', '$LATEST', x'7b7d', 1, 1)"
    )
    old.commit()
    old.close()
    store = EventStore(tmp_path)
    try:
        (kept,) = store.open()
        assert (kept.request_id, kept.tenant_id) == ("r1", None)
        store.apply([("insert", dataclasses.replace(kept, request_id="r2", tenant_id="blue"))])
        store.close()
        assert [e.tenant_id for e in store.open()] == [None, "blue"]
    finally:
        store.close()
        store.executor.shutdown()


def test_samrun_invoke_takes_a_tenant_id(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(PYTHON)
    (tmp_path / "src" / "index.js").write_text(NODE)
    (tmp_path / "template.yaml").write_text(TEMPLATE)

    def invoke(*extra: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "samrun", "invoke", "Isolated", *extra]
        command += ["--state-dir", str(tmp_path / ".samrun")]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    served = invoke("--tenant-id", "blue")
    assert served.returncode == 0, served.stderr
    assert json.loads(served.stdout)["tenant"] == "blue"
    refused = invoke()
    assert refused.returncode != 0
    assert "must specify a tenant ID" in refused.stderr
    assert "Traceback" not in refused.stderr
