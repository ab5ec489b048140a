"""Cron schedules as the CronJob controller reads them (robfig/cron/v3 ParseStandard + SpecSchedule.Next).

Validation is the API's (`parse_standard_schedule` raises upstream's error texts); this module
expands a valid line into the allowed values of each field and finds activation times. As robfig,
day-of-month and day-of-week are ANDed when either is `*`/`?`, else ORed ("0 0 1 * MON" runs on
the 1st and on Mondays), and wall-clock times are matched in the schedule's time zone.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo

from kinn.api.validation.batch import parse_standard_schedule

_DESCRIPTORS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_NAMES = ({}, {}, {},
          {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
          {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())})
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SEARCH_YEARS = 5  # robfig gives up after five years without a match (e.g. "0 0 30 2 *")


def _value(text: str, names: dict[str, int]) -> int:
    return names[text.lower()] if text.lower() in names else int(text)


def _expand(field: str, index: int) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in field.split(","):
        range_part, _, step_text = part.partition("/")
        if range_part in ("*", "?"):
            start, end = low, high
        else:
            first, _, last = range_part.partition("-")
            start = _value(first, _NAMES[index])
            end = _value(last, _NAMES[index]) if last else (high if step_text else start)
        values.update(range(start, end + 1, int(step_text) if step_text else 1))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    star_day: bool  # day-of-month or day-of-week was `*`/`?`: the two are ANDed
    location: tzinfo
    every: timedelta | None = None

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        return (dom and dow) if self.star_day else (dom or dow)

    def next(self, after: datetime) -> datetime | None:
        """The first activation strictly after `after` (an aware datetime), or None within five years."""
        if self.every is not None:
            return after.replace(microsecond=0) + self.every
        t = after.astimezone(self.location).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * _SEARCH_YEARS)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t.astimezone(timezone.utc)
            t = t.replace(tzinfo=None).replace(tzinfo=self.location)  # re-resolve the offset across DST
        return None


def _duration(text: str) -> timedelta:
    seconds = sum(float(n) * _UNITS[u] for n, u in re.findall(r"([0-9.]+)(ns|us|µs|ms|s|m|h)", text))
    return timedelta(seconds=max(1.0, seconds))


def parse_schedule(schedule: str, time_zone: str | None = None) -> Schedule:
    """A Schedule for a line `parse_standard_schedule` accepts (it raises ScheduleError otherwise)."""
    parse_standard_schedule(schedule)
    zone = time_zone
    if schedule.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, schedule = schedule.partition(" ")
        zone = prefix.split("=", 1)[1]
        schedule = schedule.strip()
    location: tzinfo = zoneinfo.ZoneInfo(zone) if zone else timezone.utc
    if schedule.startswith("@every "):
        every = _duration(schedule[len("@every "):])
        return Schedule(*(frozenset[int]() for _ in range(5)), star_day=True, location=location, every=every)
    fields = _DESCRIPTORS.get(schedule, schedule).split()
    expanded = [_expand(f, i) for i, f in enumerate(fields)]
    star_day = fields[2][0] in "*?" or fields[4][0] in "*?"
    return Schedule(*expanded, star_day=star_day, location=location)
