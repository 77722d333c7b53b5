"""Lambda's AWS/Lambda metrics, from the invoke path's telemetry (samrun.invoke.telemetry).

`observe` only appends the record (the warm path pays that and nothing more); `roll` folds what
came since into one period's datapoints, as CloudWatch keeps them (SampleCount, Sum, Minimum,
Maximum per metric and dimension set), and into running totals for Prometheus. A period is
Lambda's one minute divided by --time-scale.

Dimension sets, as Lambda publishes them: none (the account), FunctionName, FunctionName +
Resource (`name:alias` or `name:version`, when the caller named one), and FunctionName + Resource
+ ExecutedVersion for alias invocations.

The metrics functions log in the embedded metric format (observe/emf.py) are `record`ed into the
same periods under their own namespace, for alarms, and into running totals for Prometheus.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from samrun.invoke.telemetry import Event, Invoked, Signal
from samrun.observe.cost import PriceTable

NAMESPACE = "AWS/Lambda"
Dims = tuple[tuple[str, str], ...]
Key = tuple[str, Dims]  # (metric name, dimensions)
CustomKey = tuple[str, str, Dims]  # (namespace, metric name, dimensions sorted by name)
UNITS = {
    "Duration": "Milliseconds",
    "AsyncEventAge": "Milliseconds",
    "IteratorAge": "Milliseconds",
    "ProvisionedConcurrencyUtilization": "None",
}
SPILLOVER = "ProvisionedConcurrencySpilloverInvocations"
PROVISIONED_METRICS = {  # the fewest dimensions each is published with
    "ProvisionedConcurrencyUtilization": 2,
    "ProvisionedConcurrentExecutions": 1,
    SPILLOVER: 1,
}


@dataclass(slots=True)
class Stat:
    count: int = 0
    sum: float = 0.0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def merge(self, other: Stat) -> None:
        self.count += other.count
        self.sum += other.sum
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)

    def statistic(self, name: str) -> float:
        """CloudWatch's statistics of a set of samples."""
        return {
            "SampleCount": float(self.count),
            "Sum": self.sum,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
            "Average": self.sum / self.count if self.count else 0.0,
        }[name]


@dataclass(slots=True)
class Period:
    start: float
    end: float
    datapoints: dict[Key, Stat] = field(default_factory=dict)
    custom: dict[CustomKey, Stat] = field(default_factory=dict)  # other namespaces (EMF)


@dataclass(slots=True)
class Totals:
    """Running totals of one (function, resource, executed version), for Prometheus and state."""

    invocations: int = 0
    errors: int = 0
    duration_ms: float = 0.0
    cost_usd: float = 0.0


def dimension_sets(function: str, resource: str | None, version: str | None) -> list[Dims]:
    sets: list[Dims] = [(), (("FunctionName", function),)]
    if resource:
        qualified = (("FunctionName", function), ("Resource", f"{function}:{resource}"))
        sets.append(qualified)
        if version and resource != version:  # an alias: the version it ran
            sets.append((("ExecutedVersion", version), *qualified))
    return sets


class MetricStore:
    def __init__(self, prices: PriceTable, period_s: float = 60.0, keep: int = 60) -> None:
        self.prices = prices
        self.period_s = period_s
        self.pending: list[Event] = []
        self.periods: deque[Period] = deque(maxlen=keep)  # closed, oldest first
        self.totals: dict[tuple[str, str, str], Totals] = {}  # (function, resource, version)
        self.signals: dict[tuple[str, str, str], Stat] = {}  # (kind, function, resource)
        self.provisioned_cost: dict[tuple[str, str], float] = {}  # (function, qualifier)
        self.spillovers: dict[tuple[str, str], int] = {}  # (function, resource): invocations
        self.custom_totals: dict[CustomKey, Stat] = {}
        self.custom_units: dict[CustomKey, str] = {}
        self._current = Period(time.time(), 0.0)

    def observe(self, event: Event) -> None:
        """The telemetry observer: as cheap as a list append."""
        self.pending.append(event)

    def roll(self, now: float | None = None) -> Period:
        """Close the current period with everything observed so far; it is returned and kept."""
        period = self._current
        self.fold()
        period.end = now or time.time()
        self._current = Period(period.end, 0.0)
        self.periods.append(period)
        return period

    def fold(self) -> None:
        """Fold pending records into the current period and the running totals: invocations
        are grouped first, so datapoints are merged once per group, not once per record."""
        events, self.pending = self.pending, []
        points = self._current.datapoints
        groups: dict[tuple[Any, ...], list[Invoked]] = {}
        for event in events:
            if isinstance(event, Invoked):
                key = (event[0], event[1], event[2], event[5], event[6], event[10], event[11])
                found = groups.get(key)
                if found is None:
                    groups[key] = [event]
                else:
                    found.append(event)
            else:
                self._signal(event, points)
        for (function, version, resource, memory, arch, on_pc, storage), group in groups.items():
            price = self.prices.invocation(
                1.0, memory, arch, on_provisioned=on_pc, storage_mb=storage
            )
            self._invoked(function, version, resource, price - self.prices.request, group, points)

    def _invoked(
        self,
        function: str,
        version: str,
        resource: str | None,
        per_ms: float,
        group: list[Invoked],
        points: dict[Key, Stat],
    ) -> None:
        """One group's datapoints and totals; `per_ms`: the price of one billed millisecond."""
        durations = [e.duration_ms for e in group]
        billed_ms = sum(max(1, math.ceil(d)) for d in durations)
        cost = len(group) * self.prices.request + billed_ms * per_ms
        errors = sum(1 for e in group if e.error_type is not None)
        totals = self.totals.setdefault((function, resource or "", version), Totals())
        totals.invocations += len(group)
        totals.errors += errors
        totals.duration_ms += sum(durations)
        totals.cost_usd += cost
        concurrent = [float(e.concurrent) for e in group]
        utilization = [
            e.provisioned_utilization for e in group if e.provisioned_utilization is not None
        ]
        stats = {
            "Invocations": Stat(len(group), float(len(group)), 1.0, 1.0),
            "Errors": Stat(
                len(group), float(errors), float(errors == len(group)), float(errors > 0)
            ),
            "Duration": Stat(len(group), sum(durations), min(durations), max(durations)),
            "ConcurrentExecutions": Stat(
                len(group), sum(concurrent), min(concurrent), max(concurrent)
            ),
        }
        if utilization:
            stats["ProvisionedConcurrencyUtilization"] = Stat(
                len(utilization), sum(utilization), min(utilization), max(utilization)
            )
            busy = [
                float(e.provisioned_executions)
                for e in group
                if e.provisioned_utilization is not None
            ]
            stats["ProvisionedConcurrentExecutions"] = Stat(
                len(busy), sum(busy), min(busy), max(busy)
            )
            if not group[0].on_provisioned:  # (grouped by it) all beyond the provisioned ones
                spilled = len(utilization)
                stats[SPILLOVER] = Stat(spilled, float(spilled), 1.0, 1.0)
                key = (function, resource or "")
                self.spillovers[key] = self.spillovers.get(key, 0) + spilled
        for dims in dimension_sets(function, resource, version):
            for metric, stat in stats.items():
                if metric in PROVISIONED_METRICS and len(dims) < PROVISIONED_METRICS[metric]:
                    continue  # Lambda keeps them per function, alias and version only
                _merge(points, metric, dims, stat)
        unreserved = [float(e.unreserved) for e in group]
        _merge(
            points,
            "UnreservedConcurrentExecutions",
            (),
            Stat(len(group), sum(unreserved), min(unreserved), max(unreserved)),
        )

    def _signal(self, s: Signal, points: dict[Key, Stat]) -> None:
        self.signals.setdefault((s.kind, s.function, s.resource or ""), Stat()).add(s.value)
        for dims in dimension_sets(s.function, s.resource, None):
            _add(points, s.kind, dims, s.value)

    def charge_provisioned(
        self, function: str, qualifier: str, instances: int, memory_mb: int, arch: str, s: float
    ) -> None:
        """Provisioned concurrency kept for `s` seconds (the publisher calls it each period)."""
        price = self.prices.provisioned_time(s, memory_mb, arch) * instances
        key = (function, qualifier)
        self.provisioned_cost[key] = self.provisioned_cost.get(key, 0.0) + price

    def record(
        self, namespace: str, metric: str, dims: Dims, values: Sequence[float], unit: str
    ) -> None:
        """Samples of a metric a function logged (EMF), in the period they arrive in."""
        key = (namespace, metric, tuple(sorted(dims)))
        now = self._current.custom.get(key)
        if now is None:
            now = self._current.custom[key] = Stat()
        total = self.custom_totals.get(key)
        if total is None:
            total = self.custom_totals[key] = Stat()
        self.custom_units[key] = unit
        for value in values:
            now.add(value)
            total.add(value)

    def window(
        self, key: Key, periods: int, offset: int = 0, namespace: str = NAMESPACE
    ) -> Stat | None:
        """The merged datapoints of `key` in `namespace` over `periods` closed periods, ending
        `offset` periods before the latest; None when no sample fell in them."""
        end = len(self.periods) - offset
        chosen = list(self.periods)[max(0, end - periods) : max(0, end)]
        custom = (namespace, key[0], tuple(sorted(key[1])))
        merged: Stat | None = None
        for period in chosen:
            if namespace == NAMESPACE:
                stat = period.datapoints.get(key)
            else:
                stat = period.custom.get(custom)
            if stat is not None:
                merged = merged or Stat()
                merged.merge(stat)
        return merged

    def cost_summary(self) -> dict[str, Any]:
        """Totals per function, version and alias, in USD, for /_samrun/state and smoke."""
        self.fold()
        functions: dict[str, dict[str, Any]] = {}

        def entry(function: str) -> dict[str, Any]:
            blank = {"invocations": 0, "usd": 0.0, "versions": {}, "aliases": {}}
            return functions.setdefault(function, blank)

        for (function, resource, version), t in self.totals.items():
            found = entry(function)
            found["invocations"] += t.invocations
            found["usd"] += t.cost_usd
            found["versions"][version] = found["versions"].get(version, 0.0) + t.cost_usd
            if resource and resource != version:
                aliases = found["aliases"]
                aliases[resource] = aliases.get(resource, 0.0) + t.cost_usd
        for (function, qualifier), usd in self.provisioned_cost.items():
            found = entry(function)
            found["usd"] += usd
            found.setdefault("provisioned", {})[qualifier] = usd
        total = sum(f["usd"] for f in functions.values())
        return {"total_usd": total, "prices": self.prices.describe(), "functions": functions}


def _merge(points: dict[Key, Stat], metric: str, dims: Dims, stat: Stat) -> None:
    found = points.get((metric, dims))
    if found is None:
        points[(metric, dims)] = Stat(stat.count, stat.sum, stat.minimum, stat.maximum)
    else:
        found.merge(stat)


def _add(points: dict[Key, Stat], metric: str, dims: Dims, value: float) -> None:
    stat = points.get((metric, dims))
    if stat is None:
        stat = points[(metric, dims)] = Stat()
    stat.add(value)
