"""AWS::CloudWatch::Alarm resources -> `Alarm`: the single-metric alarms samrun evaluates.

An alarm samrun cannot evaluate (metric math, a percentile statistic) is kept with the reason,
so it is named in `plan` and /_samrun/state rather than dropped.
"""

from __future__ import annotations

from typing import Any

from samrun.model import Alarm
from samrun.template.context import BuildContext
from samrun.template.intrinsics import as_text


def build_alarms(ctx: BuildContext) -> tuple[Alarm, ...]:
    alarms = []
    for lid, raw in ctx.of_type("AWS::CloudWatch::Alarm"):
        props: dict[str, Any] = ctx.resolve(raw, lid)
        unsupported = None
        if props.get("Metrics"):
            unsupported = "metric math alarms are not evaluated locally"
        elif props.get("ExtendedStatistic"):
            unsupported = f"statistic {props['ExtendedStatistic']} is not evaluated locally"
        dims = {
            as_text(d.get("Name")): as_text(d.get("Value"))
            for d in props.get("Dimensions") or []
            if isinstance(d, dict)
        }
        evaluation = int(_number(props.get("EvaluationPeriods"), 1))
        to_alarm = props.get("DatapointsToAlarm")
        alarms.append(
            Alarm(
                logical_id=lid,
                name=as_text(props.get("AlarmName") or lid),
                namespace=as_text(props.get("Namespace", "")),
                metric=as_text(props.get("MetricName", "")),
                dimensions=dims,
                statistic=as_text(props.get("Statistic", "Average")),
                period_s=int(_number(props.get("Period"), 60)),
                evaluation_periods=evaluation,
                datapoints_to_alarm=int(_number(to_alarm, evaluation)) if to_alarm else None,
                threshold=_number(props.get("Threshold"), 0.0),
                comparison=as_text(props.get("ComparisonOperator", "GreaterThanThreshold")),
                treat_missing_data=as_text(props.get("TreatMissingData", "missing")),
                unsupported=unsupported,
            )
        )
    return tuple(alarms)


def _number(value: Any, default: float) -> float:
    """A numeric property; `default` when absent or not a number locally (unresolved)."""
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
