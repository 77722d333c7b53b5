"""AWS::CloudWatch::Alarm, evaluated as CloudWatch does on samrun's own AWS/Lambda metrics and
on the custom ones functions log in the embedded metric format (any namespace outside AWS/).

After each metrics period: the alarm's last `EvaluationPeriods` windows of `Period` seconds
(each a run of metrics periods), each window's statistic compared with the threshold; ALARM
when at least `DatapointsToAlarm` of them breach. Windows with no sample are missing data,
treated as `TreatMissingData` says (missing, notBreaching, breaching, ignore).
"""

from __future__ import annotations

import asyncio
import logging
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from samrun.model import Alarm
from samrun.observe.metrics import NAMESPACE, MetricStore

logger = logging.getLogger(__name__)

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARE: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(slots=True)
class AlarmState:
    alarm: Alarm
    state: str = INSUFFICIENT
    reason: str = "Unchecked: Initial alarm creation"
    updated: float = 0.0

    def shape(self) -> dict[str, object]:
        shape: dict[str, object] = {
            "state": self.state,
            "reason": self.reason,
            "metric": f"{self.alarm.namespace} {self.alarm.metric}",
            "dimensions": dict(self.alarm.dimensions),
            "updated": self.updated,
        }
        if self.alarm.unsupported:
            shape["not_evaluated"] = self.alarm.unsupported
        return shape


def unsupported_reason(alarm: Alarm) -> str | None:
    if alarm.unsupported:
        return alarm.unsupported
    namespace = alarm.namespace
    if not namespace or (namespace != NAMESPACE and namespace.startswith("AWS/")):
        return (
            f"namespace {alarm.namespace or '(none)'}: of AWS's namespaces, "
            "samrun has AWS/Lambda metrics only"
        )
    if alarm.comparison not in COMPARE:
        return f"comparison {alarm.comparison} is not evaluated locally"
    if alarm.statistic not in ("SampleCount", "Sum", "Minimum", "Maximum", "Average"):
        return f"statistic {alarm.statistic} is not evaluated locally"
    return None


class Alarms:
    def __init__(self, alarms: Sequence[Alarm], store: MetricStore, base_period_s: float) -> None:
        self.store = store
        self.base_period_s = base_period_s  # Lambda's 60 s, before the time scale
        self.states = {a.name: AlarmState(a) for a in alarms}
        self._changed = asyncio.Event()
        for state in self.states.values():
            reason = unsupported_reason(state.alarm)
            if reason:
                state.reason = f"not evaluated: {reason}"
                logger.warning("alarm %s is not evaluated: %s", state.alarm.name, reason)

    def update(self, alarms: Sequence[Alarm]) -> None:
        """A reloaded template's alarms: an unchanged alarm keeps its state."""
        old = self.states
        self.states = {}
        for alarm in alarms:
            known = old.get(alarm.name)
            self.states[alarm.name] = (
                known if known is not None and known.alarm == alarm else AlarmState(alarm)
            )

    def find(self, name: str) -> AlarmState | None:
        """By AlarmName or logical id (what a DeploymentPreference's `!Ref` gives)."""
        found = self.states.get(name)
        if found is None:
            found = next((s for s in self.states.values() if s.alarm.logical_id == name), None)
        return found

    def evaluate(self) -> None:
        """After each metrics period."""
        for state in self.states.values():
            if unsupported_reason(state.alarm) is None:
                self._evaluate(state)
        self._changed.set()
        self._changed = asyncio.Event()

    def _evaluate(self, s: AlarmState) -> None:
        a = s.alarm
        periods = max(1, round(a.period_s / self.base_period_s))
        key = (a.metric, tuple(sorted(a.dimensions.items())))
        values = []
        for n in range(a.evaluation_periods):
            stat = self.store.window(key, periods, offset=n * periods, namespace=a.namespace)
            values.append(None if stat is None else stat.statistic(a.statistic))
        compare = COMPARE[a.comparison]
        present = [v for v in values if v is not None]
        breaching = sum(1 for v in present if compare(v, a.threshold))
        missing = len(values) - len(present)
        treat = a.treat_missing_data
        if treat == "breaching":
            breaching += missing
        needed = a.datapoints_to_alarm or a.evaluation_periods
        if not present and treat in ("missing", "ignore"):
            new = s.state if treat == "ignore" else INSUFFICIENT
            reason = "no datapoints in the evaluation periods"
        elif breaching >= needed:
            new = ALARM
            reason = f"{breaching} of {len(values)} datapoints breached the threshold {a.threshold}"
        else:
            new = OK
            reason = f"{breaching} of {len(values)} datapoints breached the threshold {a.threshold}"
        if new != s.state:
            logger.info("alarm %s: %s -> %s (%s; %s)", a.name, s.state, new, reason, present)
            s.state, s.reason, s.updated = new, reason, time.time()

    async def first_alarm(self, names: Sequence[str], seconds: float) -> str | None:
        """The first of `names` to be in ALARM at an evaluation within `seconds`, else None."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            changed = self._changed
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                break
            for name in names:
                found = self.find(name)
                if found is not None and found.state == ALARM:
                    return found.alarm.name
        return None

    def state(self) -> dict[str, object]:
        return {name: s.shape() for name, s in self.states.items()}
