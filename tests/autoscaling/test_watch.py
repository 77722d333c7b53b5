"""`samrun up --watch`: template edits that add, change and remove a scalable target, its target
tracking policy and its scheduled actions are applied without a restart, as a stack update
applies them; a target registered at run time with boto3 is left alone. Read back with boto3
on the embedded endpoint (Application Auto Scaling and the policy's CloudWatch alarms)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.aws.helpers import aws_client
from tests.conftest import SamrunProcess

CODE = Path(__file__).parent / "app"
SCOPE = {"ServiceNamespace": "lambda"}
DIMENSION = "lambda:function:ProvisionedConcurrency"
TRACKED, SPARE = "function:tracked:live", "function:spare:live"

FUNCTION = """\
  {lid}:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: {name}
      CodeUri: {code}
      Handler: handler.handler
      Runtime: python3.11
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 1
"""

SCALING = """\
  TrackedTarget:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    DependsOn: TrackedAliaslive
    Properties:
      ServiceNamespace: lambda
      ScalableDimension: lambda:function:ProvisionedConcurrency
      ResourceId: !Sub function:${{Tracked}}:live
      MinCapacity: 1
      MaxCapacity: {max}
      ScheduledActions:
        - ScheduledActionName: {action}
          Schedule: cron(0 0 1 1 ? *)
          ScalableTargetAction:
            MinCapacity: 1
  TrackedUtilization:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: utilization
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref TrackedTarget
      TargetTrackingScalingPolicyConfiguration:
        TargetValue: {target}
        PredefinedMetricSpecification:
          PredefinedMetricType: LambdaProvisionedConcurrencyUtilization
"""


def write(template: Path, scaling: dict[str, object] | None) -> None:
    functions = [
        FUNCTION.format(lid=lid, name=lid.lower(), code=CODE) for lid in ("Tracked", "Spare")
    ]
    text = "".join(functions) + (SCALING.format(**scaling) if scaling else "")
    template.write_text(
        f'AWSTemplateFormatVersion: "2010-09-09"\n'
        f"Transform: AWS::Serverless-2016-10-31\nResources:\n{text}"
    )


def edit(
    server: SamrunProcess, template: Path, scaling: dict[str, object] | None, change: str
) -> None:
    """Write the template and wait for the reload that applied `change` (its reload line)."""
    mark = len(server.lines)
    write(template, scaling)
    server.wait_for(rf"reloaded \(template: .*scaling targets {change}", start=mark, timeout=60)


def described(server: SamrunProcess) -> dict[str, Any]:
    """What the endpoint has of the tracked alias: target, policies, scheduled actions, alarms."""
    client = aws_client(server, "application-autoscaling")
    targets = client.describe_scalable_targets(**SCOPE)["ScalableTargets"]
    policies = client.describe_scaling_policies(**SCOPE, ResourceId=TRACKED)["ScalingPolicies"]
    actions = client.describe_scheduled_actions(**SCOPE, ResourceId=TRACKED)["ScheduledActions"]
    alarms = aws_client(server, "cloudwatch").describe_alarms(
        AlarmNamePrefix=f"TargetTracking-{TRACKED}-"
    )["MetricAlarms"]
    return {
        "targets": {t["ResourceId"]: t for t in targets},
        "policies": policies,
        "actions": [a["ScheduledActionName"] for a in actions],
        "alarms": sorted(a["AlarmName"] for a in alarms),
    }


def test_template_edits_add_change_and_remove_scaling_without_a_restart(
    tmp_path: Path, samrun_up: Any
) -> None:
    template = tmp_path / "template.yaml"
    write(template, None)
    server = samrun_up(template, "--watch")
    server.wait_for("watching")
    aws_client(server, "application-autoscaling").register_scalable_target(
        **SCOPE, ResourceId=SPARE, ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2
    )

    edit(server, template, {"max": 5, "action": "yearly", "target": 0.5}, rf"\+{TRACKED}")
    found = described(server)
    assert found["targets"][TRACKED]["MaxCapacity"] == 5
    [policy] = found["policies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 0.5
    assert found["actions"] == ["yearly"]
    # the policy's two alarms, named as AWS names them, in DescribeScalingPolicies and CloudWatch
    names = sorted(a["AlarmName"] for a in policy["Alarms"])
    assert [n.rsplit("-", 5)[0] for n in names] == [
        f"TargetTracking-{TRACKED}-AlarmHigh",
        f"TargetTracking-{TRACKED}-AlarmLow",
    ]
    assert all(a["AlarmARN"].endswith(f":alarm:{a['AlarmName']}") for a in policy["Alarms"])
    assert found["alarms"] == names

    edit(server, template, {"max": 4, "action": "monthly", "target": 0.7}, f"~{TRACKED}")
    found = described(server)
    assert found["targets"][TRACKED]["MaxCapacity"] == 4
    [policy] = found["policies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 0.7
    assert found["actions"] == ["monthly"]  # the removed one is deleted
    assert found["alarms"] == sorted(a["AlarmName"] for a in policy["Alarms"])  # old ones gone

    edit(server, template, None, f"-{TRACKED}")
    found = described(server)
    assert TRACKED not in found["targets"]
    assert found["policies"] == [] and found["actions"] == [] and found["alarms"] == []
    assert found["targets"][SPARE]["MaxCapacity"] == 2  # made at run time: kept
    server.wait_for(f"Application Auto Scaling: {TRACKED} deregistered")
