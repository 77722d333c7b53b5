"""Lambda's concurrency limits, applied before a pool is asked for an instance.

- the account limit (1000 by default): functions without a reservation share what the
  reservations leave, and Lambda keeps at least 100 of it unreserved;
- reserved concurrency per function (0 throttles every invocation);
- scaling: a function bursts to `burst` concurrent executions at once, then gains 500 more per
  minute (divided by the time scale) while demand stays at its ceiling.

Over a limit, `lease` raises TooManyRequests with Lambda's Reason at once: it never queues. One
event loop means plain counters, no locks. The async queue, which must wait for a slot as Lambda's
internal pollers do, asks `free_slots` and hears of every released slot through `listeners`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from samrun.errors import InvalidParameterValue, TooManyRequests

MIN_UNRESERVED = 100
SCALE_STEP = 500  # executions a function gains each minute past its burst
RESERVED_REASON = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_REASON = "ConcurrentInvocationLimitExceeded"


class ConcurrencyGate:
    def __init__(
        self,
        account_limit: int = 1000,
        burst: int = 1000,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_limit = account_limit
        self.burst = burst
        self.time_scale = time_scale
        self._clock = clock
        self.reserved: dict[str, int] = {}
        self.in_flight: dict[str, int] = {}
        self.unreserved_in_flight = 0
        self._scaling_since: dict[str, float] = {}
        self.listeners: list[Callable[[str], None]] = []  # told of each released slot

    def free_slots(self, function: str) -> int:
        """How many more executions of `function` `lease` would admit now."""
        running = self.in_flight.get(function, 0)
        reserved = self.reserved.get(function)
        if reserved is not None:
            free = reserved - running
        else:
            free = self.unreserved_limit - self.unreserved_in_flight
        return max(0, min(free, self._ceiling(function, running) - running))

    def can_ever_run(self, function: str) -> bool:
        """False for a reservation of 0 (or an account with nothing left unreserved): waiting
        for a slot would wait forever, so such a throttle is retried with backoff."""
        reserved = self.reserved.get(function)
        return (reserved if reserved is not None else self.unreserved_limit) > 0

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self.reserved.values())

    def set_reserved(self, function: str, reserved: int | None) -> None:
        """PutFunctionConcurrency (None: DeleteFunctionConcurrency), with Lambda's checks."""
        if reserved is None:
            self.reserved.pop(function, None)
            self._released(function)
            return
        others = sum(v for name, v in self.reserved.items() if name != function)
        if reserved < 0 or self.account_limit - others - reserved < MIN_UNRESERVED:
            raise InvalidParameterValue(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        self.reserved[function] = reserved
        self._released(function)  # a larger reservation frees slots

    def _released(self, function: str) -> None:
        for listener in self.listeners:
            listener(function)

    def seed(self, reservations: Mapping[str, int | None]) -> None:
        """The template's ReservedConcurrentExecutions, checked as the API checks them."""
        for function, reserved in reservations.items():
            if reserved is not None:
                self.set_reserved(function, reserved)

    def admits(self, function: str) -> bool:
        """Whether `lease(function)` would be granted now: pollers wait for this, not for 429s."""
        try:
            self._admit(function)
        except TooManyRequests:
            return False
        return True

    @contextmanager
    def lease(self, function: str) -> Iterator[None]:
        """Hold one concurrent execution of `function` for the duration of the block."""
        self._admit(function)
        reserved = function in self.reserved
        self.in_flight[function] = self.in_flight.get(function, 0) + 1
        if not reserved:
            self.unreserved_in_flight += 1
        try:
            yield
        finally:
            self.in_flight[function] -= 1
            if not reserved:
                self.unreserved_in_flight -= 1
            if self.in_flight[function] == 0:
                self._scaling_since.pop(function, None)
            self._released(function)

    def _admit(self, function: str) -> None:
        running = self.in_flight.get(function, 0)
        reserved = self.reserved.get(function)
        if reserved is not None and running >= reserved:
            raise TooManyRequests("Rate Exceeded.", Reason=RESERVED_REASON)
        if reserved is None and self.unreserved_in_flight >= self.unreserved_limit:
            raise TooManyRequests("Rate Exceeded.", Reason=ACCOUNT_REASON)
        if running >= self._ceiling(function, running):
            raise TooManyRequests("Rate Exceeded.", Reason=ACCOUNT_REASON)

    def _ceiling(self, function: str, running: int) -> int:
        """The burst, plus 500 for each (scaled) minute the function has been at its ceiling."""
        if running < self.burst:
            return self.burst
        now = self._clock()
        since = self._scaling_since.setdefault(function, now)
        minutes = int((now - since) * self.time_scale / 60)
        return self.burst + SCALE_STEP * minutes
