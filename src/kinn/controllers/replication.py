"""The ReplicationManager (pkg/controller/replication): the ReplicaSet controller over core/v1 RCs.

Upstream runs the very same ReplicaSet controller through a conversion layer; here the only
differences are the resource, the event source and the selector, which for an RC is a plain
label map that must match exactly.
"""

from __future__ import annotations

from typing import Any

from kinn.api.selectors import LabelSelector
from kinn.client.rest import resource
from kinn.controllers.replicaset import ReplicaSetController
from kinn.controllers.replicaset_util import labels_selector

REPLICATION_CONTROLLERS = resource("v1", "replicationcontrollers")


class ReplicationManager(ReplicaSetController):
    name = "replicationcontroller"
    resource = REPLICATION_CONTROLLERS
    component = "replication-controller"

    def selector_of(self, rs: dict[str, Any]) -> LabelSelector:
        return labels_selector(rs["spec"].get("selector"))
