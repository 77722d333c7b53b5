"""Scaling activities and Lambda's target tracking alarms on the embedded moto server, in its
own process (moto_child).

moto keeps Application Auto Scaling's targets, policies and scheduled actions but has no
DescribeScalingActivities: samrun's scaler (samrun/scaling/) does the scaling, so it posts each
activity to a samrun-only path of this server, and DescribeScalingActivities answers from them,
newest first, as AWS does. Targets, policies and scheduled actions stay moto's own: one source
of truth for the template's and those made at run time. moto makes a target tracking policy's
two CloudWatch alarms for DynamoDB and ECS only: a Lambda policy gets them here, named as AWS
names them (`TargetTracking-function:NAME:ALIAS-AlarmHigh-<uuid>`, `-AlarmLow-`), listed in
DescribeScalingPolicies' `Alarms` and DescribeAlarms; replacing or deleting the policy, or
deregistering its target (which deletes its policies and scheduled actions, as in AWS), deletes
them. The scaler evaluates the policy itself (tracking.py), not these alarms.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

ACTIVITY_PATH = "/_samrun/scaling-activity"
KEEP = 1000  # activities kept per account and region

_activities: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (account, region) -> oldest first


def record(account: str, region: str, activity: dict[str, Any]) -> None:
    """Add `activity`, or replace the one of the same ActivityId (its status moved on)."""
    found = _activities.setdefault((account, region), [])
    for index, known in enumerate(found):
        if known.get("ActivityId") == activity.get("ActivityId"):
            found[index] = activity
            return
    found.append(activity)
    del found[:-KEEP]


def install() -> None:
    """DescribeScalingActivities on moto's Application Auto Scaling responses."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    def describe_scaling_activities(self: Any) -> str:
        params = json.loads(self.body or "{}")
        found = [
            a
            for a in reversed(_activities.get((self.current_account, self.region), []))
            if a.get("ServiceNamespace") == params.get("ServiceNamespace")
            and params.get("ResourceId") in (None, a.get("ResourceId"))
            and params.get("ScalableDimension") in (None, a.get("ScalableDimension"))
        ]
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 50)
        page = found[start : start + size]
        answer: dict[str, Any] = {"ScalingActivities": page}
        if start + size < len(found):
            answer["NextToken"] = str(start + size)
        return json.dumps(answer)

    ApplicationAutoScalingResponse.describe_scaling_activities = describe_scaling_activities  # type: ignore[attr-defined]
    _install_lambda_alarms()


def _install_lambda_alarms() -> None:
    from moto.applicationautoscaling import models

    policy_class = models.FakeApplicationAutoscalingPolicy
    backend_class = models.ApplicationAutoscalingBackend
    create_alarms = policy_class.create_alarms
    put_scaling_policy = backend_class.put_scaling_policy
    deregister = backend_class.deregister_scalable_target

    def create_lambda_alarms(self: Any) -> None:
        create_alarms(self)
        if self.policy_type == "TargetTrackingScaling" and self.service_namespace == "lambda":
            self.alarms.extend(_lambda_alarms(self))

    def put_replacing_alarms(self: Any, *args: Any, **kwargs: Any) -> Any:
        before = dict(self.policies)
        policy = put_scaling_policy(self, *args, **kwargs)
        for key, old in before.items():
            if self.policies.get(key) is not old and old.service_namespace == "lambda":
                old.delete_alarms(self.account_id, self.region_name)
        return policy

    def deregister_with_policies(self: Any, namespace: str, r_id: str, dimension: str) -> None:
        deregister(self, namespace, r_id, dimension)
        if namespace != "lambda":
            return
        for key, policy in list(self.policies.items()):
            owner = (policy.service_namespace, policy.resource_id, policy.scalable_dimension)
            if owner == (namespace, r_id, dimension):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]
        self.scheduled_actions = [
            a
            for a in self.scheduled_actions
            if (a.service_namespace, a.resource_id, a.scalable_dimension)
            != (namespace, r_id, dimension)
        ]

    policy_class.create_alarms = create_lambda_alarms  # type: ignore[method-assign]
    backend_class.put_scaling_policy = put_replacing_alarms  # type: ignore[method-assign]
    backend_class.deregister_scalable_target = deregister_with_policies  # type: ignore[method-assign]


def _lambda_alarms(policy: Any) -> list[Any]:
    """AlarmHigh (3 datapoints above the target) and AlarmLow (15 below 90% of it) of a Lambda
    target tracking policy, in moto's CloudWatch."""
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.moto_api._internal import mock_random

    cloudwatch = cloudwatch_backends[policy.account_id][policy.region_name]
    config = policy.target_tracking_scaling_policy_configuration or {}
    target = float(config.get("TargetValue") or 0)
    custom = config.get("CustomizedMetricSpecification") or {}
    if custom.get("MetricName"):
        namespace, metric = str(custom.get("Namespace", "")), str(custom["MetricName"])
        dimensions = [dict(d) for d in custom.get("Dimensions") or []]
        statistic = str(custom.get("Statistic") or "Average")
    else:
        _, name, qualifier = [*policy.resource_id.split(":"), "", ""][:3]
        namespace, metric, statistic = "AWS/Lambda", "ProvisionedConcurrencyUtilization", "Average"
        dimensions = [
            {"Name": "FunctionName", "Value": name},
            {"Name": "Resource", "Value": f"{name}:{qualifier}"},
        ]
    action = f"{policy.policy_arn}:createdBy/{mock_random.uuid4()}"
    alarms = []
    for kind, operator, periods, threshold in (
        ("AlarmHigh", "GreaterThanThreshold", 3, target),
        ("AlarmLow", "LessThanThreshold", 15, target * 0.9),
    ):
        alarms.append(
            cloudwatch.put_metric_alarm(
                name=f"TargetTracking-{policy.resource_id}-{kind}-{mock_random.uuid4()}",
                namespace=namespace,
                metric_name=metric,
                metric_data_queries=[],
                comparison_operator=operator,
                evaluation_periods=periods,
                period=60,
                threshold=threshold,
                statistic=statistic,
                description=f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {action}.",
                dimensions=dimensions,
                alarm_actions=[action],
            )
        )
    return alarms


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serve_activities(app: Wsgi) -> Wsgi:
    """`app`, with POST /_samrun/scaling-activity ({account, region, activity}) answered here."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != ACTIVITY_PATH or environ.get("REQUEST_METHOD") != "POST":
            return app(environ, start_response)
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(size) or b"{}")
            record(str(body["account"]), str(body["region"]), dict(body["activity"]))
        except (ValueError, KeyError, TypeError) as exc:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [f"bad scaling activity: {exc}".encode()]
        start_response("204 No Content", [])
        return [b""]

    return wrapped
