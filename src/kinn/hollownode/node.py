"""The hollow kubelet: node registration, Lease heartbeat and pod status for the simulated nodes."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError
from kinn.api.timestamps import micro_time, now_rfc3339
from kinn.client.informer import EventHandler, SharedInformerFactory
from kinn.client.rest import Client, resource

log = logging.getLogger("kinn.hollow-node")

NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")
LEASES = resource("coordination.k8s.io/v1", "leases")
HOLLOW_LABEL = "kinn.io/hollow"
LEASE_DURATION = 40  # seconds, the kubelet's default nodeLeaseDurationSeconds

Obj = dict[str, Any]




@dataclass
class HollowNodeConfig:
    name_prefix: str = "hollow-"
    count: int = 3
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    renew_interval: float = 10.0
    job_duration: float = 1.0


def node_object(name: str, index: int, config: HollowNodeConfig) -> Obj:
    capacity = {"cpu": config.cpu, "memory": config.memory, "pods": str(config.pods),
                "ephemeral-storage": config.ephemeral_storage}
    now = now_rfc3339()
    conditions = [
        {"type": t, "status": "False", "reason": r, "message": m, "lastHeartbeatTime": now, "lastTransitionTime": now}
        for t, r, m in (
            ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                       "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                       "lastTransitionTime": now})
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64", HOLLOW_LABEL: "true",
        }, "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kinn.io/simulated": "hollow node (no real kubelet)"}},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": dict(capacity), "conditions": conditions,
            # Addresses from TEST-NET-2: documentation space, never routed, clearly not real.
            "addresses": [{"type": "InternalIP", "address": f"198.51.{100 + index // 250}.{index % 250 + 1}"},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "hollow",
                         "osImage": "kinn hollow node", "containerRuntimeVersion": "hollow://0.1",
                         "kubeletVersion": "v1.32.0-kinn-hollow", "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": "amd64"},
        },
    }


class PodIPs:
    """Per-node pod IP allocation from its podCIDR (.1 is the node's bridge, as on a real node)."""

    def __init__(self) -> None:
        self._used: dict[str, set[int]] = {}

    def allocate(self, node: str, pod_cidr: str) -> str:
        network = ipaddress.ip_network(pod_cidr)
        used = self._used.setdefault(node, set())
        for offset in range(2, network.num_addresses - 1):
            if offset not in used:
                used.add(offset)
                return str(network.network_address + offset)
        raise RuntimeError(f"{node}: no free pod IP in {pod_cidr}")

    def release(self, node: str, ip: str, pod_cidr: str) -> None:
        if ip and pod_cidr:
            offset = int(ipaddress.ip_address(ip)) - int(ipaddress.ip_network(pod_cidr).network_address)
            self._used.get(node, set()).discard(offset)


def running_status(pod: Obj, node: Obj, pod_ip: str) -> Obj:
    """The status a kubelet reports once every container started."""
    now = now_rfc3339()
    host_ip = next((a["address"] for a in node["status"].get("addresses", []) if a["type"] == "InternalIP"), "")

    def container_status(c: Obj) -> Obj:
        return {"name": c["name"], "image": c.get("image", ""), "imageID": f"hollow://{c.get('image', '')}",
                "containerID": f"hollow://{pod['metadata']['uid'][:12]}-{c['name']}", "ready": True,
                "started": True, "restartCount": 0, "state": {"running": {"startedAt": now}}}

    conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    status: Obj = {"phase": "Running", "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                   "startTime": now, "containerStatuses": [container_status(c) for c in pod["spec"]["containers"]]}
    if pod_ip:
        status["podIP"], status["podIPs"] = pod_ip, [{"ip": pod_ip}]
    return status


def completed_status(pod: Obj) -> Obj:
    now = now_rfc3339()
    statuses = []
    for c in pod["spec"]["containers"]:
        statuses.append({"name": c["name"], "image": c.get("image", ""), "imageID": f"hollow://{c.get('image', '')}",
                         "containerID": f"hollow://{pod['metadata']['uid'][:12]}-{c['name']}", "ready": False,
                         "started": False, "restartCount": 0,
                         "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now,
                                                  "finishedAt": now}}})
    conditions = [{"type": "Ready", "status": "False", "reason": "PodCompleted", "lastProbeTime": None,
                   "lastTransitionTime": now},
                  {"type": "ContainersReady", "status": "False", "reason": "PodCompleted", "lastProbeTime": None,
                   "lastTransitionTime": now}]
    return {"phase": "Succeeded", "conditions": conditions, "containerStatuses": statuses}


class HollowNodes:
    """N simulated nodes in one process, sharing one pod informer."""

    def __init__(self, client: Client, config: HollowNodeConfig, leases: Client | None = None) -> None:
        """`leases` renews the Leases over connections of its own (default: `client`'s). Every
        node renews in one burst per interval: in one pool, each node's pod status updates
        would queue behind a thousand renewals, where real kubelets each have their own."""
        self.client = client
        self.leases = leases or client
        self.config = config
        self.names = [f"{config.name_prefix}{i}" for i in range(config.count)]
        self._mine = set(self.names)
        self.factory = SharedInformerFactory(client)
        self.nodes = self.factory.informer(NODES, label_selector=f"{HOLLOW_LABEL}=true")
        self.pods = self.factory.informer(PODS, field_selector="spec.nodeName!=")
        self.ips = PodIPs()
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: set[str] = set()

    async def run(self) -> None:
        await asyncio.gather(*(self._register(i, name) for i, name in enumerate(self.names)))
        self.pods.add_event_handler(EventHandler(on_add=self._changed, on_update=lambda old, new: self._changed(new)))
        self.factory.start()
        await self.factory.wait_for_cache_sync()
        log.info("%d hollow nodes registered", len(self.names))
        workers = [asyncio.create_task(self._worker()) for _ in range(8)]
        try:
            await asyncio.gather(self._heartbeat(), *workers)
        finally:
            for task in workers:
                task.cancel()
            await self.factory.stop()

    async def _register(self, index: int, name: str) -> None:
        try:
            await self.client.create(NODES, node_object(name, index, self.config))
        except StatusError as e:
            if e.reason != "AlreadyExists":
                raise
            await self.client.patch(NODES, name, {"status": node_object(name, index, self.config)["status"]},
                                    subresource="status")

    async def _heartbeat(self) -> None:
        """Renew every node's Lease, as the kubelet's node lease controller does."""
        while True:
            await asyncio.gather(*(self._renew(name) for name in self.names), return_exceptions=True)
            await asyncio.sleep(self.config.renew_interval)

    async def _renew(self, name: str) -> None:
        now = micro_time(datetime.now(timezone.utc))
        try:
            await self.leases.patch(LEASES, name, {"spec": {"renewTime": now, "holderIdentity": name,
                                                            "leaseDurationSeconds": LEASE_DURATION}},
                                    "kube-node-lease")
        except StatusError as e:
            if e.code != 404:
                raise
            node = self.nodes.indexer.get(name)
            owner = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}] if node else []
            await self.leases.create(LEASES, {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease", "ownerReferences": owner},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION, "renewTime": now},
            })

    def _changed(self, pod: Obj) -> None:
        if pod["spec"].get("nodeName") not in self._mine:
            return
        key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        if key not in self._pending:
            self._pending.add(key)
            self._queue.put_nowait(key)

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._pending.discard(key)
            pod = self.pods.indexer.get(key)
            if pod is None:
                continue
            try:
                await self._sync(pod)
            except StatusError as e:
                if e.code not in (404, 409):
                    log.warning("%s: %s", key, e.message)
                    self._changed(pod)

    async def _sync(self, pod: Obj) -> None:
        meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
        node = self.nodes.indexer.get(spec["nodeName"])
        pod_cidr = (node or {}).get("spec", {}).get("podCIDR", "")
        if meta.get("deletionTimestamp"):
            self.ips.release(spec["nodeName"], status.get("podIP", ""), pod_cidr)
            await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
            return
        phase = status.get("phase")
        if node is None or phase in ("Succeeded", "Failed"):
            return
        if phase != "Running":
            pod_ip = self.ips.allocate(spec["nodeName"], pod_cidr) if pod_cidr else ""
            await self.client.patch(PODS, meta["name"], {"status": running_status(pod, node, pod_ip)},
                                    meta["namespace"], subresource="status")
            if spec.get("restartPolicy", "Always") != "Always":
                asyncio.get_running_loop().call_later(self.config.job_duration, self._changed, pod)
            return
        if spec.get("restartPolicy", "Always") != "Always" and self._ran_long_enough(status):
            self.ips.release(spec["nodeName"], status.get("podIP", ""), pod_cidr)
            await self.client.patch(PODS, meta["name"], {"status": completed_status(pod)}, meta["namespace"],
                                    subresource="status")

    def _ran_long_enough(self, status: Obj) -> bool:
        started = status.get("startTime")
        if not started:
            return False
        elapsed = datetime.now(timezone.utc) - datetime.fromisoformat(started.replace("Z", "+00:00"))
        return elapsed.total_seconds() >= self.config.job_duration
