"""The scheduling framework (pkg/scheduler/framework): plugin interfaces, statuses, cycle state, runtime."""

from kinn.scheduler.framework.interface import (
    MAX_NODE_SCORE, ClusterEvent, Code, CycleState, Diagnosis, FitError, Handle, Listers, Plugin, SKIP, SUCCESS,
    Status, default_normalize_score,
)

__all__ = [
    "MAX_NODE_SCORE", "ClusterEvent", "Code", "CycleState", "Diagnosis", "FitError", "Handle", "Listers", "Plugin",
    "SKIP", "SUCCESS", "Status", "default_normalize_score",
]
