"""X-Ray on the invoke path: trace headers, Lambda's sampling, and Lambda's own segments.

Lambda's rules: a function with `Tracing: Active` continues an incoming `X-Amzn-Trace-Id` (its
`Sampled` decision included) or, without one (or without a decision), decides itself (the
default rule: the first request each second, then 5 %; `--trace-sample-rate` sets the rate). A
`PassThrough` function only passes the header on: no decision, no segments. A sampled invocation
records the `AWS::Lambda` service segment (parent: the caller's segment) and the
`AWS::Lambda::Function` segment with `Initialization` (a cold start), `Invocation` and `Overhead`
subsegments; the runtime gets `Parent=<the function segment's id>` so the function's SDK hangs
its subsegments under it.

Documents go to `publish` (set by the app: the trace sinks); nothing here blocks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Document = dict[str, Any]
Publish = Callable[[list[Document]], None]

DEFAULT_RESERVOIR = 1  # traced each second before the rate applies
DEFAULT_RATE = 0.05
ACTIVE = "Active"
# errors of the runtime or the sandbox, not of the function's code: X-Ray faults
FAULT_PREFIXES = ("Runtime.", "Sandbox.")


def parse(header: str | None) -> dict[str, str]:
    """`Root=1-...;Parent=...;Sampled=1;Lineage=...` as a dict (keys as given)."""
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            fields[key] = value
    return fields


def render(fields: dict[str, str]) -> str:
    return ";".join(f"{key}={value}" for key, value in fields.items())


def new_root(ids: random.Random, now: float | None = None) -> str:
    return f"1-{int(now or time.time()):08x}-{ids.getrandbits(96):024x}"


def new_id(ids: random.Random) -> str:
    return f"{ids.getrandbits(64):016x}"


class Sampler:
    """Lambda's default rule (a reservoir per second, then a fixed rate), or one fixed rate."""

    def __init__(self, rate: float | None = None, ids: random.Random | None = None) -> None:
        self.rate = rate
        self._ids = ids or random.Random()
        self._second = -1
        self._taken = 0

    def sample(self, now: float) -> bool:
        if self.rate is not None:
            return self.rate >= 1.0 or self._ids.random() < self.rate
        second = int(now)
        if second != self._second:
            self._second, self._taken = second, 0
        if self._taken < DEFAULT_RESERVOIR:
            self._taken += 1
            return True
        return self._ids.random() < DEFAULT_RATE


@dataclass(slots=True)
class Span:
    """A sampled invocation's ids and times, until its segments are written."""

    root: str
    parent: str | None  # the caller's segment, None when the trace starts here
    service_id: str
    function_id: str
    start: float
    extra: dict[str, str] = field(default_factory=dict)  # Lineage and any other field


class Tracer:
    """Decides, per invocation, what the runtime's trace header is and whether Lambda records
    segments; writes them. `publish` None: nothing is recorded (samrun invoke, tests)."""

    def __init__(self, rate: float | None = None) -> None:
        self.ids = random.Random()
        self.sampler = Sampler(rate, self.ids)
        self.publish: Publish | None = None
        self.region = "us-east-1"
        self.account_id = "123456789012"

    def begin(self, header: str | None, mode: str | None) -> tuple[str, Span | None]:
        """(the header the runtime gets, the span when Lambda records this invocation)."""
        if mode != ACTIVE or self.publish is None:
            return header or self.unsampled(), None
        fields = parse(header)
        now = time.time()
        root = fields.pop("Root", "") or new_root(self.ids, now)
        parent = fields.pop("Parent", None)
        decision = fields.pop("Sampled", "")
        sampled = decision == "1" if decision in ("0", "1") else self.sampler.sample(now)
        if not sampled:
            return render(
                {"Root": root, **({"Parent": parent} if parent else {}), "Sampled": "0", **fields}
            ), None
        span = Span(root, parent, new_id(self.ids), new_id(self.ids), now, fields)
        runtime = {"Root": root, "Parent": span.function_id, "Sampled": "1", **fields}
        return render(runtime), span

    def decide(self, header: str | None, mode: str | None) -> str | None:
        """An async event's header at accept: for an Active function, a root and a sampling
        decision now, so that every attempt continues one trace (or none)."""
        if mode != ACTIVE or self.publish is None:
            return header
        fields = parse(header)
        if fields.get("Root") and fields.get("Sampled") in ("0", "1"):
            return header
        now = time.time()
        fields.setdefault("Root", new_root(self.ids, now))
        fields["Sampled"] = "1" if self.sampler.sample(now) else "0"
        return render(fields)

    def unsampled(self) -> str:
        return f"Root={new_root(self.ids)};Parent={new_id(self.ids)};Sampled=0"

    def start_segment(
        self, header: str | None, name: str, origin: str, *, sample: bool | None = None
    ) -> tuple[str, Document | None]:
        """A segment of a service in front of Lambda (an API stage): continue `header` or start
        a trace; (the header to pass on, the open segment when sampled)."""
        fields = parse(header)
        now = time.time()
        root = fields.pop("Root", "") or new_root(self.ids, now)
        parent = fields.pop("Parent", None)
        decision = fields.pop("Sampled", "")
        if sample is None:
            sample = decision == "1" if decision in ("0", "1") else self.sampler.sample(now)
        if not sample or self.publish is None:
            passed = {"Root": root, **({"Parent": parent} if parent else {}), "Sampled": "0"}
            return render({**passed, **fields}), None
        segment: Document = {
            "id": new_id(self.ids),
            "trace_id": root,
            "name": name,
            "origin": origin,
            "start_time": now,
        }
        if parent:
            segment["parent_id"] = parent
        return render({"Root": root, "Parent": segment["id"], "Sampled": "1", **fields}), segment

    def end_segment(self, segment: Document, status: int) -> None:
        segment["end_time"] = time.time()
        segment.setdefault("http", {})["response"] = {"status": status}
        mark_status(segment, status)
        if self.publish is not None:
            self.publish([segment])

    def throttled(self, span: Span, function: str, arn: str) -> None:
        """A 429: the service segment alone, marked `throttle` (and `error`, a 4xx)."""
        end = time.time()
        service = self._service(span, function, arn, end)
        service["http"] = {"response": {"status": 429}}
        service.update(error=True, throttle=True)
        service["cause"] = {"exceptions": [{"message": "Rate Exceeded.", "type": "Throttled"}]}
        self._send([service])

    def finish(
        self,
        span: Span,
        *,
        function: str,
        arn: str,
        request_id: str,
        version: str,
        duration_ms: float,
        init_ms: float | None,
        error_type: str | None,
        error_payload: bytes = b"",
        queued_at: float | None = None,
        attempt: int = 0,
    ) -> None:
        """Both segments of an invocation that reached an instance."""
        end = time.time()
        run_s = duration_ms / 1000
        init_s = (init_ms or 0.0) / 1000
        run_start = max(span.start, end - run_s)
        init_start = max(span.start, run_start - init_s)
        service = self._service(span, function, arn, end, queued_at)
        service["aws"]["request_id"] = request_id
        service["http"] = {"response": {"status": 200}}
        if queued_at is not None:
            service["subsegments"] = [
                self._sub("Dwell Time", queued_at, span.start),
                self._sub(f"Attempt #{attempt}", span.start, end),
            ]
        subsegments = []
        if init_ms is not None:
            subsegments.append(self._sub("Initialization", init_start, run_start))
        invocation = self._sub("Invocation", run_start, end)
        subsegments.append(invocation)
        subsegments.append(self._sub("Overhead", end, end))
        segment: Document = {
            "id": span.function_id,
            "trace_id": span.root,
            "parent_id": span.service_id,
            "name": function,
            "origin": "AWS::Lambda::Function",
            "start_time": init_start if init_ms is not None else run_start,
            "end_time": end,
            "aws": {
                "function_arn": arn,
                "resource_names": [function],
                "account_id": self.account_id,
                "version": version,
                **({"cold_start": True} if init_ms is not None else {}),
            },
            "subsegments": subsegments,
        }
        if error_type:
            kind = "fault" if error_type.startswith(FAULT_PREFIXES) else "error"
            cause = {"exceptions": [{"type": error_type, "message": message_of(error_payload)}]}
            for doc in (segment, invocation):
                doc[kind] = True
                doc["cause"] = cause
            if kind == "fault":
                service["fault"] = True
        self._send([service, segment])

    def _service(
        self, span: Span, function: str, arn: str, end: float, start: float | None = None
    ) -> Document:
        service: Document = {
            "id": span.service_id,
            "trace_id": span.root,
            "name": function,
            "origin": "AWS::Lambda",
            "start_time": start if start is not None else span.start,
            "end_time": end,
            "aws": {"function_arn": arn, "region": self.region, "operation": "Invoke"},
        }
        if span.parent:
            service["parent_id"] = span.parent
        return service

    def _sub(self, name: str, start: float, end: float) -> Document:
        return {"id": new_id(self.ids), "name": name, "start_time": start, "end_time": end}

    def _send(self, documents: list[Document]) -> None:
        if self.publish is not None:
            self.publish(documents)


def mark_status(segment: Document, status: int) -> None:
    """X-Ray's marks from an HTTP status: 429 throttle (and error), 4xx error, 5xx fault."""
    if status == 429:
        segment["throttle"] = True
    if 400 <= status < 500:
        segment["error"] = True
    elif status >= 500:
        segment["fault"] = True


def message_of(payload: bytes) -> str:
    import json

    try:
        body = json.loads(payload or b"{}")
    except ValueError:
        return ""
    return str(body.get("errorMessage", "")) if isinstance(body, dict) else ""
