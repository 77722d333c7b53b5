"""Target tracking as Application Auto Scaling runs it for Lambda provisioned concurrency.

A policy stands for two CloudWatch alarms on the alias's (or version's) utilisation, one
datapoint a minute (the metrics period, so scaled by --time-scale): AlarmHigh when the 3 latest
datapoints are all above the target value, AlarmLow when the 15 latest are all below 90% of it
(Lambda's documentation: "consistently exceeds 70%" / "less than 63% (90 percent of the 70%
target)"; both on the Average statistic by default). A missing datapoint (no invocation in that
minute: Lambda emits none) breaks the run, so an alias nobody calls is not scaled in, as in AWS.
The new capacity is the one that brings the latest datapoint to the target:
ceil(capacity x metric / target), within the target's min and max.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from samrun.model import ScalableTarget, ScalingPolicy

HIGH_DATAPOINTS = 3
LOW_DATAPOINTS = 15
LOW_SHARE = 0.9  # the scale-in alarm's threshold, as a share of the target value
OUT, IN = "out", "in"
Dims = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    direction: str  # out | in
    desired: int
    policy: str
    value: float  # the latest datapoint
    alarm: str  # AlarmHigh | AlarmLow


def metric_key(policy: ScalingPolicy, target: ScalableTarget) -> tuple[str, str, Dims]:
    """(namespace, metric, dimensions sorted by name) of what `policy` tracks on `target`."""
    if policy.dimensions:
        dims = tuple(sorted(policy.dimensions.items()))
    else:  # the predefined metric: the alias's (or version's) own
        resource = f"{target.function}:{target.qualifier}"
        dims = (("FunctionName", target.function), ("Resource", resource))
    return policy.namespace, policy.metric, dims


def alarm_states(policy: ScalingPolicy, values: Sequence[float | None]) -> tuple[bool, bool]:
    """(AlarmHigh, AlarmLow) on `values`, the policy's datapoints newest first."""
    high = _all(values[:HIGH_DATAPOINTS], HIGH_DATAPOINTS, lambda v: v > policy.target_value)
    low_threshold = policy.target_value * LOW_SHARE
    low = _all(values[:LOW_DATAPOINTS], LOW_DATAPOINTS, lambda v: v < low_threshold)
    return high, low


def decide(
    policy: ScalingPolicy, values: Sequence[float | None], current: int, target: ScalableTarget
) -> Decision | None:
    """What `policy` asks of `target` now, at `current` provisioned concurrency; None: nothing."""
    high, low = alarm_states(policy, values)
    if not (high or low) or current < 1 or policy.target_value <= 0:
        return None
    latest = values[0]
    assert latest is not None
    wanted = math.ceil(current * latest / policy.target_value - 1e-9)
    wanted = max(target.min_capacity, min(target.max_capacity, wanted))
    if high and wanted > current:
        return Decision(OUT, wanted, policy.name, latest, "AlarmHigh")
    if low and not policy.disable_scale_in and wanted < current:
        return Decision(IN, max(wanted, 1), policy.name, latest, "AlarmLow")
    return None


def combine(decisions: Sequence[Decision | None], policies: int) -> Decision | None:
    """Several policies on one target: the largest scale-out wins; scale-in only when every
    policy asks for it, to the largest capacity any of them asks (as Application Auto Scaling
    does)."""
    outs = [d for d in decisions if d is not None and d.direction == OUT]
    if outs:
        return max(outs, key=lambda d: d.desired)
    ins = [d for d in decisions if d is not None and d.direction == IN]
    if ins and len(ins) == policies:
        return max(ins, key=lambda d: d.desired)
    return None


def _all(values: Sequence[float | None], needed: int, breaching: Callable[[float], bool]) -> bool:
    return len(values) >= needed and all(v is not None and breaching(v) for v in values)
