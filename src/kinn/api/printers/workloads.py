"""Tables for apps/v1 and batch/v1 workloads, as upstream's printers.go prints them."""

from __future__ import annotations

from typing import Any, Mapping

from kinn.api.printers.columns import (
    AGE, APPS, BATCH, CONTAINERS, IMAGES, NAME, Column, Printer, printer, replica_columns,
)
from kinn.api.printers.format import NONE, name_of, Clock, bool_ptr, containers_cells, human_duration, owner_controller, parse_time
from kinn.api.selectors import SelectorError, format_label_selector, format_labels, label_selector_from_object

Obj = Mapping[str, Any]

_READY_PODS = Column("Ready", doc="Number of the pod with ready state")


def _template_cells(template: Obj | None) -> tuple[str, str]:
    return containers_cells(((template or {}).get("spec") or {}).get("containers"))


def _selector_column(definition: str) -> Column:
    return Column("Selector", priority=1, doc=(definition, "selector"))


def _deployment_row(deploy: Obj, clock: Clock) -> list[Any]:
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    try:
        # Unlike the other workloads, an empty selector prints as empty here, an invalid one as <invalid>.
        selector = str(label_selector_from_object(spec.get("selector")))
    except SelectorError:
        selector = "<invalid>"
    return [name_of(deploy), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), clock.age(deploy),
            *_template_cells(spec.get("template")), selector]


def _replica_set_row(rs: Obj, clock: Clock) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return [name_of(rs), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            clock.age(rs), *_template_cells(spec.get("template")), format_label_selector(spec.get("selector"))]


def _daemon_set_row(ds: Obj, clock: Clock) -> list[Any]:
    spec, status = ds.get("spec") or {}, ds.get("status") or {}
    template = spec.get("template") or {}
    return [name_of(ds), status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            format_labels((template.get("spec") or {}).get("nodeSelector")), clock.age(ds),
            *_template_cells(template), format_label_selector(spec.get("selector"))]


def _stateful_set_row(sts: Obj, clock: Clock) -> list[Any]:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    return [name_of(sts), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", clock.age(sts),
            *_template_cells(spec.get("template"))]


def _controller_revision_row(revision: Obj, clock: Clock) -> list[Any]:
    owner = owner_controller(revision)
    controller = NONE
    if owner is not None:
        group = owner.get("apiVersion", "").rpartition("/")[0]
        kind = owner.get("kind", "")
        qualified = f"{kind}.{group}" if group else kind
        controller = f"{qualified.lower()}/{owner.get('name', '')}" if qualified else owner.get("name", "")
    return [name_of(revision), controller, revision.get("revision", 0), clock.age(revision)]


def _has_condition(status: Obj, kind: str) -> bool:
    """`hasJobCondition`: the first condition of that type decides."""
    for condition in status.get("conditions") or ():
        if condition.get("type") == kind:
            return condition.get("status") == "True"
    return False


def _job_status(job: Obj) -> str:
    status = job.get("status") or {}
    if _has_condition(status, "Complete"):
        return "Complete"
    if _has_condition(status, "Failed"):
        return "Failed"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    if _has_condition(status, "Suspended"):
        return "Suspended"
    if _has_condition(status, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_completions(spec: Obj, succeeded: int) -> str:
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def _job_duration(status: Obj, clock: Clock) -> str:
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime"))
    return human_duration((clock.now if end is None else end) - start)


def _job_row(job: Obj, clock: Clock) -> list[Any]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    return [name_of(job), _job_status(job), _job_completions(spec, status.get("succeeded", 0)),
            _job_duration(status, clock), clock.age(job), *_template_cells(spec.get("template")),
            format_label_selector(spec.get("selector"))]


def _cron_job_row(cron: Obj, clock: Clock) -> list[Any]:
    spec, status = cron.get("spec") or {}, cron.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    last = clock.since(status["lastScheduleTime"]) if status.get("lastScheduleTime") else NONE
    return [name_of(cron), spec.get("schedule", ""), spec.get("timeZone") or NONE, bool_ptr(spec.get("suspend")),
            len(status.get("active") or ()), last, clock.age(cron), *_template_cells(job_spec.get("template")),
            format_label_selector(job_spec.get("selector"))]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("apps", "Deployment"): printer((
        NAME, _READY_PODS, Column("Up-to-date", doc=(APPS + "DeploymentStatus", "updatedReplicas")),
        Column("Available", doc=(APPS + "DeploymentStatus", "availableReplicas")), AGE, CONTAINERS, IMAGES,
        _selector_column(APPS + "DeploymentSpec"),
    ), _deployment_row),
    ("apps", "ReplicaSet"): printer((
        NAME, *replica_columns(APPS + "ReplicaSetSpec", APPS + "ReplicaSetStatus"), AGE, CONTAINERS, IMAGES,
        _selector_column(APPS + "ReplicaSetSpec"),
    ), _replica_set_row),
    ("apps", "DaemonSet"): printer((
        NAME, Column("Desired", "integer", (APPS + "DaemonSetStatus", "desiredNumberScheduled")),
        Column("Current", "integer", (APPS + "DaemonSetStatus", "currentNumberScheduled")),
        Column("Ready", "integer", (APPS + "DaemonSetStatus", "numberReady")),
        Column("Up-to-date", "integer", (APPS + "DaemonSetStatus", "updatedNumberScheduled")),
        Column("Available", "integer", (APPS + "DaemonSetStatus", "numberAvailable")),
        Column("Node Selector", doc=("PodSpec", "nodeSelector")), AGE, CONTAINERS, IMAGES,
        _selector_column(APPS + "DaemonSetSpec"),
    ), _daemon_set_row),
    ("apps", "StatefulSet"): printer((NAME, _READY_PODS, AGE, CONTAINERS, IMAGES), _stateful_set_row),
    ("apps", "ControllerRevision"): printer((
        NAME, Column("Controller", doc="Controller of the object"),
        Column("Revision", doc=(APPS + "ControllerRevision", "revision")), AGE,
    ), _controller_revision_row),
    ("batch", "Job"): printer((
        NAME, Column("Status", doc="Status of the job."), Column("Completions", doc=(BATCH + "JobStatus", "succeeded")),
        Column("Duration", doc="Time required to complete the job."), AGE, CONTAINERS, IMAGES,
        _selector_column(BATCH + "JobSpec"),
    ), _job_row),
    ("batch", "CronJob"): printer((
        NAME, Column("Schedule", doc=(BATCH + "CronJobSpec", "schedule")),
        Column("Timezone", doc=(BATCH + "CronJobSpec", "timeZone")),
        Column("Suspend", "boolean", (BATCH + "CronJobSpec", "suspend")),
        Column("Active", "integer", (BATCH + "CronJobStatus", "active")),
        Column("Last Schedule", doc=(BATCH + "CronJobStatus", "lastScheduleTime")), AGE, CONTAINERS, IMAGES,
        _selector_column(BATCH + "JobSpec"),
    ), _cron_job_row),
}
