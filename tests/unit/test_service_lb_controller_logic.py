"""Which Service updates the service LB controller syncs (upstream needsUpdate / needsCleanup)."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from kinn.controllers.service import CLEANUP_FINALIZER, needs_cleanup, needs_update

LB: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
    "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}],
             "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"]},
}


def changed(edit: Callable[[dict], None], base: dict = LB) -> dict:
    new = copy.deepcopy(base)
    edit(new)
    return new


@pytest.mark.parametrize("edit", [
    lambda s: s["metadata"].update(finalizers=[CLEANUP_FINALIZER], resourceVersion="2"),
    lambda s: s.update(status={"loadBalancer": {"ingress": [{"ip": "10.240.0.200", "ipMode": "VIP"}]}}),
    lambda s: s["metadata"].update(labels={"tier": "web"}),
    lambda s: s["spec"].update(selector={"app": "web"}),
], ids=["finalizer", "status", "label", "selector"])
def test_what_the_balancer_is_not_built_from_is_no_reason_to_sync(edit: Callable[[dict], None]) -> None:
    assert not needs_update(LB, changed(edit))


@pytest.mark.parametrize("edit", [
    lambda s: s["spec"].update(type="ClusterIP"),
    lambda s: s["spec"]["ports"][0].update(nodePort=30081),
    lambda s: s["spec"].update(loadBalancerSourceRanges=["192.0.2.0/24"]),
    lambda s: s["spec"].update(loadBalancerIP="10.240.0.201"),
    lambda s: s["spec"].update(externalTrafficPolicy="Local", healthCheckNodePort=30500),
    lambda s: s["metadata"].update(annotations={"example.com/lb": "v2"}),
    lambda s: s["metadata"].update(deletionTimestamp="2024-01-01T00:00:00Z"),
], ids=["type", "nodePort", "sourceRanges", "loadBalancerIP", "trafficPolicy", "annotation", "deleting"])
def test_a_change_to_the_balancer_syncs(edit: Callable[[dict], None]) -> None:
    assert needs_update(LB, changed(edit))


def test_services_that_never_wanted_a_balancer_are_left_alone() -> None:
    cluster_ip = changed(lambda s: s["spec"].update(type="ClusterIP"))
    assert not needs_update(cluster_ip, changed(lambda s: s["spec"].update(sessionAffinity="ClientIP"), cluster_ip))
    assert not needs_cleanup(cluster_ip)
    assert needs_cleanup(changed(lambda s: s["metadata"].update(finalizers=[CLEANUP_FINALIZER]), cluster_ip))
