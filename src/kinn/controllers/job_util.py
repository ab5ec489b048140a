"""Pure Job bookkeeping: completion-index interval strings, conditions, pod outcomes (pkg/controller/job).

`status.completedIndexes` is a compressed, ordered list of intervals ("1,3-5,7"), as upstream
writes it; conditions carry upstream's types, reasons and messages.
"""

from __future__ import annotations

from typing import Any, Iterable

from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import is_terminating

Obj = dict[str, Any]
COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index"
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
POD_FAILURE_POLICY = "PodFailurePolicy"


def parse_indexes(text: str | None) -> set[int]:
    found: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as intervals: {1, 3, 4, 5, 7} → "1,3-5,7"."""
    parts: list[str] = []
    ordered = sorted(set(indexes))
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        parts.append(str(ordered[start]) if start == end else f"{ordered[start]}-{ordered[end]}")
        start = end + 1
    return ",".join(parts)


def completion_index(pod: Obj) -> int | None:
    value = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX_KEY)
    return int(value) if value is not None and value.isdigit() else None


def is_pod_failed(pod: Obj) -> bool:
    """Failed, or deleted before succeeding: an orphan may never get to report Failed (isPodFailed)."""
    phase = pod.get("status", {}).get("phase")
    return phase == "Failed" or (is_terminating(pod) and phase != "Succeeded")


def is_pod_succeeded(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") == "Succeeded"


def match_pod_failure_policy(policy: Obj | None, pod: Obj) -> tuple[str, str] | None:
    """(action, message) of the first podFailurePolicy rule a failed pod matches, None when none does
    (matchPodFailurePolicy): FailJob ends the job at once, Ignore does not count the failure towards
    backoffLimit, Count (or no match) counts it. The message is upstream's, as the Job's condition shows it."""
    meta = pod["metadata"]
    for index, rule in enumerate((policy or {}).get("rules") or []):
        action = rule.get("action", "")
        if exit_codes := rule.get("onExitCodes"):
            status = _container_failed_with(pod, exit_codes)
            if status is not None:
                code = status["state"]["terminated"]["exitCode"]
                return action, (f"Container {status['name']} for pod {meta['namespace']}/{meta['name']} failed with "
                                f"exit code {code} matching {action} rule at index {index}")
        for wanted in rule.get("onPodConditions") or []:
            for condition in pod.get("status", {}).get("conditions") or []:
                if condition.get("type") == wanted.get("type") and condition.get("status") == wanted.get("status",
                                                                                                         "True"):
                    return action, (f"Pod {meta['namespace']}/{meta['name']} has condition {condition['type']} "
                                    f"matching {action} rule at index {index}")
    return None


def _container_failed_with(pod: Obj, requirement: Obj) -> Obj | None:
    """The first container (then init container) status that terminated with a non-zero exit code the
    requirement's operator (In / NotIn) selects, in the requirement's container if it names one."""
    status = pod.get("status", {})
    for container in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        code = ((container.get("state") or {}).get("terminated") or {}).get("exitCode")
        if not code or requirement.get("containerName") not in (None, container.get("name")):
            continue
        if (code in requirement.get("values", [])) == (requirement.get("operator") == "In"):
            return container
    return None


def restarts_of_active_pods(pods: Iterable[Obj]) -> int:
    """The restarts of every container of the job's running and pending pods: with restartPolicy
    OnFailure a failing container restarts in place instead of failing its pod, so these are what
    backoffLimit counts (pastBackoffLimitOnFailure)."""
    return sum(container.get("restartCount", 0) for pod in pods
               if pod.get("status", {}).get("phase") in ("Running", "Pending")
               for container in (pod["status"].get("initContainerStatuses") or [])
               + (pod["status"].get("containerStatuses") or []))


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def find_condition(job: Obj, type_: str) -> Obj | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_ and condition.get("status") == "True":
            return condition
    return None


def finished_condition(job: Obj) -> Obj | None:
    return find_condition(job, "Complete") or find_condition(job, "Failed")


def set_condition(status: Obj, type_: str, cond_status: str, reason: str, message: str) -> bool:
    """Add or update a condition; the transition time changes only when the status flips. True if changed."""
    conditions = status.setdefault("conditions", [])
    now = now_rfc3339()
    for condition in conditions:
        if condition["type"] == type_:
            if (condition["status"], condition.get("reason"), condition.get("message")) == (cond_status, reason, message):
                return False
            if condition["status"] != cond_status:
                condition["lastTransitionTime"] = now
            condition.update(status=cond_status, reason=reason, message=message, lastProbeTime=now)
            return True
    conditions.append({"type": type_, "status": cond_status, "lastProbeTime": now, "lastTransitionTime": now,
                       "reason": reason, "message": message})
    return True
