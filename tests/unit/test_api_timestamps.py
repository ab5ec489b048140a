"""metav1.Time and MicroTime formatting (kinn.api.timestamps)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kinn.api import timestamps


def test_time_and_micro_time_are_rfc3339_in_utc() -> None:
    moment = datetime(2024, 6, 1, 20, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    assert timestamps.rfc3339(moment) == "2024-06-01T12:00:00Z"
    assert timestamps.micro_time(moment) == "2024-06-01T12:00:00.123456Z"


def test_now_is_the_current_second_and_follows_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1717243200.9]
    monkeypatch.setattr(timestamps.time, "time", lambda: clock[0])
    assert timestamps.now_rfc3339() == "2024-06-01T12:00:00Z"  # truncated, as metav1.Now() marshals
    clock[0] += 1
    assert timestamps.now_rfc3339() == "2024-06-01T12:00:01Z"
    assert timestamps.now_rfc3339() is timestamps.now_rfc3339()  # one string per second
