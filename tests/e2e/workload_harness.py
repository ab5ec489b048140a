"""Run workload controllers in the test's event loop against a real API server, with a scripted kubelet.

The FakeKubelet stands in for scheduler + kubelet where a test needs pods to progress: it binds
daemon pods to the node their affinity names, reports pods Running and Ready, and confirms graceful
deletions (grace 0) as a kubelet would. Tests that script pod outcomes themselves turn it off.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from kinn.api.errors import StatusError
from kinn.client.informer import SharedInformerFactory
from kinn.client.rest import Client, resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.daemon_util import target_node_name

Obj = dict[str, Any]
PODS = resource("v1", "pods")
NODES = resource("v1", "nodes")
NAMESPACES = resource("v1", "namespaces")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ready_status(ready: bool = True, phase: str = "Running") -> Obj:
    stamp = now()
    return {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp},
        {"type": "ContainersReady", "status": "True" if ready else "False", "lastTransitionTime": stamp}]}


def finished_status(phase: str) -> Obj:
    return {"phase": phase, "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now()}]}


async def make_namespace(client: Client, name: str) -> None:
    try:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except StatusError as e:
        assert e.reason == "AlreadyExists"


async def make_node(client: Client, name: str, labels: dict[str, str] | None = None,
                    taints: list[Obj] | None = None) -> Obj:
    node: Obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
                 "spec": {"taints": taints} if taints else {}}
    return await client.create(NODES, node)


async def set_pod_status(client: Client, pod: Obj, status: Obj) -> None:
    await client.patch(PODS, pod["metadata"]["name"], {"status": status}, pod["metadata"]["namespace"],
                       subresource="status")


async def bind(client: Client, pod: Obj, node: str) -> None:
    """What the scheduler does; a bound pod is deleted gracefully, an unbound one at once."""
    name = pod["metadata"]["name"]
    await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                               "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                        pod["metadata"]["namespace"], subresource="binding", name=name)


class FakeKubelet:
    """Polls a namespace's pods and moves them along as scheduler + kubelet would."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    async def run(self) -> None:
        while True:
            for pod in (await self.client.list(PODS, self.namespace))["items"]:
                with contextlib.suppress(StatusError):
                    await self._step(pod)
            await asyncio.sleep(0.05)

    async def _step(self, pod: Obj) -> None:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            await self.client.delete(PODS, meta["name"], self.namespace, grace_period_seconds=0)
            return
        node = target_node_name(pod)
        if not pod["spec"].get("nodeName") and node:
            await bind(self.client, pod, node)
        if pod.get("status", {}).get("phase") in (None, "Pending"):
            await set_pod_status(self.client, pod, ready_status())


@contextlib.asynccontextmanager
async def running(client: Client, *controllers: type[Controller], kubelet_namespace: str = "",
                  **ctx_fields: Any) -> AsyncIterator[list[Controller]]:
    """Start `controllers` (and a FakeKubelet for `kubelet_namespace`) until the block exits."""
    factory = SharedInformerFactory(client)
    ctx = ControllerContext(client, factory, **ctx_fields)
    instances = [c(ctx) for c in controllers]
    factory.start()
    tasks = [asyncio.create_task(c.run(2)) for c in instances]
    if kubelet_namespace:
        tasks.append(asyncio.create_task(FakeKubelet(client, kubelet_namespace).run()))
    try:
        yield instances
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await factory.stop()
