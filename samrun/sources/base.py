"""What every poller shares: the app's services, a mapping's live state, and invoking a batch.

A mapping's configuration is replaced, never mutated, when the ESM API or a reload updates it;
pollers read `Mapping.esm` at each step, so an update applies to the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from samrun.aws.endpoint import AwsEndpoint
from samrun.errors import TooManyRequests
from samrun.invoke.destinations import Destinations
from samrun.invoke.invoker import Invoker
from samrun.invoke.models import InvokeRequest, InvokeResult
from samrun.model import LATEST, EventSourceMapping

logger = logging.getLogger(__name__)

THROTTLE_FIRST_S, THROTTLE_MAX_S = 0.05, 1.0
PAYLOAD_LIMIT = 6 * 1024 * 1024 - 64 * 1024  # Lambda's 6 MB, less room for the envelope
ROOM_RECHECK_S = 0.1  # a bound on each wait for a freed slot, should a release be missed
Keep = Callable[[Mapping[str, Any]], bool]  # a compiled FilterCriteria
R = TypeVar("R", bound=Mapping[str, Any])


@dataclass(slots=True)
class Stats:
    """What /_samrun/state shows of one poller."""

    seen: int = 0  # messages or records read from the source
    filtered: int = 0  # dropped by FilterCriteria
    batches: int = 0  # invocations
    failures: int = 0  # invocations that failed (function error, partial failure)
    deleted: int = 0  # SQS messages deleted after success
    throttles: int = 0  # TooManyRequests answers (waited out, never dropped)
    to_destination: int = 0  # stream batches sent to the on-failure destination
    iterator_age_ms: int = 0  # streams: how far behind the newest record the poller is
    in_flight: int = 0  # batches being invoked now

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class LiveMapping:
    """One event source mapping as it runs: its UUID, its current configuration, its state."""

    uuid: str
    esm: EventSourceMapping
    keep: Keep
    state: str = "Creating"
    state_reason: str = "USER_INITIATED"
    last_modified: float = field(default_factory=time.time)
    from_template: bool = True
    stats: Stats = field(default_factory=Stats)

    def setting(self, key: str, default: Any = None) -> Any:
        """A property of the mapping beyond the model's fields (ScalingConfig, Bisect...)."""
        return self.esm.details.get(key, default)


class Poller(Protocol):
    async def start(self) -> None: ...
    def stop_taking(self) -> None: ...
    async def stop(self, drain_s: float) -> None: ...
    def wake(self) -> None: ...


@dataclass(slots=True)
class Context:
    """The app's services a poller uses, wired by the orchestrator."""

    invoker: Invoker
    aws: AwsEndpoint
    destinations: Destinations | None
    state_dir: Path
    region: str
    max_concurrency: int  # the machine's sandbox cap: no poller scales past it
    time_scale: float = 1.0
    ids: random.Random = field(default_factory=random.Random)
    _freed: asyncio.Event = field(default_factory=asyncio.Event)  # the gate released a slot

    def __post_init__(self) -> None:
        self.invoker.gate.listeners.append(lambda _function: self._freed.set())

    def limit(self, mapping: LiveMapping) -> int:
        """How many batches of `mapping` may run at once: MaximumConcurrency, the function's
        reserved concurrency and the machine's cap, whichever is lowest."""
        cap = self.max_concurrency
        scaling = mapping.setting("ScalingConfig") or {}
        maximum = scaling.get("MaximumConcurrency") if isinstance(scaling, Mapping) else None
        if isinstance(maximum, int | str) and str(maximum).isdigit() and int(maximum) > 0:
            cap = min(cap, int(maximum))  # a template parameter arrives as text
        reserved = self.invoker.gate.reserved.get(self._name(mapping))
        if reserved is not None:
            cap = min(cap, reserved)
        return max(0, cap)

    def _name(self, mapping: LiveMapping) -> str:
        function = self.invoker.directory.graph.function(mapping.esm.function)
        return function.name if function else mapping.esm.function

    def iterator_age(self, mapping: LiveMapping, age_ms: float) -> None:
        """The IteratorAge metric of a stream mapping's function, for a batch just read."""
        qualifier = mapping.esm.qualifier
        resource = None if qualifier in (None, LATEST) else qualifier
        self.invoker.telemetry.iterator_age(self._name(mapping), age_ms, resource)

    async def room(self, mapping: LiveMapping) -> None:
        """Wait until the function can take one more invocation (reserved and account limits)."""
        name = self._name(mapping)
        while not self.invoker.gate.admits(name):
            self._freed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(ROOM_RECHECK_S):
                    await self._freed.wait()

    async def invoke(
        self,
        mapping: LiveMapping,
        records: Sequence[Mapping[str, Any]],
        extra: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> InvokeResult:
        """Invoke the mapping's function with `{"Records": records, **extra}`, synchronously;
        a throttle is waited out (with backoff), never counted as a failure."""
        payload = json.dumps({"Records": list(records), **(extra or {})}).encode()
        delay = THROTTLE_FIRST_S
        mapping.stats.in_flight += 1
        try:
            while True:
                await self.room(mapping)
                esm = mapping.esm
                request = InvokeRequest(
                    function=esm.function,
                    qualifier=esm.qualifier,
                    payload=payload,
                    trace_id=trace_id,
                    source=esm.source_type,
                )
                try:
                    return await self.invoker.invoke(request)
                except TooManyRequests:
                    mapping.stats.throttles += 1
                    await asyncio.sleep(delay)
                    delay = min(THROTTLE_MAX_S, delay * 2)
        finally:
            mapping.stats.in_flight -= 1


def item_failures(result: InvokeResult, valid: set[str]) -> set[str] | None:
    """The identifiers a ReportBatchItemFailures response names; None when the response makes
    the whole batch a failure (invalid JSON, an empty, null or unknown itemIdentifier)."""
    if not result.payload.strip():
        return set()
    try:
        body = json.loads(result.payload)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return set()
    failures = body.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    found: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in valid:
            return None
        found.add(identifier)
    return found


def fitted(records: Sequence[R]) -> list[list[R]]:
    """`records` in order, in as few parts as keep each invocation's payload under 6 MB."""
    parts: list[list[R]] = []
    size = 0
    for record in records:
        length = len(json.dumps(record)) + 2
        if not parts or size + length > PAYLOAD_LIMIT:
            parts.append([])
            size = 0
        parts[-1].append(record)
        size += length
    return parts
