"""Target tracking's decisions as pure functions (beside the end-to-end tests, not instead)."""

from __future__ import annotations

from samrun.model import ScalableTarget, ScalingPolicy
from samrun.scaling import tracking

TARGET = ScalableTarget(function="fn", qualifier="live", min_capacity=1, max_capacity=5)
POLICY = ScalingPolicy(name="p", target_value=0.5)


def test_three_datapoints_above_the_target_scale_out_to_bring_it_to_the_target() -> None:
    decision = tracking.decide(POLICY, [0.75, 1.0, 1.0], 4, TARGET)
    assert decision is not None and decision.direction == tracking.OUT
    assert decision.desired == 5  # ceil(4 x 0.75 / 0.5) = 6, within max 5
    assert tracking.decide(POLICY, [1.0, 1.0], 1, TARGET) is None  # two datapoints only
    assert tracking.decide(POLICY, [1.0, None, 1.0], 1, TARGET) is None  # one missing


def test_fifteen_datapoints_below_ninety_percent_of_the_target_scale_in() -> None:
    low = [0.2] * 15
    decision = tracking.decide(POLICY, low, 5, TARGET)
    assert decision is not None and decision.direction == tracking.IN and decision.desired == 2
    assert tracking.decide(POLICY, [0.46] * 15, 5, TARGET) is None  # above 0.45
    assert tracking.decide(POLICY, [0.2] * 14, 5, TARGET) is None
    assert tracking.decide(POLICY, [0.2] * 14 + [None], 5, TARGET) is None  # no traffic: stays
    no_in = ScalingPolicy(name="p", target_value=0.5, disable_scale_in=True)
    assert tracking.decide(no_in, low, 5, TARGET) is None


def test_policies_together_scale_in_only_when_all_agree() -> None:
    out = tracking.Decision(tracking.OUT, 4, "a", 1.0, "AlarmHigh")
    scale_in = tracking.Decision(tracking.IN, 2, "b", 0.1, "AlarmLow")
    assert tracking.combine([out, scale_in], 2) == out
    assert tracking.combine([scale_in, None], 2) is None
    both = tracking.Decision(tracking.IN, 3, "c", 0.1, "AlarmLow")
    assert tracking.combine([scale_in, both], 2) == both
