"""Schedule runners without a clock wait: their next firing inside Scheduler's StartDate and
EndDate, and the payload each kind of schedule sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from samrun.model import Schedule
from samrun.sources.schedules import ScaledClock, ScheduleRunner, payload

WHEN = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def never(schedule: Schedule, body: bytes) -> None:
    raise AssertionError("not fired in these tests")


def runner(**fields: object) -> ScheduleRunner:
    schedule = Schedule(function="f", logical_id="S", **fields)  # type: ignore[arg-type]
    return ScheduleRunner(schedule, ScaledClock(), never, region="eu-west-1", account_id="1")


def test_start_and_end_dates_bound_the_firings() -> None:
    later = runner(
        expression="cron(0 9 * * ? *)", kind="scheduler", start_date="2100-01-01T00:00:00"
    )
    assert later.next_firing == datetime(2100, 1, 1, 9, 0, tzinfo=UTC)
    over = runner(expression="rate(5 minutes)", kind="scheduler", end_date="2020-01-01T00:00:00Z")
    assert over.next_firing is None and over.describe() == "no further firing"
    bad = runner(expression="rate(5 minutes)", kind="scheduler", start_date="soon")
    assert bad.error and "ISO 8601" in bad.error and not bad.active


def test_payloads() -> None:
    rule = Schedule(function="f", expression="rate(1 minute)", name="nightly", logical_id="N")
    event = json.loads(payload(rule, WHEN, "eu-west-1", "1"))
    assert event["detail-type"] == "Scheduled Event" and event["time"] == "2026-06-01T12:00:00Z"
    assert event["resources"] == ["arn:aws:events:eu-west-1:1:rule/nightly"]
    constant = Schedule(function="f", expression="rate(1 minute)", input='{"a": 1}')
    assert json.loads(payload(constant, WHEN, "eu-west-1", "1")) == {"a": 1}
    scheduler = Schedule(
        function="f",
        expression="rate(1 minute)",
        name="job",
        kind="scheduler",
        input='{"arn": "<aws.scheduler.schedule-arn>", "at": "<aws.scheduler.scheduled-time>"}',
    )
    assert json.loads(payload(scheduler, WHEN, "eu-west-1", "1")) == {
        "arn": "arn:aws:scheduler:eu-west-1:1:schedule/default/job",
        "at": "2026-06-01T12:00:00Z",
    }
    bare = Schedule(function="f", expression="rate(1 minute)", kind="scheduler")
    assert payload(bare, WHEN, "eu-west-1", "1") == b"{}"
    disabled = runner(expression="rate(1 minute)", enabled=False)
    assert disabled.describe() == "disabled" and not disabled.active
