"""The operational side of a running app: metrics, alarms, cost and logs, on one clock.

Every metrics period (Lambda's minute divided by --time-scale) the store closes a period, the
alarms are evaluated on it, provisioned concurrency is charged, and the period's datapoints go
to the AWS endpoint with PutMetricData (not with --aws-profile: real CloudWatch keeps AWS/Lambda
itself and refuses writes to it). Pending records are folded every second, off the invoke path.

Function lines in the embedded metric format become metrics on the way to the log (`tap`), as
CloudWatch extracts them from the log group: recorded for alarms and Prometheus at once, and
sent with PutMetricData each second, each datum with its own timestamp and values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from samrun.aws.endpoint import AwsEndpoint
from samrun.invoke.telemetry import Telemetry
from samrun.model import AppGraph
from samrun.observe import emf, prometheus
from samrun.observe.alarms import Alarms
from samrun.observe.cloudwatch_logs import LogShipper
from samrun.observe.cost import PriceTable
from samrun.observe.metrics import NAMESPACE, UNITS, MetricStore, Period

logger = logging.getLogger(__name__)

LAMBDA_PERIOD_S = 60.0
FOLD_S = 1.0
PUT_BATCH = 500
EMF_BATCH = 100  # data of up to 100 values each: well under PutMetricData's 1 MB request
EMF_WARNINGS = 100  # distinct (function, reason) said; the rest are counted in the state only
# (function, qualifier, instances, memory MB, architecture) of provisioned concurrency now
Provisioned = Callable[[], Iterable[tuple[str, str, int, int, str]]]


class Observability:
    def __init__(
        self,
        graph: AppGraph,
        aws: AwsEndpoint,
        prices: PriceTable,
        *,
        time_scale: float,
        publish: bool = True,
        in_flight: Callable[[], dict[str, int]],
        provisioned: Provisioned,
    ) -> None:
        self.aws = aws
        self.publish = publish  # --no-cloudwatch: metrics stay local
        self.period_s = LAMBDA_PERIOD_S / (time_scale if time_scale > 0 else 1.0)
        self.store = MetricStore(prices, self.period_s)
        self.alarms = Alarms(graph.alarms, self.store, LAMBDA_PERIOD_S)
        self.registry = prometheus.registry(self.store, in_flight)
        self.logs = LogShipper(lambda: aws.client("logs", validated=False))
        self._provisioned = provisioned
        self._task: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()
        self._charged_at = time.monotonic()
        self.published = 0  # datapoints sent with PutMetricData
        self.emf_counts = {"documents": 0, "invalid": 0, "published": 0}  # EMF lines, data sent
        self._emf_unsent: list[emf.Datum] = []
        self._emf_warned: set[tuple[str, str]] = set()

    @property
    def publishes(self) -> bool:
        return self.publish and self.aws.url is not None

    def attach(self, telemetry: Telemetry) -> None:
        telemetry.subscribe(self.store.observe)

    def tap(self, function: str, emit: Callable[[str], None]) -> Callable[[str], None]:
        """`function`'s output sink: `emit`, and the metrics of its EMF lines extracted (a
        substring test per line is all other lines pay)."""
        extract = self.emf_line

        def write(line: str) -> None:
            emit(line)
            if "_aws" in line:
                extract(function, line)

        return write

    def emf_line(self, function: str, line: str) -> None:
        """A line that may be an EMF document: its metrics recorded and queued; an invalid
        document stays a log line, said once per function and reason."""
        try:
            data = emf.extract(line)
        except emf.InvalidEmf as exc:
            self.emf_counts["invalid"] += 1
            said = (function, str(exc))
            if said not in self._emf_warned and len(self._emf_warned) < EMF_WARNINGS:
                self._emf_warned.add(said)
                logger.warning(
                    "%s: a log line in embedded metric format gives no metric: %s", function, exc
                )
            return
        if not data:
            return
        self.emf_counts["documents"] += 1
        for datum in data:
            self.store.record(
                datum.namespace, datum.name, datum.dimensions, datum.values, datum.unit
            )
        if self.publishes:
            self._emf_unsent += data

    async def flush_emf(self) -> None:
        if not self._emf_unsent:
            return
        batch, self._emf_unsent = self._emf_unsent, []
        try:
            await asyncio.to_thread(self._put_emf, batch)
        except Exception as exc:  # the endpoint's errors: keep running, say so
            logger.warning("CloudWatch: PutMetricData of logged (EMF) metrics failed: %s", exc)
        else:
            self.emf_counts["published"] += len(batch)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.tick()  # what the last partial period saw is published too
        if self._publishing:
            await asyncio.wait(self._publishing, timeout=5)
        await self.logs.flush()
        await self.flush_emf()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_period = loop.time() + self.period_s
        while True:
            await asyncio.sleep(max(0.0, min(FOLD_S, next_period - loop.time())))
            self.store.fold()
            await self.logs.flush()
            await self.flush_emf()
            if loop.time() >= next_period:
                next_period += self.period_s
                self.tick()

    def tick(self) -> None:
        """Close a period: charge provisioned concurrency, evaluate alarms, publish."""
        now = time.monotonic()
        elapsed, self._charged_at = now - self._charged_at, now
        for function, qualifier, instances, memory, arch in self._provisioned():
            self.store.charge_provisioned(function, qualifier, instances, memory, arch, elapsed)
        period = self.store.roll()
        self.alarms.evaluate()
        if self.publishes and period.datapoints:
            task = asyncio.get_running_loop().create_task(self._publish(period))
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)

    async def _publish(self, period: Period) -> None:
        data = metric_data(period)
        try:
            await asyncio.to_thread(self._put, data)
        except Exception as exc:  # the endpoint's errors: keep running, say so
            logger.warning("CloudWatch: PutMetricData failed: %s", exc)
        else:
            self.published += len(data)

    def _put(self, data: list[dict[str, Any]]) -> None:
        client = self.aws.client("cloudwatch")
        for start in range(0, len(data), PUT_BATCH):
            client.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + PUT_BATCH])

    def _put_emf(self, batch: list[emf.Datum]) -> None:
        client = self.aws.client("cloudwatch")
        namespaces: dict[str, list[dict[str, Any]]] = {}
        for datum in batch:
            namespaces.setdefault(datum.namespace, []).append(emf_metric_datum(datum))
        for namespace, data in namespaces.items():
            for start in range(0, len(data), EMF_BATCH):
                client.put_metric_data(
                    Namespace=namespace, MetricData=data[start : start + EMF_BATCH]
                )

    async def metrics_handler(self, request: web.Request) -> web.Response:
        body = prometheus.exposition(self.registry)
        return web.Response(body=body, headers={"Content-Type": prometheus.CONTENT_TYPE})

    def state(self) -> dict[str, object]:
        return {
            "alarms": self.alarms.state(),
            "cost": self.store.cost_summary(),
            "metrics": {
                "period_s": self.period_s,
                "published": self.published,
                "emf": dict(self.emf_counts),
            },
        }


def metric_data(period: Period) -> list[dict[str, Any]]:
    """A period's datapoints as PutMetricData's StatisticValues, stamped at its start."""
    stamp = datetime.fromtimestamp(period.start, UTC)
    return [
        {
            "MetricName": metric,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
            "Timestamp": stamp,
            "StatisticValues": {
                "SampleCount": float(stat.count),
                "Sum": stat.sum,
                "Minimum": stat.minimum,
                "Maximum": stat.maximum,
            },
            "Unit": UNITS.get(metric, "Count"),
        }
        for (metric, dims), stat in period.datapoints.items()
    ]


def emf_metric_datum(datum: emf.Datum) -> dict[str, Any]:
    """One extracted datum for PutMetricData: its values with their counts, its own time."""
    counts: dict[float, int] = {}
    for value in datum.values:
        counts[value] = counts.get(value, 0) + 1
    return {
        "MetricName": datum.name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in datum.dimensions],
        "Timestamp": datetime.fromtimestamp(datum.timestamp_ms / 1000, UTC),
        "Values": list(counts),
        "Counts": [float(c) for c in counts.values()],
        "Unit": datum.unit,
        "StorageResolution": datum.storage_resolution,
    }
