"""Cron next-run computation and the CronJob controller's choice of activation, on a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from kinn.api.validation.batch import ScheduleError
from kinn.controllers.cron import parse_schedule
from kinn.controllers.cronjob import job_from_template, job_name, most_recent_schedule_time


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize(("schedule", "zone", "after", "expected"), [
    ("* * * * *", None, "2024-01-31T23:59:30", "2024-02-01T00:00:00"),
    ("* * * * *", None, "2024-01-31T23:59:00", "2024-02-01T00:00:00"),  # strictly after
    ("*/15 * * * *", None, "2024-03-01T10:16:00", "2024-03-01T10:30:00"),
    ("5-10/5 * * * *", None, "2024-03-01T10:06:00", "2024-03-01T10:10:00"),
    ("0 0 29 2 *", None, "2023-03-01T00:00:00", "2024-02-29T00:00:00"),  # the next leap day
    ("0 12 * * MON", None, "2024-01-31T00:00:00", "2024-02-05T12:00:00"),
    ("0 0 1 * MON", None, "2024-02-01T00:00:00", "2024-02-05T00:00:00"),  # dom OR dow when neither is *
    ("0 0 13 * 5", None, "2024-01-01T00:00:00", "2024-01-05T00:00:00"),  # Friday before the 13th
    ("0 0 1 jan,jul *", None, "2024-01-02T00:00:00", "2024-07-01T00:00:00"),
    ("@hourly", None, "2024-01-01T00:00:00", "2024-01-01T01:00:00"),
    ("@weekly", None, "2024-01-01T00:00:00", "2024-01-07T00:00:00"),
    ("0 9 * * 1-5", "America/New_York", "2024-02-03T00:00:00", "2024-02-05T14:00:00"),
    ("30 2 * * *", "Europe/Berlin", "2024-07-01T00:00:00", "2024-07-01T00:30:00"),
    ("TZ=Asia/Tokyo 0 0 * * *", None, "2024-01-01T00:00:00", "2024-01-01T15:00:00"),
    ("@every 90s", None, "2024-01-01T00:00:00", "2024-01-01T00:01:30"),
])
def test_next_activation(schedule, zone, after, expected):
    assert parse_schedule(schedule, zone).next(utc(after)) == utc(expected)


def test_impossible_schedule_has_no_next():
    assert parse_schedule("0 0 30 2 *").next(utc("2024-01-01T00:00:00")) is None


def test_invalid_schedule_raises_the_api_error():
    with pytest.raises(ScheduleError, match="end of range"):
        parse_schedule("61 * * * *")


def cronjob(created: str, last: str | None = None, deadline: int | None = None) -> dict:
    spec: dict = {"schedule": "* * * * *", "jobTemplate": {"metadata": {"labels": {"a": "b"}}, "spec": {}}}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    status = {"lastScheduleTime": last} if last else {}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "spec": spec, "status": status,
            "metadata": {"name": "hello", "namespace": "d", "uid": "u1", "creationTimestamp": created}}


@pytest.mark.parametrize(("created", "last", "deadline", "now", "expected", "missed"), [
    ("2024-01-01T00:00:30Z", None, None, "2024-01-01T00:00:59", None, 0),
    ("2024-01-01T00:00:30Z", None, None, "2024-01-01T00:01:00", "2024-01-01T00:01:00", 1),
    ("2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z", None, "2024-01-01T00:01:30", None, 0),
    ("2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z", None, "2024-01-01T00:05:10", "2024-01-01T00:05:00", 4),
    ("2024-01-01T00:00:30Z", None, 90, "2024-01-01T00:10:10", "2024-01-01T00:10:00", 2),  # older starts not counted
    ("2024-01-01T00:00:30Z", None, None, "2024-01-02T00:00:10", "2024-01-02T00:00:00", None),  # > 100 missed
])
def test_most_recent_schedule_time(created, last, deadline, now, expected, missed):
    found, count = most_recent_schedule_time(cronjob(created, last, deadline), parse_schedule("* * * * *"), utc(now[:19]))
    assert found == (utc(expected) if expected else None)
    if missed is None:
        assert count > 100
    else:
        assert count == missed


def test_job_name_and_scheduled_timestamp():
    scheduled = utc("2024-01-01T00:01:00")
    assert job_name(cronjob("2024-01-01T00:00:00Z"), scheduled) == f"hello-{int(scheduled.timestamp()) // 60}"
    job = job_from_template(cronjob("2024-01-01T00:00:00Z"), scheduled, timezone.utc)
    assert job["metadata"]["annotations"] == {"batch.kubernetes.io/cronjob-scheduled-timestamp": "2024-01-01T00:01:00Z"}
    assert job["metadata"]["labels"] == {"a": "b"}
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
