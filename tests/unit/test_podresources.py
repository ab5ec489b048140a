"""A pod's effective requests and limits: one computation for the scheduler, the kubelet, quota and LimitRanger."""

from __future__ import annotations

from typing import Any

from kinn.api.podresources import integers, pod_limits, pod_requests, quantities
from kinn.controllers.quotausage import pod_usage
from kinn.kubelet.runtime.cgroup import ResourceLimits
from kinn.scheduler.nodeinfo import Resource, pod_requests as scheduler_requests

MI = 2**20


def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None,
              **extra: Any) -> dict[str, Any]:
    return {"name": name, "resources": {"requests": requests or {}, "limits": limits or {}}, **extra}


def shown(amounts: dict[str, Any]) -> dict[str, str]:
    return {name: str(amount) for name, amount in amounts.items()}


def test_requests_are_the_containers_sum_or_a_larger_init_container_plus_overhead() -> None:
    spec = {"containers": [container("a", {"cpu": "100m", "memory": "64Mi"}), container("b", {"cpu": "200m"})],
            "initContainers": [container("init", {"cpu": "500m", "memory": "32Mi"})], "overhead": {"cpu": "10m"}}
    assert pod_requests(spec) == {"cpu": 510, "memory": 64 * MI}
    assert shown(pod_requests(spec, quantities)) == {"cpu": "510m", "memory": "64Mi"}
    assert pod_requests(spec, overhead=False) == {"cpu": 500, "memory": 64 * MI}


def test_a_sidecar_runs_beside_the_containers_and_the_init_containers_after_it() -> None:
    """setup (2 CPU) runs before the sidecar starts; migrate (1 CPU) runs beside it; the app
    containers run beside it too: max(2, 1 + 0.1, 0.25 + 0.1) = 2 CPU; memory: 64Mi + 16Mi."""
    spec = {"initContainers": [container("setup", {"cpu": "2"}),
                               container("side", {"cpu": "100m", "memory": "16Mi"}, restartPolicy="Always"),
                               container("migrate", {"cpu": "1"})],
            "containers": [container("app", {"cpu": "250m", "memory": "64Mi"})]}
    assert pod_requests(spec) == {"cpu": 2000, "memory": 80 * MI}
    spec["initContainers"][0] = container("setup", {"cpu": "10m"})
    assert pod_requests(spec) == {"cpu": 1100, "memory": 80 * MI}


def test_overhead_raises_only_the_limits_a_container_sets() -> None:
    """PodLimits: a pod with no memory limit stays unlimited whatever its RuntimeClass overhead."""
    spec = {"containers": [container("a", limits={"cpu": "1"})], "overhead": {"cpu": "50m", "memory": "20Mi"}}
    assert pod_limits(spec) == {"cpu": 1050}
    assert pod_requests(spec) == {"cpu": 50, "memory": 20 * MI}


def test_defaults_stand_in_for_unset_requests_of_every_container() -> None:
    spec = {"initContainers": [container("init", {"memory": "1Gi"})], "containers": [container("a"), container("b")]}
    assert pod_requests(spec, defaults={"cpu": 100, "memory": 200 * MI}) == {"cpu": 200, "memory": 1024 * MI}


def test_integers_round_up_as_milli_value_and_value_do() -> None:
    assert integers({"cpu": "0.0001", "memory": "1.5", "nvidia.com/gpu": "2"}) == {
        "cpu": 1, "memory": 2, "nvidia.com/gpu": 2}
    assert integers(None) == {}


def test_quantities_keep_the_first_addends_notation() -> None:
    spec = {"containers": [container("a", {"memory": "64Mi"}), container("b", {"memory": "128Mi"})]}
    assert shown(pod_requests(spec, quantities)) == {"memory": "192Mi"}
    spec = {"containers": [container("a", {"memory": "0"}), container("b", {"memory": "64Mi"})]}
    assert shown(pod_requests(spec, quantities)) == {"memory": "64Mi"}


def test_scheduler_kubelet_and_quota_count_a_pod_with_sidecars_alike() -> None:
    """Before they shared one computation, quota charged a sidecar as a one-off init container."""
    spec = {"initContainers": [container("side", {"cpu": "300m", "memory": "32Mi"}, {"cpu": "300m", "memory": "32Mi"},
                                         restartPolicy="Always")],
            "containers": [container("app", {"cpu": "200m", "memory": "64Mi"}, {"cpu": "200m", "memory": "64Mi"})]}
    assert scheduler_requests(spec) == Resource(milli_cpu=500, memory=96 * MI)
    assert ResourceLimits.for_pod(spec) == ResourceLimits(memory_bytes=96 * MI, cpu_millis=500, cpu_shares=512)
    usage = shown(pod_usage({"spec": spec}))
    assert {name: usage[name] for name in ("requests.cpu", "limits.cpu", "requests.memory", "limits.memory")} == {
        "requests.cpu": "500m", "limits.cpu": "500m", "requests.memory": "96Mi", "limits.memory": "96Mi"}
