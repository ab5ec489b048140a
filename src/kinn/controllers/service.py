"""The service load-balancer controller (cloud-provider's service controller) and its provider seam.

A Service of type LoadBalancer (without `spec.loadBalancerClass`, which belongs to another
implementation) gets a load balancer from a `LoadBalancerProvider`, guarded by the
`service.kubernetes.io/load-balancer-cleanup` finalizer so the balancer is removed before the
Service disappears; its addresses land in `status.loadBalancer.ingress`. Events are upstream's
(`EnsuringLoadBalancer`, `EnsuredLoadBalancer`, `SyncLoadBalancerFailed`, `DeletingLoadBalancer`,
`DeletedLoadBalancer`). Without a provider the controller only records `EnsuringLoadBalancer`
and the Service stays `<pending>`, as on a cluster with no cloud; with `--load-balancer-pool`
kinn's own address allocator (kinn.loadbalancer.provider) is the provider.
"""

from __future__ import annotations

from typing import Any, Protocol

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler, object_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.loadbalancer.provider import PoolProvider

Obj = dict[str, Any]

SERVICES = resource("v1", "services")
CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"


class LoadBalancerProvider(Protocol):
    """What a load-balancer implementation offers (cloudprovider.LoadBalancer, reduced)."""

    async def ensure(self, service: Obj) -> list[Obj]:
        """Create or update the balancer; its `status.loadBalancer.ingress` entries (`{"ip": ...}`)."""

    async def delete(self, service: Obj) -> None:
        """Remove the balancer; succeeds if there is none (it may be called again for the same Service)."""


def wants_load_balancer(service: Obj) -> bool:
    """needsCleanup's complement: a live LoadBalancer Service this controller is responsible for."""
    spec = service.get("spec") or {}
    return (spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")
            and not service["metadata"].get("deletionTimestamp"))


def needs_cleanup(service: Obj) -> bool:
    """Holds the finalizer but is going away or is no longer a LoadBalancer."""
    return CLEANUP_FINALIZER in finalizers(service) and (
        bool(service["metadata"].get("deletionTimestamp")) or (service.get("spec") or {}).get("type") != "LoadBalancer")


def needs_update(old: Obj, new: Obj) -> bool:
    """Upstream needsUpdate: only a change to what the balancer is built from calls for a sync — not the
    controller's own finalizer and status writes, which would otherwise sync every Service twice."""
    if not wants_load_balancer(old) and not wants_load_balancer(new):
        return False
    return wants_load_balancer(old) != wants_load_balancer(new) or _balancer_inputs(old) != _balancer_inputs(new)


_LB_PORT_FIELDS = ("name", "protocol", "port", "nodePort", "targetPort", "appProtocol")


def _balancer_inputs(service: Obj) -> tuple[Any, ...]:
    """The fields upstream's needsUpdate compares (of ipFamilies only the count: the families themselves
    are immutable unless the type changes to or from ExternalName)."""
    spec = service.get("spec") or {}
    ports = [tuple(p.get(k) for k in _LB_PORT_FIELDS) for p in spec.get("ports") or []]
    return (ports, spec.get("loadBalancerSourceRanges") or [], spec.get("sessionAffinity"),
            spec.get("sessionAffinityConfig"), spec.get("loadBalancerIP"), spec.get("externalIPs") or [],
            service["metadata"].get("annotations") or {}, service["metadata"].get("uid"),
            spec.get("externalTrafficPolicy"), spec.get("healthCheckNodePort"), len(spec.get("ipFamilies") or []))


def finalizers(service: Obj) -> list[str]:
    return list(service["metadata"].get("finalizers") or [])


class ServiceController(Controller):
    name = "service-lb-controller"

    def __init__(self, ctx: ControllerContext, provider: LoadBalancerProvider | None = None) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder("service-controller")
        self.services = self.informer(SERVICES, EventHandler(on_add=self._service_added,
                                                             on_update=self._service_updated))
        pool = ctx.options.load_balancer_pool
        self.provider = provider or (PoolProvider(pool, self._with_balancer) if pool else None)

    def _service_added(self, service: Obj) -> None:
        """Cleanup is checked too: a controller that stopped mid-way finishes the job after a restart."""
        if wants_load_balancer(service) or needs_cleanup(service):
            self.enqueue(service)

    def _service_updated(self, old: Obj, new: Obj) -> None:
        """Deletion arrives here as the deletionTimestamp; the object's final removal needs nothing."""
        if needs_update(old, new) or needs_cleanup(new):
            self.enqueue(new)

    def _with_balancer(self) -> list[Obj]:
        return [s for s in self.services.indexer.list() if CLEANUP_FINALIZER in finalizers(s)]

    async def sync(self, key: str) -> None:
        service = self.services.indexer.get(key)
        if service is None:
            return
        if wants_load_balancer(service):
            await self._ensure(service)
        elif CLEANUP_FINALIZER in finalizers(service):
            await self._cleanup(service)

    async def _ensure(self, service: Obj) -> None:
        if self.provider is None:
            await self.recorder.event(service, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
            return
        if CLEANUP_FINALIZER not in finalizers(service):
            service = await self._set_finalizers(service, [*finalizers(service), CLEANUP_FINALIZER])
        await self.recorder.event(service, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
        try:
            ingress = await self.provider.ensure(service)
        except Exception as e:
            await self.recorder.event(service, "Warning", "SyncLoadBalancerFailed",
                                      f"Error syncing load balancer: failed to ensure load balancer: {e}")
            raise
        await self._set_ingress(service, ingress)
        await self.recorder.event(service, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")

    async def _cleanup(self, service: Obj) -> None:
        """Deleted, or no longer a LoadBalancer: remove the balancer, its status, then the finalizer."""
        await self.recorder.event(service, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
        if self.provider is not None:
            try:
                await self.provider.delete(service)
            except Exception as e:
                await self.recorder.event(service, "Warning", "DeleteLoadBalancerFailed",
                                          f"Error deleting load balancer: {e}")
                raise
        if not service["metadata"].get("deletionTimestamp"):  # a Service on its way out needs no status
            service = await self._set_ingress(service, [])
        try:
            await self._set_finalizers(service, [f for f in finalizers(service) if f != CLEANUP_FINALIZER])
        except StatusError as e:
            if e.code != 404:  # a stale cache re-ran the cleanup of a Service already gone
                raise
            return
        await self.recorder.event(service, "Normal", "DeletedLoadBalancer", "Deleted load balancer")
        self._retry_pending()

    def _retry_pending(self) -> None:
        """A balancer just freed may be what a pending Service waits for (an exhausted pool's address):
        retry those now rather than at their back-off's end, as MetalLB's controller resyncs them all."""
        for service in self.services.indexer.list():
            if wants_load_balancer(service) and not (service.get("status") or {}).get("loadBalancer"):
                self.enqueue(service)

    async def _set_ingress(self, service: Obj, ingress: list[Obj]) -> Obj:
        status = service.get("status") or {}
        if ((status.get("loadBalancer") or {}).get("ingress") or []) == ingress:
            return service
        load_balancer = {"ingress": ingress} if ingress else {}
        updated = await self.client.update(SERVICES, {**service, "status": {**status, "loadBalancer": load_balancer}},
                                           "status")
        self.log.info("service %s: load balancer ingress %s", object_key(service), ingress)
        return updated

    async def _set_finalizers(self, service: Obj, names: list[str]) -> Obj:
        meta = {k: v for k, v in service["metadata"].items() if k != "finalizers"}
        if names:
            meta["finalizers"] = names
        return await self.client.update(SERVICES, {**service, "metadata": meta})
