"""metav1.Time and metav1.MicroTime as the API serializes them: RFC 3339 in UTC, in whole seconds
(`2024-06-01T12:00:00Z`) or in microseconds (`2024-06-01T12:00:00.123456Z`).

Nearly every write stamps a time (managedFields, conditions, heartbeats, events), and nearly
always it is now: `now_rfc3339` formats each second once rather than calling strftime per stamp."""

from __future__ import annotations

import functools
import time
from datetime import datetime, timezone

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def rfc3339(moment: datetime) -> str:
    """metav1.Time of an aware moment: whole seconds, in UTC."""
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime of an aware moment: microseconds, in UTC."""
    return moment.astimezone(timezone.utc).strftime(MICRO_TIME_FORMAT)


def now_rfc3339() -> str:
    """metav1.Time of now."""
    return _second(int(time.time()))


@functools.lru_cache(maxsize=2)
def _second(epoch_seconds: int) -> str:
    return time.strftime(TIME_FORMAT, time.gmtime(epoch_seconds))
