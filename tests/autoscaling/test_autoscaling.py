"""Provisioned concurrency auto scaling against a real `samrun up` (issue 28).

An alias with provisioned concurrency 1, a target tracking policy at 0.5 (min 1, max 5), at
--time-scale 60 (a metrics minute is a second): three callers without pause scale it out to at
least 3 after the alarm's 3 datapoints; a single caller afterwards (utilisation at most 1/3,
below 90% of the target for 15 datapoints) scales it back in. With no call at all Lambda emits
no datapoint and Application Auto Scaling does not scale in; samrun neither (tracking.py).
A scheduled action put at run time changes another alias at its time on the scaled clock.
Everything is read as users read it: GetProvisionedConcurrencyConfig on the Lambda API,
DescribeScalableTargets / DescribeScalingPolicies / DescribeScalingActivities with boto3 on the
embedded AWS endpoint, and /_samrun/state.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.aws.helpers import aws_client
from tests.conftest import SamrunProcess, invoke_http, start_up, wait_until

APP = Path(__file__).parent / "app" / "template.yaml"
SCOPE = {"ServiceNamespace": "lambda"}
TRACKED = "function:tracked:live"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamrunProcess]:
    running = start_up(
        APP, tmp_path_factory.mktemp("autoscaling") / ".samrun", "--time-scale", "60"
    )
    yield running
    running.stop()


def requested(server: SamrunProcess, function: str) -> int:
    config = server.lambda_client().get_provisioned_concurrency_config(  # type: ignore[attr-defined]
        FunctionName=function, Qualifier="live"
    )
    return int(config["RequestedProvisionedConcurrentExecutions"])


def allocated(server: SamrunProcess, function: str) -> int:
    config = server.lambda_client().get_provisioned_concurrency_config(  # type: ignore[attr-defined]
        FunctionName=function, Qualifier="live"
    )
    return int(config["AllocatedProvisionedConcurrentExecutions"])


def state(server: SamrunProcess) -> dict[str, Any]:
    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/state", timeout=10) as answer:
        found: dict[str, Any] = json.loads(answer.read())
    return found


def activities(server: SamrunProcess, resource_id: str) -> list[dict[str, Any]]:
    client = aws_client(server, "application-autoscaling")
    found = client.describe_scaling_activities(**SCOPE, ResourceId=resource_id)
    return list(found["ScalingActivities"])


class Load:
    """`callers` threads invoking tracked:live back to back until stopped."""

    def __init__(self, server: SamrunProcess, callers: int) -> None:
        self.stopped = threading.Event()
        self.errors: list[object] = []
        self.threads = [
            threading.Thread(target=self._call, args=(server.lambda_endpoint,), daemon=True)
            for _ in range(callers)
        ]
        for thread in self.threads:
            thread.start()

    def _call(self, endpoint: str) -> None:
        while not self.stopped.is_set():
            status, _, body = invoke_http(endpoint, "tracked", {"sleep": 0.25}, qualifier="live")
            if status != 200:
                self.errors.append(body)

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(30)


def test_template_targets_are_on_the_endpoint(server: SamrunProcess) -> None:
    client = aws_client(server, "application-autoscaling")
    targets = {
        t["ResourceId"]: t for t in client.describe_scalable_targets(**SCOPE)["ScalableTargets"]
    }
    assert targets[TRACKED]["MinCapacity"] == 1
    assert targets[TRACKED]["MaxCapacity"] == 5
    assert targets[TRACKED]["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    policies = client.describe_scaling_policies(**SCOPE, ResourceId=TRACKED)["ScalingPolicies"]
    assert [p["PolicyName"] for p in policies] == ["utilization"]
    tracking = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 0.5
    predefined = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert predefined == "LambdaProvisionedConcurrencyUtilization"
    actions = client.describe_scheduled_actions(**SCOPE, ResourceId=TRACKED)["ScheduledActions"]
    assert [a["ScheduledActionName"] for a in actions] == ["yearly"]
    not_run = state(server)["not_run"]
    named = json.dumps(not_run)
    assert "TableTarget" in named  # a DynamoDB target: named, not scaled
    assert "TrackedTarget" not in named and "TrackedUtilization" not in named


def test_target_tracking_scales_out_under_load_and_back_in(server: SamrunProcess) -> None:
    assert requested(server, "tracked") == 1
    load = Load(server, 3)
    try:
        wait_until(lambda: requested(server, "tracked") >= 3, timeout=90, interval=0.2)
        wait_until(lambda: allocated(server, "tracked") >= 3, timeout=60, interval=0.2)
        peak = requested(server, "tracked")
    finally:
        load.stop()
    assert not load.errors
    assert peak <= 5
    out = activities(server, TRACKED)
    assert out and all(a["StatusCode"] in ("Successful", "InProgress") for a in out)
    assert any(
        f"alarm TargetTracking-{TRACKED}-AlarmHigh-" in a["Cause"] for a in out
    )  # AWS's name
    assert any(a["Description"] == f"Setting desired concurrency to {peak}." for a in out)

    trickle = Load(server, 1)  # utilisation <= 1/3 < 0.45: the low alarm's 15 datapoints
    try:
        wait_until(lambda: requested(server, "tracked") < peak, timeout=120, interval=0.25)
    finally:
        trickle.stop()
    assert not trickle.errors
    lowered = requested(server, "tracked")
    assert 1 <= lowered < peak
    wait_until(lambda: allocated(server, "tracked") == lowered, timeout=30, interval=0.2)
    assert any(f"{TRACKED}-AlarmLow-" in a["Cause"] for a in activities(server, TRACKED))
    shown = state(server)["autoscaling"]
    tracked = next(t for t in shown["targets"] if t["resource_id"] == TRACKED)
    assert tracked["requested"] == lowered
    assert any(a["ResourceId"] == TRACKED for a in shown["activities"])

    with urllib.request.urlopen(f"{server.lambda_endpoint}/_samrun/metrics", timeout=10) as r:
        metrics = r.read().decode()
    assert (
        'lambda_provisioned_concurrency_spillover_invocations_total{function_name="tracked"'
        in metrics
    )
    assert "lambda_provisioned_concurrent_executions" in metrics


def test_scheduled_action_put_at_run_time_changes_it_at_its_time(server: SamrunProcess) -> None:
    client = aws_client(server, "application-autoscaling")
    clock = datetime.fromisoformat(state(server)["autoscaling"]["clock"])
    when = (clock + timedelta(minutes=8)).replace(microsecond=0, tzinfo=None)  # 8 s from now
    client.put_scheduled_action(
        **SCOPE,
        ResourceId="function:scheduled:live",
        ScalableDimension="lambda:function:ProvisionedConcurrency",
        ScheduledActionName="morning",
        Schedule=f"at({when.isoformat()})",
        ScalableTargetAction={"MinCapacity": 3, "MaxCapacity": 4},
    )
    assert requested(server, "scheduled") == 1  # not before its time
    wait_until(lambda: requested(server, "scheduled") == 3, timeout=90, interval=0.2)
    wait_until(lambda: allocated(server, "scheduled") == 3, timeout=60, interval=0.2)
    targets = client.describe_scalable_targets(**SCOPE, ResourceIds=["function:scheduled:live"])
    assert targets["ScalableTargets"][0]["MinCapacity"] == 3
    found = activities(server, "function:scheduled:live")
    assert any("morning" in a["Cause"] for a in found)
    started = max(a["StartTime"] for a in found if "morning" in a["Cause"])
    assert started.timestamp() > 0
