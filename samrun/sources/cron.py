"""EventBridge schedule expressions: `rate(...)`, six-field `cron(...)` and Scheduler's `at(...)`.

Pure: `parse(expression, tz)` returns a `ScheduleExpression` whose `next_after(t)` gives the next
firing strictly after `t` (an aware datetime), or None when there is none. The cron dialect is
AWS's (EventBridge "Schedule expressions" and Scheduler "Schedule types"): fields are Minutes,
Hours, Day-of-month, Month, Day-of-week and Year; one of the two day fields is `?`; `*`, `,`,
`-`, `/`; month and weekday names; weekdays 1-7 are SUN-SAT; `L` (last day of the month, of the
week, or `5L` the last Thursday), `W` (`3W` the weekday nearest the 3rd, `LW`) and `#` (`2#1`
the first Monday). Times are in UTC unless a time zone is given (ScheduleV2 only).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronExpression", "OneTime", "Rate", "ScheduleExpression", "parse", "zone"]

_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
_MAX_YEAR = 2199


def zone(name: str | None) -> tzinfo:
    """The time zone an expression is evaluated in (UTC by default)."""
    if not name or name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name, e.g. Europe/Paris)"
        ) from None


@dataclass(frozen=True, slots=True)
class Rate:
    seconds: int
    text: str

    def next_after(self, after: datetime, start: datetime | None = None) -> datetime | None:
        """Every `seconds` from `start` (the schedule's creation): the first firing is one
        period after it, as EventBridge's rate rules do."""
        origin = start or after
        if after < origin:
            return origin + timedelta(seconds=self.seconds)
        periods = int((after - origin).total_seconds() // self.seconds) + 1
        return origin + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True, slots=True)
class OneTime:
    when: datetime
    text: str

    def next_after(self, after: datetime, start: datetime | None = None) -> datetime | None:
        return self.when if self.when > after else None


@dataclass(frozen=True, slots=True)
class CronExpression:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str  # kept as text: L and W depend on the month
    months: frozenset[int]
    dow: str  # kept as text: L and # depend on the month
    years: frozenset[int]
    tz: tzinfo
    text: str

    def next_after(self, after: datetime, start: datetime | None = None) -> datetime | None:
        local = after.astimezone(self.tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = local.date()
        first = True
        while day.year <= _MAX_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                first = False
                continue
            if day.month in self.months and self._day_matches(day):
                found = self._time_on(day, local if first else None)
                if found is not None:
                    return found
            day += timedelta(days=1)
            first = False
        return None

    def _time_on(self, day: date, not_before: datetime | None) -> datetime | None:
        for hour in sorted(self.hours):
            for minute in sorted(self.minutes):
                wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)
                if not_before is not None and wall < not_before:
                    continue
                if _exists(wall):
                    return wall.astimezone(UTC)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.dom != "?":
            return any(_dom_matches(part, day) for part in self.dom.split(","))
        return any(_dow_matches(part, day) for part in self.dow.split(","))


ScheduleExpression = Rate | CronExpression | OneTime


def _exists(wall: datetime) -> bool:
    """False for a wall time skipped by a daylight-saving jump (it does not exist there)."""
    back = wall.astimezone(UTC).astimezone(wall.tzinfo)
    return (back.hour, back.minute) == (wall.hour, wall.minute)


def parse(expression: str, tz: str | None = None) -> ScheduleExpression:
    """Parse a schedule expression; ValueError says what is wrong with it."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise ValueError(f"{text}: the rate must be a positive number")
        if (value == 1) == unit.endswith("s"):
            raise ValueError(f"{text}: use the singular unit for 1 and the plural otherwise")
        return Rate(value * _UNIT_S[unit.rstrip("s")], text)
    if text.startswith("at(") and text.endswith(")"):
        try:
            when = datetime.strptime(text[3:-1].strip(), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise ValueError(f"{text}: use at(yyyy-mm-ddThh:mm:ss)") from None
        return OneTime(when.replace(tzinfo=zone(tz)).astimezone(UTC), text)
    if text.startswith("cron(") and text.endswith(")"):
        return _cron(text, zone(tz))
    raise ValueError(
        f"{expression!r} is not a schedule expression: use rate(5 minutes), "
        "cron(0 12 * * ? *) or at(2030-01-01T00:00:00)"
    )


def _cron(text: str, tz: tzinfo) -> CronExpression:
    fields = text[5:-1].split()
    if len(fields) != 6:
        raise ValueError(
            f"{text}: cron takes six fields: minutes hours day-of-month month day-of-week year"
        )
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError(f"{text}: exactly one of day-of-month and day-of-week must be '?'")
    dom_u, dow_u = dom.upper(), dow.upper()
    if dom != "?":
        for part in dom_u.split(","):
            if part not in ("L", "LW") and not re.fullmatch(r"\d{1,2}W", part):
                _values(part, 1, 31, {}, text, "day-of-month")
    if dow != "?":
        for part in dow_u.split(","):
            _check_dow(part, text)
    return CronExpression(
        minutes=frozenset(_field(minute, 0, 59, {}, text, "minutes")),
        hours=frozenset(_field(hour, 0, 23, {}, text, "hours")),
        dom=dom_u,
        months=frozenset(_field(month.upper(), 1, 12, _MONTHS, text, "month")),
        dow=dow_u,
        years=frozenset(_field(year, 1970, _MAX_YEAR, {}, text, "year")),
        tz=tz,
        text=text,
    )


def _check_dow(part: str, text: str) -> None:
    if part == "L":
        return
    if "#" in part:
        day, _, nth = part.partition("#")
        if _number(day, _DAYS, text, "day-of-week") not in range(1, 8) or nth not in "12345":
            raise ValueError(f"{text}: {part!r} must be weekday#n with n from 1 to 5")
        return
    if part.endswith("L"):
        if _number(part[:-1], _DAYS, text, "day-of-week") not in range(1, 8):
            raise ValueError(f"{text}: {part!r} is not a weekday")
        return
    _values(part, 1, 7, _DAYS, text, "day-of-week")


def _field(spec: str, low: int, high: int, names: dict[str, int], text: str, what: str) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        out |= _values(part, low, high, names, text, what)
    return out


def _number(token: str, names: dict[str, int], text: str, what: str) -> int:
    if token in names:
        return names[token]
    if not token.isdigit():
        raise ValueError(f"{text}: {token!r} is not valid in the {what} field")
    return int(token)


def _values(
    part: str, low: int, high: int, names: dict[str, int], text: str, what: str
) -> set[int]:
    """One comma-separated part: `*`, `n`, `a-b`, with an optional `/step`."""
    base, _, step_text = part.partition("/")
    step = _number(step_text, {}, text, what) if step_text else 1
    if step < 1:
        raise ValueError(f"{text}: the step in {part!r} must be positive")
    if base == "*":
        first, last = low, high
    elif "-" in base:
        a, _, b = base.partition("-")
        first, last = _number(a, names, text, what), _number(b, names, text, what)
    else:
        first = _number(base, names, text, what)
        last = high if step_text else first
    for value in (first, last):
        if not low <= value <= high:
            raise ValueError(f"{text}: {value} is out of range {low}-{high} in the {what} field")
    if last >= first:
        return set(range(first, last + 1, step))
    # A range that wraps (FRI-MON, 22-2): from first to the top, then from the bottom.
    span = list(range(first, high + 1)) + list(range(low, last + 1))
    return set(span[::step])


def _dom_matches(part: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if part == "L":
        return day.day == last
    if part == "LW":
        return day == _nearest_weekday(date(day.year, day.month, last))
    if part.endswith("W"):
        target = min(int(part[:-1]), last)
        return day == _nearest_weekday(date(day.year, day.month, target))
    return day.day in _values(part, 1, 31, {}, part, "day-of-month")


def _nearest_weekday(target: date) -> date:
    """Quartz's W: the weekday nearest `target`, never crossing into another month."""
    weekday = target.weekday()  # Monday 0 .. Sunday 6
    if weekday == 5:  # Saturday: Friday, or Monday if the 1st
        return target - timedelta(days=1) if target.day > 1 else target + timedelta(days=2)
    if weekday == 6:  # Sunday: Monday, or Friday if the last day
        last = calendar.monthrange(target.year, target.month)[1]
        return target + timedelta(days=1) if target.day < last else target - timedelta(days=2)
    return target


def _aws_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7 + 1  # SUN=1 .. SAT=7


def _dow_matches(part: str, day: date) -> bool:
    weekday = _aws_weekday(day)
    if part == "L":
        return weekday == 7
    if "#" in part:
        name, _, nth = part.partition("#")
        return weekday == _number(name, _DAYS, part, "") and (day.day - 1) // 7 + 1 == int(nth)
    if part.endswith("L"):
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == _number(part[:-1], _DAYS, part, "") and day.day + 7 > last
    return weekday in _values(part, 1, 7, _DAYS, part, "day-of-week")
