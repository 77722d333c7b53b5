"""Schedules: EventBridge scheduled rules and EventBridge Scheduler schedules, on a scaled clock.

samrun keeps the time itself (no rule is created on the endpoint): a schedule fires on the
`ScaledClock`, whose time runs `time_scale` times faster than the wall clock from the moment
`up` starts, so `rate(1 minute)` with `--time-scale 60` fires every second and a cron schedule
is seen at the (scaled) wall time it names. Each firing is an asynchronous invocation.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from samrun.model import Schedule
from samrun.sources.cron import ScheduleExpression, parse

logger = logging.getLogger(__name__)

Fire = Callable[[Schedule, bytes], Awaitable[None]]


class ScaledClock:
    """Wall time from `origin` on, running `scale` times faster."""

    def __init__(self, scale: float = 1.0, origin: float | None = None) -> None:
        self.scale = scale if scale > 0 else 1.0
        self.origin = time.time() if origin is None else origin

    def now(self) -> datetime:
        real = time.time()
        return datetime.fromtimestamp(self.origin + (real - self.origin) * self.scale, UTC)

    async def sleep_until(self, when: datetime) -> None:
        while (left := (when - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(left / self.scale, 60.0))


def _date(text: str | None) -> datetime | None:
    """An ISO 8601 date-time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_arn(schedule: Schedule, region: str, account_id: str) -> str:
    name = schedule.name or schedule.logical_id or schedule.function
    if schedule.kind == "scheduler":
        return f"arn:aws:scheduler:{region}:{account_id}:schedule/default/{name}"
    return f"arn:aws:events:{region}:{account_id}:rule/{name}"


def scheduled_event(
    schedule: Schedule, when: datetime, region: str, account_id: str
) -> dict[str, object]:
    """EventBridge's "Scheduled Event", as a scheduled rule sends it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": iso(when),
        "region": region,
        "resources": [schedule_arn(schedule, region, account_id)],
        "detail": {},
    }


def payload(schedule: Schedule, when: datetime, region: str, account_id: str) -> bytes:
    """What the function receives: the target's Input, else the scheduled event (rules) or
    `{}` (Scheduler); Scheduler's context attributes are filled in its Input."""
    if schedule.kind == "scheduler":
        text = schedule.input or "{}"
        for key, value in {
            "<aws.scheduler.schedule-arn>": schedule_arn(schedule, region, account_id),
            "<aws.scheduler.scheduled-time>": iso(when),
            "<aws.scheduler.execution-id>": str(uuid.uuid4()),
            "<aws.scheduler.attempt-number>": "1",
        }.items():
            text = text.replace(key, value)
        return text.encode()
    if schedule.input is not None:
        return schedule.input.encode()
    return json.dumps(scheduled_event(schedule, when, region, account_id)).encode()


class ScheduleRunner:
    """One schedule: waits for its next firing on the clock, fires, repeats."""

    def __init__(
        self, schedule: Schedule, clock: ScaledClock, fire: Fire, *, region: str, account_id: str
    ) -> None:
        self.schedule = schedule
        self.clock = clock
        self.fire = fire
        self.region = region
        self.account_id = account_id
        self.fired = 0
        self.failed = 0  # firings failed for a missing permission (--enforce-iam)
        self.error: str | None = None
        self.expression: ScheduleExpression | None = None
        self.started = clock.now()
        self.next_firing: datetime | None = None
        self.window: tuple[datetime | None, datetime | None] = (None, None)
        try:
            self.expression = parse(schedule.expression, schedule.timezone)
            self.window = (_date(schedule.start_date), _date(schedule.end_date))
            self.next_firing = self._next(self.started)
        except ValueError as exc:
            self.error = str(exc)
        self._task: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        return self.schedule.enabled and self.expression is not None and self.error is None

    def start(self) -> None:
        if self.active and self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def fire_now(self) -> None:
        await self._fire(self.clock.now())

    def _next(self, after: datetime) -> datetime | None:
        """The next firing after `after`, inside Scheduler's StartDate..EndDate when set."""
        assert self.expression is not None
        start, end = self.window
        if start is not None and after < start:
            after = start - timedelta(microseconds=1)
        when = self.expression.next_after(after, start or self.started)
        return None if when is None or (end is not None and when > end) else when

    async def _run(self) -> None:
        while self.next_firing is not None:
            when = self.next_firing
            await self.clock.sleep_until(when)
            self.next_firing = self._next(when)
            await self._fire(when)

    async def _fire(self, when: datetime) -> None:
        try:
            await self.fire(
                self.schedule, payload(self.schedule, when, self.region, self.account_id)
            )
            self.fired += 1
        except Exception as exc:  # the invoke path's errors (e.g. a removed function)
            logger.warning("schedule %s: %s", self.schedule.logical_id, exc)

    def describe(self) -> str:
        if self.error:
            return f"invalid: {self.error}"
        if not self.schedule.enabled:
            return "disabled"
        return f"next {iso(self.next_firing)}" if self.next_firing else "no further firing"
