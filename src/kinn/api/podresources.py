"""A pod's effective requests and limits (k8s.io/component-helpers/resource: PodRequests, PodLimits).

The scheduler fits pods to nodes by them, the kubelet admits pods and sizes their cgroups by them,
ResourceQuota charges them and LimitRanger's Pod limits bound them, so all four must add up a pod
the same way: the app containers and the sidecars (init containers with `restartPolicy: Always`)
run together; each other init container runs alone beside the sidecars started before it, so the
pod needs at least the largest of those steps; the RuntimeClass overhead comes on top.

Amounts are whatever `parse` turns a ResourceList into: integers (millicores for `cpu`, whole units
for everything else) for the node-side arithmetic, or `Quantity`s where the notation is shown back
to users (a quota's `status.used`).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar

from kinn.api.quantity import Quantity, milli_value, value
from kinn.api.sidecars import is_sidecar

Obj = dict[str, Any]
Amount = TypeVar("Amount", int, Quantity)
Parse = Callable[[Obj | None], dict[str, Amount]]


def integers(resources: Obj | None) -> dict[str, int]:
    """A ResourceList as integers: `cpu` in millicores (MilliValue), the rest rounded up (Value)."""
    return {name: milli_value(str(amount)) if name == "cpu" else value(str(amount))
            for name, amount in (resources or {}).items()}


def quantities(resources: Obj | None) -> dict[str, Quantity]:
    """A ResourceList as quantities, keeping each one's notation (`64Mi` stays binary)."""
    return {name: Quantity.parse(str(amount)) for name, amount in (resources or {}).items()}


def add(total: dict[str, Amount], amounts: Mapping[str, Amount]) -> None:
    """addResourceList: `total` += `amounts`, resource by resource."""
    for name, amount in amounts.items():
        total[name] = total[name] + amount if name in total else amount


def raise_to(total: dict[str, Amount], amounts: Mapping[str, Amount]) -> None:
    """maxResourceList: each resource of `total` at least as large as in `amounts`."""
    for name, amount in amounts.items():
        if name not in total or total[name] < amount:
            total[name] = amount


def pod_requests(spec: Obj, parse: Parse = integers, *, defaults: Mapping[str, Amount] | None = None,
                 overhead: bool = True) -> dict[str, Amount]:
    """PodRequests. `defaults` stand in for requests a container leaves unset (the scheduler's
    NonMissingContainerRequests, so best-effort pods still spread); `overhead=False` leaves out
    spec.overhead, as LimitRanger does."""
    def requests(container: Obj) -> dict[str, Amount]:
        amounts = parse((container.get("resources") or {}).get("requests"))
        for name, amount in (defaults or {}).items():
            amounts.setdefault(name, amount)
        return amounts

    total = _containers(spec, requests)
    if overhead:
        add(total, parse(spec.get("overhead")))
    return total


def pod_limits(spec: Obj, parse: Parse = integers, *, overhead: bool = True) -> dict[str, Amount]:
    """PodLimits: as PodRequests, but the overhead only raises resources some container limits
    (a pod without a memory limit stays unlimited)."""
    total = _containers(spec, lambda container: parse((container.get("resources") or {}).get("limits")))
    if overhead:
        add(total, {name: amount for name, amount in parse(spec.get("overhead")).items() if name in total})
    return total


def _containers(spec: Obj, amounts: Callable[[Obj], dict[str, Amount]]) -> dict[str, Amount]:
    """The containers' and sidecars' sum, raised to what each init container's step needs."""
    total: dict[str, Amount] = {}
    for container in spec.get("containers") or ():
        add(total, amounts(container))
    sidecars: dict[str, Amount] = {}
    init_peak: dict[str, Amount] = {}
    for container in spec.get("initContainers") or ():
        need = amounts(container)
        if is_sidecar(container):
            add(total, need)  # a sidecar keeps running beside the app containers
            add(sidecars, need)
            need = sidecars
        else:
            add(need, sidecars)
        raise_to(init_peak, need)
    raise_to(total, init_peak)
    return total
