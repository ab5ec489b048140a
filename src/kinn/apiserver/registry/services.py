"""Services: cluster IPs and node ports are allocated by the registry, as upstream's service REST does.

Allocation happens before validation (a requested IP that is taken is a 422 on `spec.clusterIPs`)
and is undone when the write does not happen; a delete gives everything back. A type change first
drops what the new type does not use (servicetype), and what was dropped is released once written.
"""

from __future__ import annotations

from typing import Any, Callable

from kinn.api import errors
from kinn.api import field
from kinn.api.field import FieldError, Path
from kinn.api.resources import Resource
from kinn.api.validation import gofmt
from kinn.apiserver.allocators.ipallocator import AllocationError, IPAllocator
from kinn.apiserver.allocators.portallocator import PortAllocator
from kinn.apiserver.registry.servicetype import drop_type_dependent_fields, needs_health_check, needs_node_port
from kinn.apiserver.registry.strategy import Strategy

Obj = dict[str, Any]
Finish = Callable[[bool], None]


def _string_slice(values: list[str]) -> str:
    return "[]string{" + ", ".join(gofmt.quote(v) for v in values) + "}"


class _Claims:
    """What one request allocated, so that a failed write can give it back."""

    def __init__(self, ips: IPAllocator, ports: PortAllocator) -> None:
        self.ips, self.ports = ips, ports
        self.cluster_ips: list[str] = []
        self.node_ports: list[int] = []

    def release(self) -> None:
        for ip in self.cluster_ips:
            self.ips.release(ip)
        for port in self.node_ports:
            self.ports.release(port)


class ServiceStrategy(Strategy):
    def __init__(self, resource: Resource, ips: IPAllocator, ports: PortAllocator) -> None:
        super().__init__(resource)
        self.ips = ips
        self.ports = ports

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        drop_type_dependent_fields(new, old)

    # -- allocation ------------------------------------------------------------------------

    def mark_allocated(self, svc: Obj) -> None:
        """Record what a stored Service holds (at start-up, like upstream's repair loop)."""
        spec = svc.get("spec", {})
        for ip in spec.get("clusterIPs") or []:
            if ip != "None" and self.ips.network.version == 4 and ":" not in ip:
                try:
                    self.ips.allocate(ip)
                except AllocationError:
                    pass
        for port in _node_ports(spec):
            try:
                self.ports.allocate(port)
            except AllocationError:
                pass

    def begin_create(self, obj: Obj) -> Finish:
        claims = _Claims(self.ips, self.ports)
        spec = obj.setdefault("spec", {})
        try:
            self._allocate_cluster_ip(obj, spec, claims)
            self._allocate_node_ports(obj, spec, None, claims)
            self._allocate_health_check_node_port(spec, None, claims)
        except errors.StatusError:
            claims.release()
            raise
        return lambda ok: None if ok else claims.release()

    def begin_update(self, new: Obj, old: Obj) -> Finish:
        spec, old_spec = new.setdefault("spec", {}), old.get("spec", {})
        # Clients that do not send the allocated values keep them (upstream patchAllocatedValues).
        for allocated in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if allocated in old_spec and not spec.get(allocated) and spec.get("type") != "ExternalName":
                spec[allocated] = old_spec[allocated]
        claims = _Claims(self.ips, self.ports)
        try:
            if not old_spec.get("clusterIPs") and spec.get("type") != "ExternalName":
                self._allocate_cluster_ip(new, spec, claims)
            self._allocate_node_ports(new, spec, old_spec, claims)
            self._allocate_health_check_node_port(spec, old_spec, claims)
        except errors.StatusError:
            claims.release()
            raise

        def finish(ok: bool) -> None:
            if not ok:
                claims.release()
                return
            for port in set(_node_ports(old_spec)) - set(_node_ports(spec)):
                self.ports.release(port)
            for ip in set(old_spec.get("clusterIPs") or []) - set(spec.get("clusterIPs") or []):
                self.ips.release(ip)

        return finish

    def on_delete(self, obj: Obj) -> None:
        spec = obj.get("spec", {})
        for ip in spec.get("clusterIPs") or []:
            self.ips.release(ip)
        for port in _node_ports(spec):
            self.ports.release(port)

    def _allocate_cluster_ip(self, obj: Obj, spec: Obj, claims: _Claims) -> None:
        if spec.get("type") == "ExternalName":
            return
        requested = spec.get("clusterIP") or (spec.get("clusterIPs") or [""])[0]
        if requested == "None":
            spec["clusterIP"], spec["clusterIPs"] = "None", ["None"]
            self._set_families(spec, headless=True)
            return
        try:
            if requested:
                self.ips.allocate(requested)
                ip = requested
            else:
                ip = self.ips.allocate_next()
        except AllocationError as e:
            value = [requested] if requested else []
            raise self._invalid(obj, gofmt.invalid(Path("spec", "clusterIPs"), _string_slice(value), str(e))) from None
        claims.cluster_ips.append(ip)
        spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
        self._set_families(spec, headless=False)

    @staticmethod
    def _set_families(spec: Obj, headless: bool) -> None:
        spec.setdefault("ipFamilies", ["IPv4"])
        # Headless services without a selector may carry endpoints of any family (upstream default).
        policy = "RequireDualStack" if headless and not spec.get("selector") else "SingleStack"
        spec.setdefault("ipFamilyPolicy", policy)

    def _allocate_node_ports(self, obj: Obj, spec: Obj, old_spec: Obj | None, claims: _Claims) -> None:
        """Node ports for NodePort and LoadBalancer Services; a LoadBalancer with
        allocateLoadBalancerNodePorts=false gets only those it asks for (upstream shouldAllocateNodePorts).
        Other types keep none: a type change dropped them, so one left here is the user's and fails validation."""
        if not needs_node_port(spec):
            return
        allocate_missing = spec.get("type") == "NodePort" or spec.get("allocateLoadBalancerNodePorts") is not False
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in (old_spec or {}).get("ports") or []}
        held = set(_node_ports(old_spec or {}))
        for i, port in enumerate(spec.get("ports") or []):
            requested = port.get("nodePort") or old_ports.get((port.get("port"), port.get("protocol", "TCP")))
            if not requested and not allocate_missing:
                continue
            try:
                port["nodePort"] = self._claim_node_port(requested, held, claims)
            except AllocationError as e:
                raise self._invalid(obj, field.invalid(Path("spec", "ports").index(i).child("nodePort"), requested, str(e))) from None

    def _allocate_health_check_node_port(self, spec: Obj, old_spec: Obj | None, claims: _Claims) -> None:
        """Upstream allocHealthCheckNodePort: the requested port, the one the Service held, or any."""
        if not needs_health_check(spec):
            return
        held = (old_spec or {}).get("healthCheckNodePort")
        requested = spec.get("healthCheckNodePort") or held
        try:
            spec["healthCheckNodePort"] = self._claim_node_port(requested, {held} if held else set(), claims)
        except AllocationError as e:
            what = f"requested HealthCheck NodePort {requested}" if requested else "a HealthCheck NodePort 0"
            raise errors.internal_error(f"failed to allocate {what}: {e}") from None

    def _claim_node_port(self, requested: int | None, held: set[int], claims: _Claims) -> int:
        """A port already held by this Service (or claimed for another of its ports) is kept, not re-allocated."""
        if requested and requested in held:
            return requested
        if requested:
            self.ports.allocate(requested)
        else:
            requested = self.ports.allocate_next()
        claims.node_ports.append(requested)
        held.add(requested)
        return requested

    def _invalid(self, obj: Obj, err: FieldError) -> errors.StatusError:
        return errors.invalid("Service", "", obj.get("metadata", {}).get("name", ""), [err])


def _node_ports(spec: Obj) -> list[int]:
    ports = [p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")]
    if spec.get("healthCheckNodePort"):
        ports.append(spec["healthCheckNodePort"])
    return ports
