"""Traces that continue past the services in front of Lambda, read back with boto3's X-Ray
client on the embedded endpoint: a traced put_object, publish and put_events (their
X-Amzn-Trace-Id → the message's AWSTraceHeader → the function's segments), and a traced state
machine's execution with a Lambda task (tests/fixtures/tracing_pushes)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.aws.helpers import endpoint_client
from tests.conftest import FIXTURES, SamrunProcess, start_up, wait_until
from tests.observe.test_tracing import flatten, new_header, one, wait_for_documents


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    folder = tmp_path_factory.mktemp("tracing-pushes")
    shutil.copytree(FIXTURES / "tracing_pushes", folder / "app")
    process = start_up(folder / "app" / "template.yaml", folder / ".samrun")
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def url(server: SamrunProcess) -> str:
    return server.addresses["AWS endpoint"]


def traced(client: Any, header: str) -> Any:
    """`client` with `header` as the X-Amzn-Trace-Id of each call, as an instrumented SDK sends
    it."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register("before-send", add_header)
    return client


def root_of(header: str) -> str:
    return header.split(";")[0].removeprefix("Root=")


def assert_continued(xray: Any, header: str, function: str) -> None:
    """The function's AWS::Lambda and AWS::Lambda::Function segments are in the caller's trace,
    the service segment under the caller's segment."""
    docs = wait_for_documents(
        xray, root_of(header), (function, "AWS::Lambda"), (function, "AWS::Lambda::Function")
    )
    service = one(docs, function, "AWS::Lambda")
    segment = one(docs, function, "AWS::Lambda::Function")
    assert segment["parent_id"] == service["id"]
    assert service["parent_id"] == header.split("Parent=")[1].split(";")[0]
    assert f":function:{function}" in service["aws"]["function_arn"]
    assert "Invocation" in {s["name"] for s in segment["subsegments"]}


def caller_header() -> str:
    root, _, sampled = new_header().partition(";")
    return f"{root};Parent={'ab' * 8};{sampled}"


def test_push_triggers_continue_the_callers_trace(url: str) -> None:
    xray = endpoint_client(url, "xray")
    uploaded, published, put = caller_header(), caller_header(), caller_header()
    traced(endpoint_client(url, "s3"), uploaded).put_object(
        Bucket="traced-uploads", Key="a.txt", Body=b"x"
    )
    sns = traced(endpoint_client(url, "sns"), published)
    topic = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if "traced-alerts" in t["TopicArn"]
    )
    sns.publish(TopicArn=topic, Message="hello")
    traced(endpoint_client(url, "events"), put).put_events(
        Entries=[
            {
                "Source": "shop.orders",
                "DetailType": "order",
                "Detail": json.dumps({"id": "o-1"}),
                "EventBusName": "traced-bus",
            }
        ]
    )
    assert_continued(xray, uploaded, "OnUpload")
    assert_continued(xray, published, "OnAlert")
    assert_continued(xray, put, "OnOrder")


def test_state_machine_execution_is_one_trace_with_its_lambda_task(url: str) -> None:
    xray = endpoint_client(url, "xray")
    sfn = endpoint_client(url, "stepfunctions")
    (machine,) = [
        m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "traced-flow"
    ]
    arn = machine["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["tracingConfiguration"] == {
        "enabled": True
    }
    header = caller_header()
    execution = traced(endpoint_client(url, "stepfunctions"), header).start_execution(
        stateMachineArn=arn, input="{}"
    )["executionArn"]
    done = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        timeout=60,
    )
    assert done["status"] == "SUCCEEDED", done  # type: ignore[index]
    root = root_of(header)
    assert json.loads(done["output"])["trace"].startswith(f"Root={root};")  # type: ignore[index]

    docs = wait_for_documents(
        xray,
        root,
        ("traced-flow", "AWS::StepFunctions::StateMachine"),
        ("Worker", "AWS::Lambda"),
        ("Worker", "AWS::Lambda::Function"),
    )
    machine_segment = one(docs, "traced-flow", "AWS::StepFunctions::StateMachine")
    assert machine_segment["parent_id"] == header.split("Parent=")[1].split(";")[0]
    assert machine_segment["aws"]["execution_arn"] == execution
    states = {s["name"]: s for s in machine_segment["subsegments"]}
    assert list(states) == ["Prepare", "Work"]
    (call,) = states["Work"]["subsegments"]
    assert (call["name"], call["namespace"]) == ("Lambda", "aws")
    service = one(docs, "Worker", "AWS::Lambda")
    assert service["parent_id"] == call["id"]
    assert one(docs, "Worker", "AWS::Lambda::Function")["parent_id"] == service["id"]
    ids = {d["id"] for d in flatten(docs)}
    assert all(d.get("parent_id") in ids for d in docs if d is not machine_segment)
