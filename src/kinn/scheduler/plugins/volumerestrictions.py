"""VolumeRestrictions: a ReadWriteOncePod claim may be used by one pod in the whole cluster."""

from __future__ import annotations

from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_DELETE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status, cluster_events,
)
from kinn.scheduler.nodeinfo import PodInfo
from kinn.scheduler.plugins.volumebinding import claim_of

NAME = "VolumeRestrictions"
ERR_READ_WRITE_ONCE_POD_CONFLICT = (
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode")


class VolumeRestrictions:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ASSIGNED_POD_DELETE, *cluster_events("PersistentVolumeClaim", "Add", "Update")]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        if not pod.claims:
            return SKIP
        for name in pod.claims:
            claim = claim_of(self.handle, pod.namespace, name)
            if claim is None or "ReadWriteOncePod" not in ((claim.get("spec") or {}).get("accessModes") or ()):
                continue
            users = self.handle.snapshot.claim_users.get(f"{pod.namespace}/{name}", set())
            if users - {pod.key}:
                return Status.unresolvable(ERR_READ_WRITE_ONCE_POD_CONFLICT, plugin=NAME)
        return SUCCESS
