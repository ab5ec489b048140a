"""A Service is a union discriminated by `spec.type`: what changing the type drops (upstream's
pkg/registry/core/service strategy.go dropTypeDependentFields).

`kubectl patch svc x -p '{"spec":{"type":"ClusterIP"}}'` on a LoadBalancer sends only the type, so
the merged object still carries node ports, a health-check port and LoadBalancer-only fields the new
type forbids. Upstream clears a field when a) it no longer applies, b) the server may have filled it
in, and c) the update did not also change it — a value the user changed in the same update is kept,
so validation rejects it instead of silently discarding intent. Allocated values cleared here are
released by the registry once the write succeeds.
"""

from __future__ import annotations

from typing import Any

from kinn.api.validation.core import externally_accessible

Obj = dict[str, Any]

def needs_cluster_ip(spec: Obj) -> bool:
    return spec.get("type") != "ExternalName"


def needs_node_port(spec: Obj) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def needs_health_check(spec: Obj) -> bool:
    """Upstream NeedsHealthCheck: a Local LoadBalancer gets a port on which kube-proxy reports whether
    the node has a serving endpoint, for the cloud balancer to probe."""
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def drop_type_dependent_fields(new: Obj, old: Obj) -> None:
    """Wipe, in `new` (an update of `old`), what its type no longer uses and the update left alone."""
    spec, old_spec = new.setdefault("spec", {}), old.get("spec") or {}
    if needs_cluster_ip(old_spec) and not needs_cluster_ip(spec):
        _drop_cluster_ip_fields(spec, old_spec)
    if needs_node_port(old_spec) and not needs_node_port(spec) and _node_ports(spec) <= _node_ports(old_spec):
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
    if needs_health_check(old_spec) and not needs_health_check(spec):
        _drop_if_unchanged(spec, old_spec, "healthCheckNodePort")
    if old_spec.get("type") == "LoadBalancer" and spec.get("type") != "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is not None:  # upstream keeps an unset one unset
            _drop_if_unchanged(spec, old_spec, "allocateLoadBalancerNodePorts")
        _drop_if_unchanged(spec, old_spec, "loadBalancerClass")
    if externally_accessible(old_spec) and not externally_accessible(spec):
        _drop_if_unchanged(spec, old_spec, "externalTrafficPolicy")
    # The balancer is torn down asynchronously, but the user need not see that.
    if spec.get("type") != "LoadBalancer":
        new["status"] = {**(new.get("status") or {}), "loadBalancer": {}}


def _drop_cluster_ip_fields(spec: Obj, old_spec: Obj) -> None:
    """Even "None" counts as a value that ExternalName has no use for."""
    if spec.get("clusterIP") == old_spec.get("clusterIP") and _same_list(spec, old_spec, "clusterIPs"):
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if _same_list(spec, old_spec, "ipFamilies"):
        spec.pop("ipFamilies", None)
    _drop_if_unchanged(spec, old_spec, "ipFamilyPolicy")


def _drop_if_unchanged(spec: Obj, old_spec: Obj, key: str) -> None:
    if spec.get(key) == old_spec.get(key):
        spec.pop(key, None)


def _same_list(spec: Obj, old_spec: Obj, key: str) -> bool:
    return (spec.get(key) or []) == (old_spec.get(key) or [])


def _node_ports(spec: Obj) -> set[int]:
    """Users may add, remove or edit ports while changing type, as long as no node port is new."""
    return {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}
