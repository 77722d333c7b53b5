"""Async events that wait for a concurrency slot of their function, off the queue's workers.

Lambda's internal pollers scale to a function's reserved concurrency; they do not hammer it and
back off. So an event of a function at its limit is parked here, in arrival order, and handed
back as the gate reports released slots: a backlog drains at the limit and never starves. A
reservation of 0 can never free a slot: such events are not parked (the queue backs off).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from samrun.invoke.event_store import QueuedEvent
from samrun.invoke.gate import ConcurrencyGate


class SlotWaiters:
    def __init__(self, gate: ConcurrencyGate, ready: Callable[[QueuedEvent], None]) -> None:
        self.gate = gate
        self._ready = ready  # an event that may run now goes back to the queue through this
        self._parked: dict[str, deque[QueuedEvent]] = {}
        gate.listeners.append(self._released)

    def __len__(self) -> int:
        return sum(len(events) for events in self._parked.values())

    def must_wait(self, function: str, starting: int = 0) -> bool:
        """No free slot once the `starting` events not yet leased take theirs; one will come."""
        return self.gate.can_ever_run(function) and self.gate.free_slots(function) <= starting

    def park(self, event: QueuedEvent) -> None:
        self._parked.setdefault(event.function, deque()).append(event)

    def _released(self, function: str) -> None:
        """A slot came free (an unreserved one serves every unreserved function): hand back,
        in their order, as many parked events as there are free slots."""
        for name in list(self._parked):
            parked = self._parked[name]
            for _ in range(min(len(parked), self.gate.free_slots(name))):
                self._ready(parked.popleft())
            if not parked:
                del self._parked[name]
