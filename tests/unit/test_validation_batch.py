"""batch/v1 validation: Job restart policy, generated selector, immutability; CronJob schedules."""

import pytest

from kinn.api.defaults.batch import default_cron_job, default_job, generate_job_selector
from kinn.api.validation.batch import CREATE, UPDATE, ScheduleError, parse_standard_schedule


def _job(restart="Never", **spec):
    obj = {
        "metadata": {"name": "pi", "namespace": "default", "uid": "u-1", "resourceVersion": "1"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "perl"}], "restartPolicy": restart}}, **spec},
    }
    default_job(obj)
    generate_job_selector(obj, "u-1")
    return obj


def _messages(errs):
    return [str(e) for e in errs]


def test_generated_job_is_valid():
    assert CREATE["Job"](_job()) == []


def test_job_restart_policy_always_is_refused():
    obj = {"metadata": {"name": "pi", "namespace": "default", "uid": "u"}, "spec": {"template": {"spec": {
        "containers": [{"name": "c", "image": "perl"}]}}}}
    default_job(obj)
    generate_job_selector(obj, "u")
    assert _messages(CREATE["Job"](obj)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'
    ]


def test_job_negative_counts():
    assert _messages(CREATE["Job"](_job(parallelism=-1, backoffLimit=-2))) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
    ]


def test_job_template_is_immutable_and_selector_too():
    old, new = _job(), _job()
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "python"
    new["spec"]["selector"] = {"matchLabels": {"x": "y"}}
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    messages = _messages(UPDATE["Job"](new, old))
    assert 'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"x":"y"}, ' \
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable" in messages
    assert any(m.startswith("spec.template: Invalid value: core.PodTemplateSpec{") and m.endswith("field is immutable")
               for m in messages)


def test_suspended_job_may_change_node_selector():
    old, new = _job(suspend=True), _job(suspend=True)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "a"}
    assert UPDATE["Job"](new, old) == []


def _cron(schedule, **spec):
    obj = {"metadata": {"name": "hello", "namespace": "default"}, "spec": {
        "schedule": schedule,
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                                       "restartPolicy": "OnFailure"}}}},
        **spec,
    }}
    default_cron_job(obj)
    return obj


@pytest.mark.parametrize("schedule", ["*/5 * * * *", "0 0 1 jan-mar mon", "@hourly", "@every 1h30m", "15,45 9-17 * * 1-5"])
def test_valid_schedules(schedule):
    assert CREATE["CronJob"](_cron(schedule)) == []


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ],
)
def test_schedule_errors(schedule, error):
    with pytest.raises(ScheduleError, match=None) as info:
        parse_standard_schedule(schedule)
    assert str(info.value) == error
    assert _messages(CREATE["CronJob"](_cron(schedule))) == [f'spec.schedule: Invalid value: "{schedule}": {error}']


def test_cron_job_time_zone_and_tz_in_schedule():
    assert _messages(CREATE["CronJob"](_cron("0 * * * *", timeZone="Mars/Olympus"))) == [
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'
    ]
    assert CREATE["CronJob"](_cron("0 * * * *", timeZone="Europe/Paris")) == []
    assert _messages(CREATE["CronJob"](_cron("CRON_TZ=UTC 0 * * * *"))) == [
        'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'
    ]


def test_cron_job_name_limit():
    obj = _cron("@daily")
    obj["metadata"]["name"] = "a" * 53
    assert _messages(CREATE["CronJob"](obj))[-1] == f'metadata.name: Invalid value: "{"a" * 53}": must be no more than 52 characters'
