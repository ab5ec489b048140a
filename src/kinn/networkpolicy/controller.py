"""The node's policy agent: watches NetworkPolicies, Pods and Namespaces, keeps its table in step.

Every change that could alter what the node enforces (a policy, a pod's address, labels, node,
phase or named ports, a namespace's labels) asks for a sync; syncs are paced as kube-proxy's are
(at most one per `min_sync_period`, at least one per `sync_period`, which also puts back a table
someone deleted). A sync renders the table from the informers' caches and applies it in one nft
transaction when it differs from the last one applied, or when the period is up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable

from kinn.client.informer import EventHandler, SharedInformer, SharedInformerFactory, strip_managed_fields
from kinn.client.rest import Client, resource
from kinn.networkpolicy.rules import Cluster, pod_info, render
from kinn.proxy.nftables import libnft
from kinn.proxy.runner import BoundedFrequencyRunner

log = logging.getLogger("kinn.networkpolicy")

NETWORK_POLICIES = resource("networking.k8s.io/v1", "networkpolicies")
PODS = resource("v1", "pods")
NAMESPACES = resource("v1", "namespaces")

Obj = dict[str, Any]


def _namespace_labels(namespace: Obj) -> Any:
    return namespace["metadata"].get("labels")


def _policy_spec(policy: Obj) -> Any:
    return policy.get("spec")


class NetworkPolicyAgent:
    def __init__(self, client: Client, node_name: str, min_sync_period: float = 0.1, sync_period: float = 30.0,
                 apply: Callable[[str], object] = libnft.run) -> None:
        self.node_name = node_name
        self.sync_period = sync_period
        self.factory = SharedInformerFactory(client, strip_managed_fields)
        self.policies = self._watch(NETWORK_POLICIES, _policy_spec)
        self.pods = self._watch(PODS, pod_info)
        self.namespaces = self._watch(NAMESPACES, _namespace_labels)
        self.runner = BoundedFrequencyRunner("sync-network-policy", self._sync, min_sync_period, sync_period)
        self._apply = apply
        self._applied: str | None = None
        self._applied_at = 0.0

    def _watch(self, r: Any, relevant: Callable[[Obj], object]) -> SharedInformer:
        """An informer whose events ask for a sync when what policies see of the object changed."""
        informer = self.factory.informer(r)
        informer.add_event_handler(EventHandler(
            on_add=lambda _obj: self.runner.run(),
            on_update=lambda old, new: self.runner.run() if relevant(old) != relevant(new) else None,
            on_delete=lambda _obj: self.runner.run()))
        return informer

    def cluster(self) -> Cluster:
        pods = [info for pod in self.pods.indexer.list() if (info := pod_info(pod)) is not None]
        namespaces = {ns["metadata"]["name"]: _namespace_labels(ns) or {} for ns in self.namespaces.indexer.list()}
        return Cluster(self.policies.indexer.list(), pods, namespaces)

    async def run(self) -> None:
        self.factory.start()
        try:
            await self.factory.wait_for_cache_sync(timeout=float("inf"))
            self.runner.run()
            await self.runner.loop()
        finally:
            await self.factory.stop()

    async def _sync(self) -> bool:
        started = time.monotonic()
        script = render(self.cluster(), self.node_name)
        if script == self._applied and started - self._applied_at < self.sync_period:
            return True
        try:
            await asyncio.to_thread(self._apply, script)
        except Exception as exc:
            log.error("network policy sync failed (will retry): %s", exc)
            return False
        if script != self._applied:
            log.info("network policy rules synced in %.0f ms (%d lines)", (time.monotonic() - started) * 1000,
                     script.count("\n"))
        self._applied, self._applied_at = script, time.monotonic()
        return True
