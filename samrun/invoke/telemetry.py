"""The one hook point of the invoke path: what happened, for metrics, alarms, cost and smoke.

The invoke path builds one small record per fact (an invocation ended, a throttle, an async event
accepted, aged or dropped, a failed dead-letter or destination send, a stream batch's age) and
hands it to `Telemetry.emit`; observers (samrun.observe) subscribe. The warm path pays for one
record and one list append per observer: aggregation happens later, off the invoke path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

# Signal kinds, named as Lambda's metrics that count them
THROTTLES = "Throttles"
ASYNC_RECEIVED = "AsyncEventsReceived"
ASYNC_AGE = "AsyncEventAge"  # value: milliseconds
ASYNC_DROPPED = "AsyncEventsDropped"
DEAD_LETTER_ERRORS = "DeadLetterErrors"
DESTINATION_FAILURES = "DestinationDeliveryFailures"
ITERATOR_AGE = "IteratorAge"  # value: milliseconds


class Invoked(NamedTuple):
    """One invocation that reached an instance (errors included, throttles not). A named tuple:
    built on every invocation, it must be cheap to build."""

    function: str
    version: str  # the version that ran
    resource: str | None  # the qualifier the caller named (alias or version), None: unqualified
    duration_ms: float
    error_type: str | None
    memory_mb: int
    architecture: str  # x86_64 | arm64
    concurrent: int  # the function's executions in flight, this one included
    unreserved: int  # the account's unreserved executions in flight
    provisioned_utilization: float | None  # of the version's provisioned instances, if any
    on_provisioned: bool  # ran on a provisioned instance (priced as such)
    storage_mb: int = 512  # EphemeralStorage (priced past 512 MB)
    provisioned_executions: int = 0  # the version's provisioned instances busy, this one's included


@dataclass(frozen=True, slots=True)
class Signal:
    """Any other fact: `kind` is one of the constants above; `value` a count or an age (ms)."""

    kind: str
    function: str
    resource: str | None = None
    value: float = 1.0
    at: float = field(default_factory=time.time)


Event = Invoked | Signal
Observer = Callable[[Event], None]


class Telemetry:
    """Observers of the invoke path; `emit` must stay cheap (it runs on every invocation)."""

    def __init__(self) -> None:
        self.observers: list[Observer] = []

    def subscribe(self, observer: Observer) -> None:
        self.observers.append(observer)

    def emit(self, event: Event) -> None:
        for observer in self.observers:
            observer(event)

    def signal(
        self, kind: str, function: str, resource: str | None = None, value: float = 1.0
    ) -> None:
        if self.observers:
            self.emit(Signal(kind, function, resource, value))

    def iterator_age(self, function: str, age_ms: float, resource: str | None = None) -> None:
        """For stream pollers (Kinesis, DynamoDB Streams): the age of a batch's last record."""
        self.signal(ITERATOR_AGE, function, resource, age_ms)
