"""kube-proxy's main loop (cmd/kube-proxy's ProxyServer): informers → change tracker → paced syncs.

Services and EndpointSlices are watched as upstream does (slices of headless Services and of
Services handled by another proxy, `service.kubernetes.io/service-proxy-name`, are filtered out by
label selector). Every event that changes what the proxy derives asks the runner for a sync; a sync
snapshots the state, hands it to the mode's proxier in a thread (rules are rendered and applied
with subprocesses), then removes stale UDP conntrack entries. A periodic sync also checks the
canary chains, so a flushed table is rebuilt. Around the syncs run kube-proxy's health checks:
changes queue an update and syncs mark it done (/healthz on --healthz-bind-address), and each
successful sync brings the health check node ports up to date.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformer, SharedInformerFactory
from kinn.client.rest import Client, resource
from kinn.proxy import conntrack
from kinn.proxy.changes import Change, ProxyState, ServiceKey, Snapshot
from kinn.proxy.healthcheck.proxier_health import ProxierHealth, serve_healthz
from kinn.proxy.healthcheck.service_health import ServiceHealthServer
from kinn.proxy.runner import BoundedFrequencyRunner

log = logging.getLogger("kinn.proxy")

Obj = dict[str, Any]

SERVICES = resource("v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")
NODES = resource("v1", "nodes")
# What upstream's informers select (the headless label is set by the EndpointSlice controller).
SERVICE_SELECTOR = "!service.kubernetes.io/service-proxy-name"
SLICE_SELECTOR = "!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"


class Proxier(Protocol):
    mode: str
    serves_health_check_node_ports: bool  # whether the mode implements externalTrafficPolicy Local

    def setup(self) -> None: ...

    def sync(self, snapshot: Snapshot, changes: dict[ServiceKey, Change]) -> None: ...

    def canaries_present(self) -> bool: ...

    def force_full_sync(self) -> None: ...


@dataclass
class ProxyOptions:
    node_name: str
    min_sync_period: float = 1.0  # --iptables-min-sync-period (the same flag serves every mode here)
    sync_period: float = 30.0  # --iptables-sync-period
    healthz_bind: tuple[str, int] | None = ("0.0.0.0", 10256)  # --healthz-bind-address; None: not served


class ProxyServer:
    def __init__(self, client: Client, proxier: Proxier, options: ProxyOptions) -> None:
        self.client = client
        self.proxier = proxier
        self.options = options
        self.state = ProxyState(options.node_name)
        self.runner = BoundedFrequencyRunner(f"sync-proxy-rules ({proxier.mode})", self._sync,
                                             options.min_sync_period, options.sync_period)
        self.factory = SharedInformerFactory(client)
        self.health = ProxierHealth(health_timeout=2 * options.sync_period)  # as cmd/kube-proxy sets it
        self.service_health = ServiceHealthServer(options.node_name, self.health,
                                                  EventRecorder(client, "kube-proxy", options.node_name)) \
            if proxier.serves_health_check_node_ports else None
        self.synced = asyncio.Event()  # set after the first successful sync (health: ready)
        self.last_sync: float = 0.0
        self._pending_since = 0.0  # when the oldest change not yet synced arrived
        self._canaries_checked = 0.0
        self._watch(self.factory.informer(SERVICES, label_selector=SERVICE_SELECTOR),
                    self.state.service_updated, self.state.service_deleted)
        self._watch(self.factory.informer(ENDPOINT_SLICES, label_selector=SLICE_SELECTOR),
                    self.state.slice_updated, self.state.slice_deleted)
        # Only this node, for /healthz's nodeEligible (upstream's NodeEligibleHandler).
        self.factory.informer(NODES, field_selector=f"metadata.name={options.node_name}").add_event_handler(
            EventHandler(on_add=self.health.sync_node, on_update=lambda _old, n: self.health.sync_node(n),
                         on_delete=self.health.sync_node))

    def _watch(self, informer: SharedInformer, updated: Callable[[Obj], bool], deleted: Callable[[Obj], bool]) -> None:
        def on_change(changed: bool) -> None:
            if changed and self.synced.is_set():
                self._pending_since = self._pending_since or time.monotonic()
                self.health.queued_update()
                self.runner.run()
        informer.add_event_handler(EventHandler(on_add=lambda o: on_change(updated(o)),
                                                on_update=lambda _old, o: on_change(updated(o)),
                                                on_delete=lambda o: on_change(deleted(o))))

    async def run(self) -> None:
        # Served from the start, as upstream (healthy while starting up: nothing is queued yet).
        healthz = asyncio.create_task(serve_healthz(self.health, *self.options.healthz_bind)) \
            if self.options.healthz_bind else None
        try:
            await asyncio.to_thread(self.proxier.setup)
            self.factory.start()
            await self.factory.wait_for_cache_sync(timeout=float("inf"))
            log.info("%s proxier: caches synced, %d services", self.proxier.mode, len(self.state.services))
            self.health.updated()  # SyncLoop's start: healthy even if the first sync never succeeds
            self.runner.run()
            await self.runner.loop()
        finally:
            if healthz is not None:
                healthz.cancel()
                await asyncio.gather(healthz, return_exceptions=True)
            if self.service_health is not None:
                await self.service_health.close()
            await self.factory.stop()

    async def _sync(self) -> bool:
        if self.synced.is_set() and time.monotonic() - self._canaries_checked >= self.options.sync_period:
            # As upstream's canary monitor: once per sync period, not on every change-driven sync.
            self._canaries_checked = time.monotonic()
            if not await asyncio.to_thread(self.proxier.canaries_present):
                log.warning("%s proxier: canary chains gone (tables flushed?): full resync", self.proxier.mode)
                self.proxier.force_full_sync()
        changes = self.state.take_changes()
        snapshot = self.state.snapshot()
        started, pending_since, self._pending_since = time.monotonic(), self._pending_since, 0.0
        try:
            await asyncio.to_thread(self.proxier.sync, snapshot, changes)
        except Exception as exc:
            log.error("%s proxier: sync failed (will retry): %s", self.proxier.mode, exc)
            self.state.requeue(changes)
            return False
        self.last_sync = time.monotonic()
        self.health.updated()
        log.info("%s proxier synced in %.0f ms%s", self.proxier.mode, (self.last_sync - started) * 1000,
                 f", {(self.last_sync - pending_since) * 1000:.0f} ms after the change" if pending_since else "")
        deletions = conntrack.stale_entries(snapshot, changes)
        if deletions:
            await asyncio.to_thread(conntrack.delete, deletions)
        if self.service_health is not None:
            await self.service_health.sync(snapshot)
        self.synced.set()
        return True
