"""Concurrency, provisioned concurrency, versions, aliases and deployments on `samrun up`."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    BACKENDS,
    FIXTURES,
    SamrunProcess,
    backend_args,
    invoke_http,
    start_up,
    wait_until,
)

TIME_SCALE = "150"  # Canary10Percent5Minutes: 2 s of canary


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory, backend: str) -> Path:
    folder = tmp_path_factory.mktemp(f"concurrency-{backend}")
    shutil.copytree(FIXTURES / "functions" / "versioned", folder / "code")
    shutil.copy(FIXTURES / "templates" / "concurrency.yaml", folder / "template.yaml")
    return folder


@pytest.fixture(scope="module")
def server(app_dir: Path, backend: str):
    process = start_up(
        app_dir / "template.yaml",
        app_dir / ".samrun",
        "--max-sandboxes",
        "40",
        "--time-scale",
        TIME_SCALE,
        *backend_args(backend),
    )
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="module")
def client(server: SamrunProcess):
    return server.lambda_client()


def rewrite(app_dir: Path, revision: str, fail: bool = False) -> None:
    source = (app_dir / "code" / "app.py").read_text()
    lines = [
        f'REVISION = "{revision}"'
        if line.startswith("REVISION =")
        else f"FAIL = {fail}"
        if line.startswith("FAIL =")
        else line
        for line in source.splitlines()
    ]
    (app_dir / "code" / "app.py").write_text("\n".join(lines) + "\n")


def test_reserved_concurrency_throttles_exactly_the_excess(server: SamrunProcess) -> None:
    with ThreadPoolExecutor(50) as pool:
        replies = list(
            pool.map(
                lambda _: invoke_http(server.lambda_endpoint, "Reserved", {"sleep": 2}), range(50)
            )
        )
    statuses = [status for status, _, _ in replies]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 45
    throttled = next(body for status, _, body in replies if status == 429)
    assert throttled["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert next(h for s, h, _ in replies if s == 429)["x-amzn-ErrorType"].startswith(
        "TooManyRequestsException"
    )


def test_reserved_zero_throttles_every_invocation(client) -> None:
    for _ in range(3):
        with pytest.raises(ClientError) as caught:
            client.invoke(FunctionName="Blocked", Payload=b"{}")
        assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_function_concurrency_api_takes_effect_at_once(server: SamrunProcess, client) -> None:
    assert (
        client.get_function_concurrency(FunctionName="Reserved")["ReservedConcurrentExecutions"]
        == 5
    )
    client.put_function_concurrency(FunctionName="Open", ReservedConcurrentExecutions=1)
    assert client.get_function_concurrency(FunctionName="Open")["ReservedConcurrentExecutions"] == 1
    settings = client.get_account_settings()["AccountLimit"]
    assert settings["ConcurrentExecutions"] == 1000
    assert settings["UnreservedConcurrentExecutions"] == 1000 - 5 - 0 - 1
    with ThreadPoolExecutor(3) as pool:
        statuses = sorted(
            pool.map(
                lambda _: invoke_http(server.lambda_endpoint, "Open", {"sleep": 2})[0], range(3)
            )
        )
    assert statuses == [200, 429, 429]
    client.delete_function_concurrency(FunctionName="Open")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName="Open"
    )
    with ThreadPoolExecutor(3) as pool:
        statuses = list(
            pool.map(
                lambda _: invoke_http(server.lambda_endpoint, "Open", {"sleep": 0.5})[0], range(3)
            )
        )
    assert statuses == [200, 200, 200]
    with pytest.raises(ClientError) as caught:
        client.put_function_concurrency(FunctionName="Open", ReservedConcurrentExecutions=950)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_provisioned_instances_answer_without_a_cold_start(client) -> None:
    config = client.get_provisioned_concurrency_config(FunctionName="Provisioned", Qualifier="live")
    assert config["Status"] == "READY"
    assert config["AllocatedProvisionedConcurrentExecutions"] == 2
    response = client.invoke(
        FunctionName="Provisioned", Qualifier="live", Payload=b"{}", LogType="Tail"
    )
    body = json.loads(response["Payload"].read())
    assert body["init"] == "provisioned-concurrency"
    assert body["version"] == "1" and response["ExecutedVersion"] == "1"
    report = base64.b64decode(response["LogResult"]).decode().splitlines()[-1]
    assert report.startswith("REPORT") and "Init Duration" not in report


def test_traffic_beyond_provisioned_spills_to_on_demand(server: SamrunProcess) -> None:
    with ThreadPoolExecutor(3) as pool:
        bodies = list(
            pool.map(
                lambda _: invoke_http(
                    server.lambda_endpoint, "Provisioned", {"sleep": 2}, qualifier="live"
                )[2],
                range(3),
            )
        )
    kinds = sorted(body["init"] for body in bodies)
    assert kinds == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]


def test_provisioned_config_api(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.put_provisioned_concurrency_config(
            FunctionName="Open", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as caught:
        client.get_provisioned_concurrency_config(FunctionName="Canary", Qualifier="live")
    assert caught.value.response["Error"]["Code"] == (
        "ProvisionedConcurrencyConfigNotFoundException"
    )


def test_versions_are_snapshots(app_dir: Path, client) -> None:
    unchanged = client.publish_version(FunctionName="Provisioned")
    assert unchanged["Version"] == "1"  # nothing changed since the template's version 1
    rewrite(app_dir, "two")
    try:
        second = client.publish_version(FunctionName="Provisioned", Description="second")
        assert second["Version"] == "2" and second["Description"] == "second"
        again = client.publish_version(FunctionName="Provisioned")
        assert again["Version"] == "2"
        rewrite(app_dir, "three")
        revisions = {
            qualifier: json.loads(
                client.invoke(FunctionName="Provisioned", Qualifier=qualifier, Payload=b"{}")[
                    "Payload"
                ].read()
            )["revision"]
            for qualifier in ("1", "2", "$LATEST")
        }
        assert revisions == {"1": "one", "2": "two", "$LATEST": "three"}
        listed = client.list_versions_by_function(FunctionName="Provisioned")["Versions"]
        assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
        assert listed[1]["CodeSha256"] != listed[2]["CodeSha256"]
    finally:
        rewrite(app_dir, "one")


def test_alias_weights_from_the_aws_cli(server: SamrunProcess, app_dir: Path, client) -> None:
    rewrite(app_dir, "weighted")
    try:
        client.publish_version(FunctionName="Open")  # version 1
        rewrite(app_dir, "weighted-2")
        assert client.publish_version(FunctionName="Open")["Version"] == "2"
    finally:
        rewrite(app_dir, "one")
    client.create_alias(FunctionName="Open", Name="prod", FunctionVersion="1")
    aws = Path(sys.executable).with_name("aws")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    result = subprocess.run(
        [
            str(aws),
            "lambda",
            "update-alias",
            "--function-name",
            "Open",
            "--name",
            "prod",
            "--routing-config",
            '{"AdditionalVersionWeights": {"2": 0.05}}',
            "--endpoint-url",
            server.lambda_endpoint,
        ],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.05}}
    executed = [
        invoke_http(server.lambda_endpoint, "Open", qualifier="prod")[1]["X-Amz-Executed-Version"]
        for _ in range(4000)
    ]
    assert set(executed) == {"1", "2"}
    # 99.9 % binomial interval of 5 % of 4,000: 200 +- 3.29 * sqrt(4000 * 0.05 * 0.95)
    assert 155 <= executed.count("2") <= 245


def test_alias_checks(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.create_alias(
            FunctionName="Canary",
            Name="bad",
            FunctionVersion="$LATEST",
            RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as caught:
        client.create_alias(FunctionName="Canary", Name="ghost", FunctionVersion="9")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    client.create_alias(FunctionName="Canary", Name="temp", FunctionVersion="1")
    assert [a["Name"] for a in client.list_aliases(FunctionName="Canary")["Aliases"]] == [
        "live",
        "temp",
    ]
    client.delete_alias(FunctionName="Canary", Name="temp")
    with pytest.raises(ClientError) as caught:
        client.get_alias(FunctionName="Canary", Name="temp")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def deploy(server: SamrunProcess, function: str) -> dict:
    import urllib.request

    request = urllib.request.Request(
        f"{server.lambda_endpoint}/_samrun/functions/{function}/deploy", method="POST", data=b""
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_canary_deployment_completes(server: SamrunProcess, app_dir: Path, client) -> None:
    rewrite(app_dir, "canary-good")
    try:
        start = len(server.lines)
        result = deploy(server, "Canary")
    finally:
        rewrite(app_dir, "one")
    assert result["Status"] == "Succeeded"
    server.wait_for(r"deployment d-\w+ of Canary:live: 10% of traffic on version 2", start=start)
    server.wait_for(r"deployment d-\w+ of Canary:live: succeeded", start=start)
    assert client.get_alias(FunctionName="Canary", Name="live")["FunctionVersion"] == "2"
    body = invoke_http(server.lambda_endpoint, "Canary", qualifier="live")[2]
    assert body["revision"] == "canary-good"


def test_failing_canary_rolls_back(server: SamrunProcess, app_dir: Path, client) -> None:
    before = client.get_alias(FunctionName="Canary", Name="live")["FunctionVersion"]
    rewrite(app_dir, "canary-bad", fail=True)
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            invoke_http(server.lambda_endpoint, "Canary", qualifier="live")

    workers = [threading.Thread(target=traffic) for _ in range(2)]
    try:
        for worker in workers:
            worker.start()
        result = deploy(server, "Canary")
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
        rewrite(app_dir, "one")
    assert result["Status"] == "RolledBack"
    alias = client.get_alias(FunctionName="Canary", Name="live")
    assert alias["FunctionVersion"] == before and "RoutingConfig" not in alias
    wait_until(lambda: any("rolled back to version" in line for line in server.lines))


def state(server: SamrunProcess) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=30) as reply:
        return json.loads(reply.read())


def test_async_throttles_are_delivered_later_not_dropped(server: SamrunProcess, client) -> None:
    before = state(server)["async"]
    start = len(server.lines)
    for n in range(12):
        accepted = client.invoke(
            FunctionName="Reserved",
            InvocationType="Event",
            Payload=json.dumps({"sleep": 1, "n": n}),
        )
        assert accepted["StatusCode"] == 202
    wait_until(lambda: state(server)["async"]["delivered"] >= before["delivered"] + 12, timeout=90)
    after = state(server)["async"]
    assert after["throttled"] == before["throttled"]  # 8 workers wait for the reservation's 5
    reports = [line for line in server.lines[start:] if line.startswith("Reserved | REPORT")]
    assert len(reports) == 12
