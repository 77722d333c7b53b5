"""Schedule expressions: the next firings of the examples in AWS's EventBridge documentation
("Using cron and rate expressions to schedule rules"), plus L, W, # and time zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from samrun.sources.cron import parse

# 2026-06-01 is a Monday.
START = datetime(2026, 6, 1, 7, 58, tzinfo=UTC)


def firings(
    expression: str, count: int, start: datetime = START, tz: str | None = None
) -> list[str]:
    parsed = parse(expression, tz)
    out, t = [], start
    for _ in range(count):
        nxt = parsed.next_after(t, start)
        assert nxt is not None
        out.append(nxt.strftime("%a %Y-%m-%d %H:%M"))
        t = nxt
    return out


def test_aws_examples() -> None:
    assert firings("cron(0 10 * * ? *)", 2) == ["Mon 2026-06-01 10:00", "Tue 2026-06-02 10:00"]
    assert firings("cron(15 12 * * ? *)", 1) == ["Mon 2026-06-01 12:15"]
    friday = datetime(2026, 6, 5, 19, 0, tzinfo=UTC)
    assert firings("cron(0 18 ? * MON-FRI *)", 2, friday) == [
        "Mon 2026-06-08 18:00",
        "Tue 2026-06-09 18:00",
    ]
    assert firings("cron(0 8 1 * ? *)", 2) == ["Mon 2026-06-01 08:00", "Wed 2026-07-01 08:00"]
    assert firings("cron(0/15 * * * ? *)", 3) == [
        "Mon 2026-06-01 08:00",
        "Mon 2026-06-01 08:15",
        "Mon 2026-06-01 08:30",
    ]
    assert firings("cron(0/10 * ? * MON-FRI *)", 1, friday.replace(hour=23, minute=55)) == [
        "Mon 2026-06-08 00:00"
    ]
    assert firings("cron(0/5 8-17 ? * MON-FRI *)", 1, START.replace(hour=17, minute=56)) == [
        "Tue 2026-06-02 08:00"
    ]
    assert firings("cron(0/30 20-2 ? * MON-FRI *)", 4, START.replace(hour=2, minute=31)) == [
        "Mon 2026-06-01 20:00",
        "Mon 2026-06-01 20:30",
        "Mon 2026-06-01 21:00",
        "Mon 2026-06-01 21:30",
    ]
    assert firings("cron(0 9 ? * 2#1 *)", 2) == ["Mon 2026-06-01 09:00", "Mon 2026-07-06 09:00"]


def test_last_weekday_and_nth() -> None:
    assert firings("cron(0 0 L * ? *)", 3) == [
        "Tue 2026-06-30 00:00",
        "Fri 2026-07-31 00:00",
        "Mon 2026-08-31 00:00",
    ]
    assert firings("cron(0 0 L 2 ? 2028)", 1) == ["Tue 2028-02-29 00:00"]
    # 2026-08-01 is a Saturday: 1W is Monday the 3rd; 2026-05-31 a Sunday: LW is Friday the 29th.
    assert firings("cron(0 12 1W 8 ? *)", 1) == ["Mon 2026-08-03 12:00"]
    assert firings("cron(0 12 LW * ? *)", 1, datetime(2026, 5, 1, tzinfo=UTC)) == [
        "Fri 2026-05-29 12:00"
    ]
    assert firings("cron(0 12 15W * ? *)", 1, datetime(2026, 8, 1, tzinfo=UTC)) == [
        "Fri 2026-08-14 12:00"
    ]
    assert firings("cron(0 12 ? * 6L *)", 2) == ["Fri 2026-06-26 12:00", "Fri 2026-07-31 12:00"]
    assert firings("cron(0 12 ? * L *)", 1) == ["Sat 2026-06-06 12:00"]
    assert firings("cron(30 6 ? * SUN#3,MON#1 *)", 2) == [
        "Sun 2026-06-21 06:30",
        "Mon 2026-07-06 06:30",
    ]
    assert firings("cron(0 0 1 JAN,JUL ? 2027-2028)", 3) == [
        "Fri 2027-01-01 00:00",
        "Thu 2027-07-01 00:00",
        "Sat 2028-01-01 00:00",
    ]
    assert parse("cron(0 0 1 1 ? 2020)").next_after(START) is None


def test_time_zone_and_daylight_saving() -> None:
    # 09:00 in New York is 13:00 UTC in summer and 14:00 UTC in winter.
    assert firings("cron(0 9 * * ? *)", 1, tz="America/New_York") == ["Mon 2026-06-01 13:00"]
    winter = datetime(2026, 12, 1, tzinfo=UTC)
    assert firings("cron(0 9 * * ? *)", 1, winter, tz="America/New_York") == [
        "Tue 2026-12-01 14:00"
    ]
    # 02:30 does not exist in New York on 2026-03-08: that day is skipped.
    spring = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    assert firings("cron(30 2 * * ? *)", 2, spring, tz="America/New_York") == [
        "Mon 2026-03-09 06:30",
        "Tue 2026-03-10 06:30",
    ]


def test_rate_and_at() -> None:
    assert firings("rate(1 minute)", 2) == ["Mon 2026-06-01 07:59", "Mon 2026-06-01 08:00"]
    assert firings("rate(5 minutes)", 1) == ["Mon 2026-06-01 08:03"]
    assert firings("rate(2 hours)", 1) == ["Mon 2026-06-01 09:58"]
    assert firings("rate(1 day)", 1) == ["Tue 2026-06-02 07:58"]
    one = parse("at(2026-06-02T10:00:00)", "Europe/Paris")
    assert one.next_after(START) == datetime(2026, 6, 2, 8, 0, tzinfo=UTC)
    assert one.next_after(datetime(2026, 6, 3, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "singular"),
        ("rate(0 minutes)", "positive"),
        ("cron(0 10 * * *)", "six fields"),
        ("cron(0 10 * * * *)", "exactly one"),
        ("cron(0 10 ? * ? *)", "exactly one"),
        ("cron(60 10 * * ? *)", "out of range"),
        ("cron(0 10 * FOO ? *)", "not valid"),
        ("cron(0 10 ? * 2#6 *)", "weekday#n"),
        ("every day", "not a schedule expression"),
        ("at(tomorrow)", "at\\(yyyy"),
    ],
)
def test_invalid_expressions(expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse(expression)


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        parse("cron(0 9 * * ? *)", "Mars/Olympus")
