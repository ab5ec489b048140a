"""batch/v1 defaults, as pkg/apis/batch/v1/defaults.go, and the Job selector generation of the
job registry strategy (`PrepareForCreate`), which needs the uid the API server assigns."""

from __future__ import annotations

from typing import Any, Callable

from kinn.api.defaults.core import default_pod_template_spec

Obj = dict[str, Any]

# A Job without backoffLimitPerIndex retries 6 times; with it the per-index limit governs instead.
BACKOFF_LIMIT = 6
MAX_INT32 = 2**31 - 1

CONTROLLER_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")


def default_job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        # A non-parallel job: run one pod to completion.
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else BACKOFF_LIMIT)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in rule.get("onPodConditions") or []:
            pattern.setdefault("status", "True")
    spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    template = spec.setdefault("template", {})
    default_pod_template_spec(template)
    _copy_template_labels(obj)


def _copy_template_labels(job: Obj) -> None:
    """A Job without labels of its own carries its pods' labels (upstream re-applies this on every read)."""
    labels = (job["spec"]["template"].get("metadata") or {}).get("labels")
    metadata = job.setdefault("metadata", {})
    if labels and not metadata.get("labels"):
        metadata["labels"] = dict(labels)


def generate_job_selector(job: Obj, uid: str) -> None:
    """Unless `spec.manualSelector` is true, label the pod template with the job's name and uid and
    select on the uid, so the Job owns exactly its own pods. Labels the user already set are kept
    (validation then rejects conflicts). Call after the uid is assigned, before validation."""
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    name = (job.get("metadata") or {}).get("name", "")
    labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
    for key in JOB_NAME_LABELS:
        labels.setdefault(key, name)
    for key in CONTROLLER_UID_LABELS:
        labels.setdefault(key, uid)
    selector = spec.get("selector") or {}
    spec["selector"] = selector
    selector.setdefault("matchLabels", {}).setdefault("batch.kubernetes.io/controller-uid", uid)
    _copy_template_labels(job)


def default_cron_job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    default_pod_template_spec(job_spec.setdefault("template", {}))


DEFAULTERS: dict[str, Callable[[Obj], None]] = {"Job": default_job, "CronJob": default_cron_job}
