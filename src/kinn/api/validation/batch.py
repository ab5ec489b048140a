"""batch/v1 validation, as pkg/apis/batch/validation with the options a 1.32 server enables.

Jobs on 1.32 always carry the `batch.kubernetes.io/` labels and may change `completions` of an
Indexed Job together with `parallelism` (elastic indexed jobs are GA); the pod template is
immutable except for scheduling directives of a Job that is suspended and has never started.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import gofmt, meta, names
from kinn.api.validation.common import (
    Obj,
    immutable,
    nonnegative,
    object_meta,
    object_meta_update,
    selector_matches,
    template_labels_match,
)
from kinn.api.validation.core import validate_pod_template_spec

SPEC = Path("spec")
STATUS = Path("status")

CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"

MAX_PARALLELISM_FOR_INDEXED_JOB = 100_000
# The cronjob controller appends an 11-character `-<timestamp>` suffix to job names (max 63).
MAX_CRON_JOB_NAME_LENGTH = 52


# Job


def _has_label(template_meta: Obj, path: Path, key: str, expected: str) -> ErrorList:
    """`ValidateHasLabel` on the generated template labels."""
    labels = template_meta.get("labels") or {}
    label_path = path.child("labels").key(key)
    if key not in labels:
        return [field.required(label_path, f"must be '{expected}'")]
    if labels[key] != expected:
        return [gofmt.invalid(label_path, gofmt.string_map(labels), f"must be '{expected}'")]
    return []


def validate_generated_selector(job: Obj) -> ErrorList:
    """A generated selector must select exactly this job's pods, by uid and name."""
    spec, metadata = job.get("spec") or {}, job.get("metadata") or {}
    selector = spec.get("selector")
    if spec.get("manualSelector") or selector is None:
        return []
    uid, name = metadata.get("uid", ""), metadata.get("name", "")
    errs: ErrorList = [] if uid else [field.required(Path("metadata", "uid"))]
    template_meta = (spec.get("template") or {}).get("metadata") or {}
    template_path = SPEC.child("template", "metadata")
    expected = {
        LEGACY_CONTROLLER_UID_LABEL: uid,
        LEGACY_JOB_NAME_LABEL: name,
        CONTROLLER_UID_LABEL: uid,
        JOB_NAME_LABEL: name,
    }
    for key, value in expected.items():
        errs += _has_label(template_meta, template_path, key, value)
    if not selector_matches(selector, expected):
        errs.append(gofmt.invalid(SPEC.child("selector"), gofmt.label_selector(selector), "`selector` not auto-generated"))
    return errs


def validate_job_spec_fields(spec: Obj, path: Path) -> ErrorList:
    """`validateJobSpec`: what Jobs and CronJob job templates share."""
    errs: ErrorList = []
    for name in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                 "backoffLimitPerIndex", "maxFailedIndexes"):
        errs += nonnegative(spec.get(name), path.child(name))
    if spec.get("maxFailedIndexes") is not None and spec.get("backoffLimitPerIndex") is None:
        errs.append(field.required(path.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    errs += _validate_completion_mode(spec, path)
    if spec.get("successPolicy") is not None and spec.get("completionMode") != "Indexed":
        errs.append(field.invalid(path.child("successPolicy"), spec["successPolicy"], "requires indexed completion mode"))
    errs += _validate_pod_replacement_policy(spec, path.child("podReplacementPolicy"))
    template_path = path.child("template")
    errs += validate_pod_template_spec(spec.get("template") or {}, template_path)
    return errs + _validate_restart_policy(spec, template_path.child("spec", "restartPolicy"))


def _validate_completion_mode(spec: Obj, path: Path) -> ErrorList:
    mode = spec.get("completionMode")
    errs: ErrorList = []
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        errs.append(field.not_supported(path.child("completionMode"), mode, ["NonIndexed", "Indexed"]))
    if mode == "Indexed":
        if spec.get("completions") is None:
            errs.append(field.required(path.child("completions"), "when completion mode is Indexed"))
        parallelism = spec.get("parallelism")
        if parallelism is not None and parallelism > MAX_PARALLELISM_FOR_INDEXED_JOB:
            errs.append(
                field.invalid(
                    path.child("parallelism"),
                    parallelism,
                    f"must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} when completion mode is Indexed",
                )
            )
    else:
        for name in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(name) is not None:
                errs.append(field.invalid(path.child(name), spec[name], "requires indexed completion mode"))
    return errs


def _validate_pod_replacement_policy(spec: Obj, path: Path) -> ErrorList:
    """With a pod failure policy, a replacement may only start once the old pod has failed."""
    policy = spec.get("podReplacementPolicy")
    if policy is None:
        return []
    if spec.get("podFailurePolicy") is not None:
        return [] if policy == "Failed" else [field.not_supported(path, policy, ["Failed"])]
    if policy not in ("Failed", "TerminatingOrFailed"):
        return [field.not_supported(path, policy, ["Failed", "TerminatingOrFailed"])]
    return []


def _validate_restart_policy(spec: Obj, path: Path) -> ErrorList:
    """Job pods run to completion; `Always` (also the pod default) would never let them finish."""
    restart = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy", "")
    if restart in ("Always", ""):
        return [field.required(path, 'valid values: "OnFailure", "Never"')]
    if restart not in ("OnFailure", "Never"):
        return [field.not_supported(path, restart, ["OnFailure", "Never"])]
    if spec.get("podFailurePolicy") is not None and restart != "Never":
        return [field.invalid(path, restart, 'only "Never" is supported when podFailurePolicy is specified')]
    return []


def validate_job_spec(spec: Obj, path: Path) -> ErrorList:
    errs = validate_job_spec_fields(spec, path)
    selector = spec.get("selector")
    if selector is None:
        errs.append(field.required(path.child("selector")))
    else:
        errs += meta.validate_label_selector(selector, path.child("selector"))
    return errs + template_labels_match(selector, spec.get("template") or {}, path.child("template"))


def validate_job(job: Obj) -> ErrorList:
    errs = object_meta(job, True, names.name_is_dns_subdomain)
    errs += validate_generated_selector(job)
    spec = job.get("spec") or {}
    errs += validate_job_spec(spec, SPEC)
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and completions:
        # Indexed pods get the hostname `<job>-<index>`, which must stay a DNS label.
        name = (job.get("metadata") or {}).get("name", "")
        hostname = f"{name}-{completions - 1}"
        if names.is_dns1123_label(hostname):
            errs.append(
                field.invalid(
                    Path("metadata", "name"), name, f"will not able to create pod with invalid DNS label: {hostname}"
                )
            )
    return errs


def _mutable_scheduling_directives(job: Obj) -> bool:
    """A suspended Job that never started may still be retargeted (nodeSelector, tolerations, …)."""
    return bool((job.get("spec") or {}).get("suspend")) and not (job.get("status") or {}).get("startTime")


def _template_without_scheduling(template: Obj) -> Obj:
    metadata = {k: v for k, v in (template.get("metadata") or {}).items() if k not in ("labels", "annotations")}
    pod = {k: v for k, v in (template.get("spec") or {}).items() if k not in ("nodeSelector", "tolerations", "schedulingGates")}
    affinity = {k: v for k, v in (pod.pop("affinity", None) or {}).items() if k != "nodeAffinity"}
    if affinity:
        pod["affinity"] = affinity
    return {"metadata": metadata, "spec": pod}


def _validate_completions_update(spec: Obj, old_spec: Obj, path: Path) -> ErrorList:
    completions = spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        return immutable(completions, old_spec.get("completions"), path)
    if completions is None or completions == old_spec.get("completions"):
        return []
    if completions != spec.get("parallelism"):
        return [field.invalid(path, completions, "can only be modified in tandem with spec.parallelism")]
    return []


def validate_job_update(new: Obj, old: Obj) -> ErrorList:
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = object_meta_update(new, old) + validate_job_spec(spec, SPEC)
    errs += _validate_completions_update(spec, old_spec, SPEC.child("completions"))
    errs += immutable(spec.get("selector"), old_spec.get("selector"), SPEC.child("selector"), gofmt.label_selector)
    template, old_template = spec.get("template") or {}, old_spec.get("template") or {}
    if _mutable_scheduling_directives(old):
        template, old_template = _template_without_scheduling(template), _template_without_scheduling(old_template)
    if template != old_template:
        errs.append(gofmt.invalid(SPEC.child("template"), "core.PodTemplateSpec{…}", "field is immutable"))
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        errs += immutable(spec.get(name), old_spec.get(name), SPEC.child(name))
    return errs


def validate_job_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = object_meta_update(new, old)
    for name in ("active", "succeeded", "failed", "ready", "terminating"):
        errs += nonnegative(status.get(name), STATUS.child(name))
    return errs


# CronJob

_DESCRIPTORS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_DURATION = re.compile(r"^([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$")
# (minimum, maximum, names) of minute, hour, day of month, month, day of week, as robfig/cron bounds them.
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))


class ScheduleError(ValueError):
    """A schedule robfig/cron's `ParseStandard` refuses; the message is its error text."""


def _parse_int(expr: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise ScheduleError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    number = int(expr)
    if number < 0:
        raise ScheduleError(f"negative number ({number}) not allowed: {expr}")
    return number


def _check_range(expr: str, low: int, high: int, names_: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    low_high = range_and_step[0].split("-")
    if low_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = names_.get(low_high[0].lower()) if low_high[0].lower() in names_ else _parse_int(low_high[0])
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = names_[low_high[1].lower()] if low_high[1].lower() in names_ else _parse_int(low_high[1])
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    step = 1
    if len(range_and_step) == 2:
        step = _parse_int(range_and_step[1])
        if len(low_high) == 1:
            end = high
    elif len(range_and_step) > 2:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < low:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise ScheduleError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")


def parse_standard_schedule(schedule: str) -> None:
    """Raise `ScheduleError` unless `schedule` is a 5-field cron line or a descriptor (`@hourly`, `@every 5m`)."""
    if not schedule:
        raise ScheduleError("empty spec string")
    if schedule.startswith(("TZ=", "CRON_TZ=")):
        location, _, schedule = schedule.partition(" ")
        zone = location.split("=", 1)[1]
        if _time_zone_error(zone):
            raise ScheduleError(f"provided bad location {zone}: unknown time zone {zone}")
        schedule = schedule.strip()
    if schedule.startswith("@"):
        if schedule.startswith("@every "):
            if not _DURATION.match(schedule[len("@every "):].strip()):
                raise ScheduleError(f"failed to parse duration {schedule}")
        elif schedule not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {schedule}")
        return
    fields = schedule.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    for expr, (low, high, names_) in zip(fields, _BOUNDS):
        for part in expr.split(","):
            _check_range(part, low, high, names_)


def _validate_schedule(schedule: str, old_schedule: str | None, time_zone: str | None, path: Path) -> ErrorList:
    errs: ErrorList = []
    try:
        parse_standard_schedule(schedule)
    except ScheduleError as e:
        errs.append(field.invalid(path, schedule, str(e)))
    # TZ= in the schedule is only tolerated on objects that already had it.
    allow_tz = old_schedule is not None and "TZ" in old_schedule
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(field.invalid(path, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
    elif not allow_tz and "TZ" in schedule:
        errs.append(field.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return errs


_TZ_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _time_zone_error(zone: str) -> str | None:
    parts = zone.split("/")
    if any(p in (".", "..") or p.startswith("-") or not _TZ_PART.match(p) for p in parts):
        return f"unknown time zone {zone}"
    if zone.lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {zone}"
    return None


def _validate_time_zone(zone: str | None, path: Path) -> ErrorList:
    if zone is None:
        return []
    if zone == "":
        return [field.invalid(path, zone, "timeZone must be nil or non-empty string")]
    error = _time_zone_error(zone)
    return [field.invalid(path, zone, error)] if error else []


def validate_job_template_spec(template: Obj, path: Path) -> ErrorList:
    spec = template.get("spec") or {}
    spec_path = path.child("spec")
    errs = validate_job_spec_fields(spec, spec_path)
    if spec.get("selector") is not None:
        errs.append(
            gofmt.invalid(spec_path.child("selector"), gofmt.label_selector(spec["selector"]), "`selector` will be auto-generated")
        )
    if spec.get("manualSelector"):
        errs.append(field.not_supported(spec_path.child("manualSelector"), True, ["nil", "false"]))
    return errs


def validate_cron_job_spec(spec: Obj, old_spec: Obj | None, path: Path) -> ErrorList:
    errs: ErrorList = []
    schedule = spec.get("schedule", "")
    if not schedule:
        errs.append(field.required(path.child("schedule")))
    else:
        old_schedule = old_spec.get("schedule", "") if old_spec is not None else None
        errs += _validate_schedule(schedule, old_schedule, spec.get("timeZone"), path.child("schedule"))
    errs += nonnegative(spec.get("startingDeadlineSeconds"), path.child("startingDeadlineSeconds"))
    if old_spec is None or old_spec.get("timeZone") != spec.get("timeZone"):
        errs += _validate_time_zone(spec.get("timeZone"), path.child("timeZone"))
    policy = spec.get("concurrencyPolicy", "")
    if policy == "":
        errs.append(field.required(path.child("concurrencyPolicy")))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(field.not_supported(path.child("concurrencyPolicy"), policy, ["Allow", "Forbid", "Replace"]))
    errs += validate_job_template_spec(spec.get("jobTemplate") or {}, path.child("jobTemplate"))
    for name in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += nonnegative(spec.get(name), path.child(name))
    return errs


def validate_cron_job(obj: Obj) -> ErrorList:
    errs = object_meta(obj, True, names.name_is_dns_subdomain)
    errs += validate_cron_job_spec(obj.get("spec") or {}, None, SPEC)
    name = (obj.get("metadata") or {}).get("name", "")
    if len(name) > MAX_CRON_JOB_NAME_LENGTH:
        errs.append(field.invalid(Path("metadata", "name"), name, "must be no more than 52 characters"))
    return errs


def validate_cron_job_update(new: Obj, old: Obj) -> ErrorList:
    # No name-length check: CronJobs created before it existed must stay updatable.
    return object_meta_update(new, old) + validate_cron_job_spec(new.get("spec") or {}, old.get("spec") or {}, SPEC)


def validate_cron_job_status_update(new: Obj, old: Obj) -> ErrorList:
    return object_meta_update(new, old)


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"Job": validate_job, "CronJob": validate_cron_job}
UPDATE: dict[str, Check] = {"Job": validate_job_update, "CronJob": validate_cron_job_update}
STATUS_UPDATE: dict[str, Check] = {"Job": validate_job_status_update, "CronJob": validate_cron_job_status_update}
