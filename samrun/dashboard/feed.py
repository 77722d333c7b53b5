"""The dashboard's memory of what ran: bounded by design, whatever the load or the uptime.

`record` runs on the invoke path (Invoker.recorder), so it only builds one small row and keeps
the invocation's details (event, response or error, log lines) for the newest few; everything is
in fixed-size rings. Pages are sent at most one message per `INTERVAL_S` each (routes.py), with
at most `MAX_ROWS_PER_MESSAGE` rows: under load a page sees the newest rows and a count of those
it missed, never a message per invocation.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from samrun.dashboard.masking import mask_text
from samrun.invoke.event_store import QueuedEvent
from samrun.invoke.models import InvokeRequest
from samrun.invoke.resolve import Target
from samrun.invoke.telemetry import THROTTLES, Event, Signal
from samrun.observe.cost import PriceTable
from samrun.runtime.instance import Outcome

RECORDS = 500  # rows of the feed kept (the page keeps as many)
DETAILS = 100  # invocations whose event, response and logs are kept
DEAD_LETTERS = 100  # failed async events kept for redrive
SECONDS = 300  # per-second chart buckets kept
SAMPLES_PER_SECOND = 200  # durations kept per second, for p50 and p99
MAX_BODY = 16 * 1024  # of an event or a response, per invocation kept
MAX_LOG_LINES = 200
MAX_LOG_BYTES = 32 * 1024
MAX_ROWS_PER_MESSAGE = 25
MAX_MEMORY = re.compile(r"Max Memory Used: (\d+) MB")


@dataclass(slots=True)
class Second:
    """One second of the whole app, for the charts."""

    at: int
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    durations: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.durations)
        return {
            "at": self.at,
            "invocations": self.invocations,
            "errors": self.errors,
            "throttles": self.throttles,
            "p50": percentile(ordered, 0.5),
            "p99": percentile(ordered, 0.99),
        }


def percentile(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)], 2)


def clip(data: bytes, size: int | None = None, limit: int = MAX_BODY) -> str:
    """`data` as text, at most `limit` bytes of it; `size`: its size before it was cut."""
    size = len(data) if size is None else size
    text = data[:limit].decode("utf-8", "replace")
    return text if size <= limit else text + f"\n... ({size - limit} more bytes)"


def log_tail(lines: list[str]) -> list[str]:
    """The last lines, at most MAX_LOG_LINES and about MAX_LOG_BYTES of them."""
    kept: list[str] = []
    size = 0
    for line in reversed(lines[-MAX_LOG_LINES:]):
        size += len(line)
        if size > MAX_LOG_BYTES:
            kept.append("... (earlier lines not kept)")
            break
        kept.append(line)
    kept.reverse()
    return kept


class Kept(NamedTuple):
    """An invocation's details, cut to size as they are kept (a 6 MB event keeps 16 KB)."""

    event: bytes
    event_size: int
    payload: bytes  # the response, or the error document
    payload_size: int
    error_type: str | None
    logs: list[str]


def trigger_of(request: InvokeRequest) -> str:
    """What sent it: a named source (route, sqs, smoke...), through the async queue (schedule
    (async), sns (async)...), else a direct call."""
    if request.queued_at is not None:
        return f"{request.source} (async)" if request.source else "async"
    return request.source or "direct"


def error_of(payload: bytes) -> dict[str, Any]:
    """Lambda's error document (errorType, errorMessage, stackTrace), however the runtime put it."""
    try:
        document = json.loads(payload[:MAX_BODY] or b"{}")
    except ValueError:
        return {"errorMessage": clip(payload)}
    if not isinstance(document, dict):
        return {"errorMessage": clip(payload)}
    trace = document.get("stackTrace")
    return {
        "errorType": document.get("errorType"),
        "errorMessage": document.get("errorMessage"),
        "stackTrace": trace if isinstance(trace, list) else [],
    }


class Feed:
    def __init__(self, prices: PriceTable | None = None, secrets: tuple[str, ...] = ()) -> None:
        self.prices = prices
        self.secrets = secrets  # NoEcho values: masked in what the page is shown
        self.seq = 0  # of the newest row
        self.rows: deque[dict[str, Any]] = deque(maxlen=RECORDS)
        self.details: OrderedDict[str, Kept] = OrderedDict()
        self.dead: OrderedDict[str, dict[str, Any]] = OrderedDict()  # request id -> dead letter
        self.seconds: deque[Second] = deque(maxlen=SECONDS)
        self.last_ran: dict[str, float] = {}  # function -> when it last ran (the graph pulses)
        self.last_failed: dict[str, float] = {}  # function -> when it last failed
        self.messages_sent = 0  # to every page, over the uptime (bounded per second)
        self.rows_sent = 0

    # -- the invoke path --

    def record(
        self, target: Target, request: InvokeRequest, request_id: str, outcome: Outcome
    ) -> None:
        """Invoker.recorder: one row, and the details of the newest invocations."""
        config = target.config
        name = target.function.name
        error = outcome.error_type
        max_memory = None
        for line in reversed(outcome.log_lines[-3:]):
            found = MAX_MEMORY.search(line)
            if found:
                max_memory = int(found.group(1))
                break
        cost = None
        if self.prices is not None:
            arch = config.architectures[0] if config.architectures else "x86_64"
            cost = self.prices.invocation(outcome.duration_ms, config.memory_mb, arch)
        self.seq += 1
        now = time.time()
        row = {
            "seq": self.seq,
            "id": request_id,
            "at": now,
            "function": name,
            "version": target.version,
            "qualifier": target.qualifier,
            "trigger": trigger_of(request),
            "attempt": request.attempt or None,
            "status": "error" if error else "ok",
            "error_type": error,
            "duration_ms": round(outcome.duration_ms, 2),
            "billed_ms": max(1, math.ceil(outcome.duration_ms)),
            "memory_mb": config.memory_mb,
            "max_memory_mb": max_memory,
            "cold": outcome.init_duration_ms is not None,
            "init_ms": round(outcome.init_duration_ms, 2) if outcome.init_duration_ms else None,
            "cost_usd": cost,
        }
        self.rows.append(row)
        self.last_ran[name] = now
        if error:
            self.last_failed[name] = now
        second = self._second()
        second.invocations += 1
        second.errors += bool(error)
        if len(second.durations) < SAMPLES_PER_SECOND:
            second.durations.append(outcome.duration_ms)
        self.details[request_id] = Kept(
            request.payload[:MAX_BODY],
            len(request.payload),
            outcome.payload[:MAX_BODY],
            len(outcome.payload),
            error,
            log_tail(outcome.log_lines),
        )
        if len(self.details) > DETAILS:
            self.details.popitem(last=False)

    def observe(self, event: Event) -> None:
        """A telemetry observer: throttles, for the charts (invocations come by `record`)."""
        if isinstance(event, Signal) and event.kind == THROTTLES:
            self._second().throttles += 1

    def _second(self) -> Second:
        now = int(time.time())
        if not self.seconds or self.seconds[-1].at != now:
            self.seconds.append(Second(now))
        return self.seconds[-1]

    def dropped(self, event: QueuedEvent, condition: str, error: str) -> None:
        """AsyncQueue.on_dropped: an event that ended failed, kept for redrive."""
        self.dead[event.request_id] = {
            "id": event.request_id,
            "function": event.function,
            "qualifier": event.qualifier,
            "condition": condition,
            "error": error,
            "attempts": event.attempts,
            "at": time.time(),
            "payload": event.payload[:MAX_BODY],
            "redriven": None,  # the request id of its redrive, once redriven
        }
        if len(self.dead) > DEAD_LETTERS:
            self.dead.popitem(last=False)

    # -- what the page reads --

    def since(
        self, seq: int, limit: int = MAX_ROWS_PER_MESSAGE
    ) -> tuple[list[dict[str, Any]], int]:
        """The newest rows after `seq`, newest first, at most `limit`; and how many were left
        out."""
        new = min(self.seq - seq, len(self.rows))
        if new <= 0:
            return [], 0
        count = min(new, limit)
        rows = [self.rows[-1 - i] for i in range(count)]
        return rows, max(0, self.seq - seq - count)

    def activity(self, since: float) -> dict[str, list[str]]:
        """Which functions ran (and failed) after `since`: the graph pulses them."""
        return {
            "ran": [name for name, at in self.last_ran.items() if at > since],
            "failed": [name for name, at in self.last_failed.items() if at > since],
        }

    def detail(self, request_id: str) -> dict[str, Any] | None:
        row = next((r for r in reversed(self.rows) if r["id"] == request_id), None)
        kept = self.details.get(request_id)
        if row is None and kept is None:
            return None
        found: dict[str, Any] = {"row": row, "kept": kept is not None}
        if kept is not None:
            found["event"] = mask_text(clip(kept.event, kept.event_size), self.secrets)
            if kept.error_type:
                found["error"] = error_of(kept.payload)
                found["error"]["errorType"] = found["error"].get("errorType") or kept.error_type
            else:
                found["response"] = mask_text(clip(kept.payload, kept.payload_size), self.secrets)
            found["logs"] = [mask_text(line, self.secrets) for line in kept.logs]
        return found

    def dead_letters(self) -> list[dict[str, Any]]:
        return [
            {**{k: v for k, v in d.items() if k != "payload"}, "event": clip(d["payload"])}
            for d in reversed(self.dead.values())
        ]

    def series(self) -> list[dict[str, Any]]:
        return [second.as_dict() for second in self.seconds]

    def stats(self) -> dict[str, int]:
        """How much the dashboard keeps and has sent: the bounds tests check."""
        return {
            "seq": self.seq,
            "rows_kept": len(self.rows),
            "details_kept": len(self.details),
            "dead_letters_kept": len(self.dead),
            "seconds_kept": len(self.seconds),
            "messages_sent": self.messages_sent,
            "rows_sent": self.rows_sent,
        }
