"""GET /_samrun/metrics: the AWS/Lambda metrics as Prometheus text, written by prometheus_client.

Counters are running totals since start; labels follow Lambda's dimensions (function_name,
resource for an alias or version the caller named, executed_version). Gauges are read live.

Metrics functions log in the embedded metric format are summaries (`_count`, `_sum` since start)
named `<namespace>_<metric>` (characters Prometheus does not allow become `_`), one series per
dimension set, the dimensions as labels (empty where a set lacks one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from samrun.invoke import telemetry
from samrun.observe.metrics import MetricStore, Stat

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LABELS = ["function_name", "resource", "executed_version"]
SIGNAL_COUNTERS = {
    telemetry.THROTTLES: ("lambda_throttles", "Invocations throttled by concurrency limits"),
    telemetry.ASYNC_RECEIVED: ("lambda_async_events_received", "Events accepted for async"),
    telemetry.ASYNC_DROPPED: ("lambda_async_events_dropped", "Async events dropped unrun"),
    telemetry.DEAD_LETTER_ERRORS: ("lambda_dead_letter_errors", "Failed dead-letter sends"),
    telemetry.DESTINATION_FAILURES: (
        "lambda_destination_delivery_failures",
        "Failed destination deliveries",
    ),
}
SIGNAL_SUMMARIES = {
    telemetry.ASYNC_AGE: ("lambda_async_event_age_milliseconds", "Age of async events at run"),
    telemetry.ITERATOR_AGE: ("lambda_iterator_age_milliseconds", "Age of stream batches"),
}


class LambdaCollector(Collector):
    def __init__(self, store: MetricStore, in_flight: Callable[[], dict[str, int]]) -> None:
        self.store = store
        self.in_flight = in_flight

    def collect(self) -> Iterator[Metric]:
        self.store.fold()
        invocations = CounterMetricFamily("lambda_invocations", "Invocations", labels=LABELS)
        errors = CounterMetricFamily(
            "lambda_errors", "Invocations with a function error", labels=LABELS
        )
        duration = SummaryMetricFamily("lambda_duration_milliseconds", "Duration", labels=LABELS)
        cost = CounterMetricFamily(
            "lambda_cost_usd", "Price of the invocations (USD)", labels=LABELS
        )
        for (function, resource, version), t in sorted(self.store.totals.items()):
            labels = [function, resource, version]
            invocations.add_metric(labels, t.invocations)
            errors.add_metric(labels, t.errors)
            duration.add_metric(labels, t.invocations, t.duration_ms)
            cost.add_metric(labels, t.cost_usd)
        yield from (invocations, errors, duration, cost)
        signal_labels = ["function_name", "resource"]
        for kind, (name, doc) in SIGNAL_COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=signal_labels)
            for (k, function, resource), stat in sorted(self.store.signals.items()):
                if k == kind:
                    family.add_metric([function, resource], stat.sum)
            yield family
        for kind, (name, doc) in SIGNAL_SUMMARIES.items():
            summary = SummaryMetricFamily(name, doc, labels=signal_labels)
            for (k, function, resource), stat in sorted(self.store.signals.items()):
                if k == kind:
                    summary.add_metric([function, resource], stat.count, stat.sum)
            yield summary
        concurrent = GaugeMetricFamily(
            "lambda_concurrent_executions", "Executions in flight now", labels=["function_name"]
        )
        for function, count in sorted(self.in_flight().items()):
            concurrent.add_metric([function], count)
        yield concurrent
        yield from self._provisioned()
        yield from self._custom()

    def _provisioned(self) -> Iterator[Metric]:
        """Provisioned concurrency per alias or version: spillovers since start, and the
        Maximum of the last closed period of executions on provisioned instances and of their
        utilisation (what target tracking scales on, samrun/scaling/)."""
        labels = ["function_name", "resource"]
        spilled = CounterMetricFamily(
            "lambda_provisioned_concurrency_spillover_invocations",
            "Invocations beyond the provisioned instances, run on demand",
            labels=labels,
        )
        for (function, resource), count in sorted(self.store.spillovers.items()):
            spilled.add_metric([function, resource], count)
        yield spilled
        last = self.store.periods[-1].datapoints if self.store.periods else {}
        for metric, name, doc in (
            (
                "ProvisionedConcurrentExecutions",
                "lambda_provisioned_concurrent_executions",
                "Executions on provisioned instances (Maximum, last period)",
            ),
            (
                "ProvisionedConcurrencyUtilization",
                "lambda_provisioned_concurrency_utilization",
                "Busy share of the provisioned instances (Maximum, last period)",
            ),
        ):
            gauge = GaugeMetricFamily(name, doc, labels=labels)
            for (found, dims), stat in sorted(last.items()):
                if found == metric and len(dims) == 2:
                    function, resource = dims[0][1], dims[1][1]  # Resource: NAME:QUALIFIER
                    gauge.add_metric([function, resource[len(function) + 1 :]], stat.maximum)
            yield gauge

    def _custom(self) -> Iterator[Metric]:
        """The EMF metrics: one summary per namespace and metric."""
        families: dict[str, list[tuple[tuple[tuple[str, str], ...], Stat, str, str]]] = {}
        for (namespace, metric, dims), stat in sorted(self.store.custom_totals.items()):
            name = _name(f"{namespace}_{metric}")
            if name.startswith("lambda_"):  # never one of the families above
                name = f"emf_{name}"
            unit = self.store.custom_units.get((namespace, metric, dims), "None")
            series = tuple((_label(k), v) for k, v in dims)
            families.setdefault(name, []).append((series, stat, f"{namespace} {metric}", unit))
        for name, members in families.items():
            labels = sorted({k for series, *_ in members for k, _ in series})
            _, _, what, unit = members[0]
            family = SummaryMetricFamily(
                name, f"{what} ({unit}), from embedded metric format logs", labels=labels
            )
            for series, stat, _, _ in members:
                values = dict(series)
                family.add_metric([values.get(k, "") for k in labels], stat.count, stat.sum)
            yield family


def registry(store: MetricStore, in_flight: Callable[[], dict[str, int]]) -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    found.register(LambdaCollector(store, in_flight))
    return found


def exposition(found: CollectorRegistry) -> bytes:
    return generate_latest(found)


def _name(text: str) -> str:
    name = re.sub(r"[^a-zA-Z0-9_:]", "_", text)
    return name if not name[:1].isdigit() else f"_{name}"


def _label(text: str) -> str:
    """A dimension name as a label name (`__` starts names Prometheus reserves)."""
    label = re.sub(r"[^a-zA-Z0-9_]", "_", text)
    if label[:1].isdigit() or label.startswith("__"):
        label = f"d{label}"
    return label
