"""Careless input to the new features (resource policies, durable callbacks, VPC config): a
clear error in Lambda's shape or a one-line CLI message, never a traceback or a wrong success.
One `samrun up` of the IAM app serves the API cases."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SamrunProcess, start_up

IAM_APP = Path(__file__).resolve().parent.parent / "iam" / "app" / "template.yaml"
SCALING_APP = Path(__file__).resolve().parent.parent / "autoscaling" / "app" / "template.yaml"
POLICY = "/2015-03-31/functions/TableReader/policy"
GOOD = {"StatementId": "ok", "Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    running = start_up(IAM_APP, tmp_path_factory.mktemp("bad-input") / ".samrun")
    yield running
    assert running.stop() == 0


def call(server: SamrunProcess, method: str, path: str, body: Any = None) -> tuple[int, str, str]:
    """(status, x-amzn-ErrorType, message) of a raw request, as curl would send it."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.lambda_endpoint + path, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, "", reply.read().decode()
    except urllib.error.HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message", "")
        return exc.code, exc.headers.get("x-amzn-ErrorType", ""), message


@pytest.mark.parametrize(
    ("member", "value", "says"),
    [
        ("StatementId", 5, "'statementId' failed to satisfy constraint: Member must be a string"),
        ("Action", ["lambda:*"], "'action' failed to satisfy constraint: Member must be a string"),
        ("Principal", {"Service": "x"}, "'principal' failed to satisfy"),
        ("SourceArn", 5, "'sourceArn' failed to satisfy constraint: Member must be a string"),
        ("SourceAccount", ["1"], "'sourceAccount' failed to satisfy"),
        ("FunctionUrlAuthType", "BOGUS", "Member must satisfy enum value set: [NONE, AWS_IAM]"),
    ],
)
def test_add_permission_with_a_member_of_the_wrong_type_is_refused(
    server: SamrunProcess, member: str, value: Any, says: str
) -> None:
    status, kind, message = call(server, "POST", POLICY, {**GOOD, member: value})
    assert (status, kind) == (400, "InvalidParameterValueException"), message
    assert says in message


@pytest.mark.parametrize(
    ("qualifier", "status", "kind"),
    [("..%2Fx", 400, "ValidationException"), ("99", 404, "ResourceNotFoundException")],
)
def test_add_permission_to_a_bad_or_unknown_qualifier_is_refused(
    server: SamrunProcess, qualifier: str, status: int, kind: str
) -> None:
    body = {**GOOD, "StatementId": "qualified"}
    assert call(server, "POST", f"{POLICY}?Qualifier={qualifier}", body)[:2] == (status, kind)


def test_remove_permission_with_a_stale_revision_id_is_refused(server: SamrunProcess) -> None:
    assert call(server, "POST", POLICY, {**GOOD, "StatementId": "keep"})[0] == 201
    stale = call(server, "DELETE", f"{POLICY}/keep?RevisionId=garbage")
    assert stale[:2] == (412, "PreconditionFailedException")
    assert call(server, "DELETE", f"{POLICY}/keep")[0] == 204


def samrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "samrun", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("endpoint", ["garbage", "http://[::1", "http://host:port"])
def test_callback_with_a_malformed_endpoint_is_one_line(tmp_path: Path, endpoint: str) -> None:
    done = samrun("callback", "succeed", "some-id", "--endpoint", endpoint, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"--endpoint {endpoint!r}" in done.stderr


def test_a_vpc_config_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "template.yaml").write_text(
        IAM_APP.read_text().split("Resources:")[0] + "Resources: {}\n"
    )
    (app / "vpc.yaml").write_bytes(b"\x00\xff\xfe binary")
    done = samrun(
        "up", "--state-dir", str(tmp_path / ".samrun"), "--vpc-config", "vpc.yaml", cwd=app
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "--vpc-config vpc.yaml: not a text file" in done.stderr


FUNCTION = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      CodeUri: src/
      AutoPublishAlias: live
"""
TARGET = """  Target:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    Properties:
      MinCapacity: 1
      MaxCapacity: 5
      ResourceId: function:Fn:live
      ScalableDimension: lambda:function:ProvisionedConcurrency
      ServiceNamespace: lambda
"""
POLICY_WITH_DIMENSIONS = """  Policy:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: p
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref Target
      TargetTrackingScalingPolicyConfiguration:
        TargetValue: 0.7
        CustomizedMetricSpecification: {MetricName: m, Namespace: n, Dimensions: 5}
"""


@pytest.mark.parametrize(
    ("extra", "at", "says"),
    [
        (
            "      DurableConfig: {ExecutionTimeout: abc}\n",
            "Timeout: abc",
            "DurableConfig.ExecutionTimeout",
        ),
        (
            "      DurableConfig: {ExecutionTimeout: -1}\n",
            "Timeout: -1",
            "from 1 to 31622400, not -1",
        ),
        (
            "      DurableConfig: {ExecutionTimeout: 60, RetentionPeriodInDays: 365}\n",
            "365",
            "DurableConfig.RetentionPeriodInDays must be a whole number from 1 to 90",
        ),
        (TARGET + "      ScheduledActions: 5\n", "ScheduledActions", "must be a list"),
        (
            TARGET
            + "      ScheduledActions:\n"
            + "        - ScheduledActionName: a\n"
            + "          Schedule: rate(1 hour)\n"
            + "          ScalableTargetAction: 5\n",
            "ScalableTargetAction",
            "ScalableTargetAction must be an object",
        ),
        (TARGET + POLICY_WITH_DIMENSIONS, "PolicyConfiguration", "Dimensions must be a list"),
    ],
)
def test_new_template_properties_of_the_wrong_type_are_refused_at_their_line(
    tmp_path: Path, extra: str, at: str, says: str
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    template = tmp_path / "template.yaml"
    text = FUNCTION + extra
    template.write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if at in row)
    done = samrun("validate", str(template), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    found = [row for row in done.stdout.splitlines() if says in row]
    assert found and found[0].startswith(f"{template}:{line}:"), done.stdout


def test_a_state_folder_inside_the_code_folder_is_not_snapshotted(tmp_path: Path) -> None:
    """`--state-dir` under a published function's CodeUri: the version's snapshot leaves the
    state folder out (it used to copy itself into itself until the path was too long)."""
    app = Path(shutil.copytree(SCALING_APP.parent, tmp_path / "app"))
    state = app / "state"
    running = start_up(app / SCALING_APP.name, state)
    try:
        snapshots = [p for p in (state / "snapshots").iterdir() if p.is_dir()]
        assert snapshots
        assert all(not (p / "state").exists() for p in snapshots)
        assert all((p / "handler.py").is_file() for p in snapshots)
    finally:
        assert running.stop() == 0


def test_a_qualifier_has_its_own_resource_policy(server: SamrunProcess) -> None:
    """AddPermission / GetPolicy / RemovePermission with `?Qualifier=` act on that alias's
    policy, as Lambda keeps one per version and alias, not on the function's."""
    functions = "/2015-03-31/functions/TableReader"
    assert call(server, "POST", f"{functions}/versions", {})[0] == 201
    alias = {"Name": "probe", "FunctionVersion": "1"}
    assert call(server, "POST", f"{functions}/aliases", alias)[0] == 201
    body = {**GOOD, "StatementId": "on-alias"}
    status, _, added = call(server, "POST", f"{POLICY}?Qualifier=probe", body)
    assert status == 201, added
    assert json.loads(json.loads(added)["Statement"])["Resource"].endswith(":TableReader:probe")
    status, _, policy = call(server, "GET", f"{POLICY}?Qualifier=probe")
    assert status == 200, policy
    assert [s["Sid"] for s in json.loads(json.loads(policy)["Policy"])["Statement"]] == ["on-alias"]
    assert call(server, "GET", "/2015-03-31/functions/TableReader:probe/policy")[0] == 200
    unqualified = call(server, "GET", POLICY)
    assert "on-alias" not in unqualified[2]
    assert call(server, "DELETE", f"{POLICY}/on-alias")[:2] == (404, "ResourceNotFoundException")
    assert call(server, "DELETE", f"{POLICY}/on-alias?Qualifier=probe")[0] == 204
    gone = call(server, "GET", f"{POLICY}?Qualifier=probe")
    assert gone[:2] == (404, "ResourceNotFoundException")


PROVISIONED = "/2019-09-30/functions/TableReader/provisioned-concurrency?List=ALL"


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        ("&MaxItems=0", 400, "ValidationException"),
        ("&MaxItems=51", 400, "ValidationException"),
        ("&MaxItems=abc", 400, "ValidationException"),
        ("&Marker=garbage", 400, "InvalidParameterValueException"),
        ("&Marker=-1", 400, "InvalidParameterValueException"),
        ("&MaxItems=50&Marker=0", 200, ""),
    ],
)
def test_list_provisioned_concurrency_configs_checks_max_items_and_marker(
    server: SamrunProcess, query: str, status: int, kind: str
) -> None:
    assert call(server, "GET", PROVISIONED + query)[:2] == (status, kind)


def test_executions_with_an_unknown_status_is_one_line(tmp_path: Path) -> None:
    done = samrun("executions", "--state-dir", str(tmp_path), "--status", "BOGUS", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "--status 'BOGUS' is not a status" in done.stderr and "TIMED_OUT" in done.stderr


@pytest.mark.parametrize("address", ["a b:1", "db/x:5432", "-db:5432", "db..x:1"])
def test_a_vpc_allow_host_that_is_not_a_host_is_one_line(tmp_path: Path, address: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "template.yaml").write_text(
        IAM_APP.read_text().split("Resources:")[0] + "Resources: {}\n"
    )
    done = samrun("up", "--state-dir", str(tmp_path / ".samrun"), f"--vpc-allow={address}", cwd=app)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert f"--vpc-allow {address!r}: " in done.stderr
    assert "is not a host name or IP address" in done.stderr


def test_a_permission_for_a_function_not_in_the_template_is_named_not_run(
    tmp_path: Path,
) -> None:
    """A permission on a function the template does not have (one deployed elsewhere, perhaps)
    is valid CloudFormation; samrun cannot keep it, and says so rather than drop it."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    text = FUNCTION + (
        "  Allow:\n"
        "    Type: AWS::Lambda::Permission\n"
        "    Properties:\n"
        "      FunctionName: NoSuchFunction\n"
        "      Action: lambda:InvokeFunction\n"
        "      Principal: s3.amazonaws.com\n"
    )
    template = tmp_path / "template.yaml"
    template.write_text(text)
    done = samrun("validate", str(template), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    plan = samrun("plan", str(template), "--json", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    not_run = json.loads(plan.stdout)["not_run"]
    assert [e for e in not_run if e["name"] == "Allow" and "names no function" in e["reason"]]
