"""The kubelet: registers its Node, renews its Lease, and runs the pods bound to it.

    kubelet = Kubelet(client, KubeletConfig(node_name="worker-1", node_ip="10.240.0.21", ...))
    await kubelet.run()

Pods come from an informer on `spec.nodeName=<node>`; each gets a PodWorker (pod_workers.py).
A relist every second (the PLEG's period) wakes the workers whose pause process died, so they
recreate the sandbox. Node Ready follows the CNI config: without a usable network config the
node reports NetworkPluginNotReady, as a kubelet whose runtime has no CNI network does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any, Coroutine

from kinn import KUBERNETES_MAJOR, KUBERNETES_MINOR, __version__
from kinn.api.errors import StatusError
from kinn.api.quantity import milli_value
from kinn.cgroupfs import limit_hierarchies, mounted_hierarchies
from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformerFactory
from kinn.api.timestamps import micro_time, now_rfc3339
from kinn.client.rest import Client, resource
from kinn.cni import ConfigError, load_conf_dir
from kinn.cni.config import config_files
from kinn.kubelet.backoff import Backoff
from kinn.kubelet import network
from kinn.kubelet.config.file import SourceFile
from kinn.kubelet.cri.api import DEFAULT_RUNTIME_ENDPOINT
from kinn.kubelet.cri.service import RuntimeService
from kinn.kubelet.pod_workers import PodContext, PodWorker
from kinn.kubelet.predicate import Rejection, admit
from kinn.kubelet.runtime import DEFAULT_LOG_ROOT
from kinn.kubelet.runtime.cgroup import CgroupRoot
from kinn.kubelet.server import KubeletServer, serving_context
from kinn.kubelet.sandbox import DEFAULT_NETNS_DIR
from kinn.kubelet.static_pods import StaticPods, is_mirror_pod
from kinn.kubelet.status import StatusManager

log = logging.getLogger("kinn.kubelet")
NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")
SERVICES = resource("v1", "services")
LEASES = resource("coordination.k8s.io/v1", "leases")
LEASE_NAMESPACE = "kube-node-lease"
RELIST_PERIOD = 1.0
REGISTER_RETRY, REGISTER_RETRY_MAX = 0.1, 7.0  # seconds; upstream backs off 100 ms doubling up to 7 s
SYNC_FREQUENCY = 60.0  # --sync-frequency: every pod is synced this often even if nothing happened
NODE_STATUS_REPORT = 60.0  # seconds between unchanged node status reports (upstream: 5 min with leases)

Obj = dict[str, Any]


@dataclass
class KubeletConfig:
    """The kubelet's flags (upstream names in comments where they differ)."""

    node_name: str
    node_ip: str
    root_dir: Path = Path("/var/lib/kubelet")
    log_root: Path = DEFAULT_LOG_ROOT
    netns_dir: Path = DEFAULT_NETNS_DIR
    cni_conf_dir: Path = Path("/etc/cni/net.d")
    cni_bin_dirs: list[str] = field(default_factory=lambda: ["/opt/cni/bin"])
    cni_cache_dir: Path = Path("/var/lib/cni/cache")
    cluster_dns: list[str] = field(default_factory=list)
    cluster_domain: str = "cluster.local"
    capacity: dict[str, str] = field(default_factory=lambda: {"cpu": "2", "memory": "4Gi", "pods": "110",
                                                               "ephemeral-storage": "20Gi"})
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[Obj] = field(default_factory=list)  # --register-with-taints
    address: str = "0.0.0.0"  # --address: where the kubelet server (logs, exec, attach) listens
    port: int = 10250  # --port
    container_runtime_endpoint: str = DEFAULT_RUNTIME_ENDPOINT  # where the kubelet serves its runtime's CRI view
    pod_manifest_path: Path | None = Path("/etc/kubernetes/manifests")  # --pod-manifest-path (None: no static pods)
    file_check_frequency: float = 1.0  # --file-check-frequency (upstream 20 s, with inotify on top)
    lease_duration: int = 40  # --node-lease-duration-seconds
    lease_renew_interval: float = 10.0
    backoff_initial: float = 10.0
    backoff_max: float = 300.0
    cgroup_root: PurePosixPath | None = None  # --cgroup-root; None: containers get no cgroups of their own
    make_iptables_util_chains: bool = True  # KUBE-FIREWALL, KUBE-IPTABLES-HINT and the canaries (kinn.kubelet.network)


def _os_image() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "Linux"


def _cgroup_root(root: PurePosixPath | None, allocatable_cpu: str) -> CgroupRoot | None:
    """Where containers' cgroups go: --cgroup-root in each hierarchy holding memory or cpu (in a
    kinn node, the node's own cgroups). The kubelet says at start which limits it enforces."""
    if root is None:
        log.info("no --cgroup-root: containers get no cgroups, resources.limits are not enforced")
        return None
    cgroups = CgroupRoot(tuple(limit_hierarchies(mounted_hierarchies())), PurePosixPath(str(root).lstrip("/")))
    if not cgroups.hierarchies:
        log.warning("no mounted cgroup hierarchy offers memory or cpu: resources.limits are not enforced")
        return None
    try:
        cgroups.create_qos_cgroups(milli_value(allocatable_cpu))
    except OSError as error:
        log.warning("cannot create kubepods under %s (%s): resources.limits are not enforced", root, error)
        return None
    log.info("container cgroups under %s in %s: enforcing %s limits", PurePosixPath("/", cgroups.path, "kubepods"),
             ", ".join(str(hierarchy.mount) for hierarchy in cgroups.hierarchies), ", ".join(cgroups.controllers()))
    return cgroups


def node_labels(config: KubeletConfig) -> dict[str, str]:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {"kubernetes.io/hostname": config.node_name, "kubernetes.io/os": "linux", "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": arch, **config.labels}


def ready_condition(network_error: str | None, transition: str) -> Obj:
    stamp = now_rfc3339()
    if network_error is None:
        return {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
                "lastHeartbeatTime": stamp, "lastTransitionTime": transition}
    return {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
            "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
                       f"message:Network plugin returns error: {network_error}",
            "lastHeartbeatTime": stamp, "lastTransitionTime": transition}


def node_status(config: KubeletConfig, network_error: str | None, transition: str) -> Obj:
    stamp = now_rfc3339()
    pressure = [{"type": kind, "status": "False", "reason": reason, "message": message, "lastHeartbeatTime": stamp,
                 "lastTransitionTime": transition}
                for kind, reason, message in (
                    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))]
    uname = os.uname()
    return {
        "capacity": dict(config.capacity), "allocatable": dict(config.capacity),
        "conditions": [*pressure, ready_condition(network_error, transition)],
        "addresses": [{"type": "InternalIP", "address": config.node_ip},
                      {"type": "Hostname", "address": config.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.port}},
        "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": uname.release,
                     "osImage": _os_image(), "containerRuntimeVersion": f"kinn://{__version__}",
                     "kubeletVersion": f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0-kinn.{__version__}",
                     "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": node_labels(config)[
                         "kubernetes.io/arch"]},
    }


class Kubelet:
    def __init__(self, client: Client, config: KubeletConfig) -> None:
        self.client = client
        self.config = config
        self.factory = SharedInformerFactory(client)
        self.pods = self.factory.informer(PODS, field_selector=f"spec.nodeName={config.node_name}")
        self.node = self.factory.informer(NODES, field_selector=f"metadata.name={config.node_name}")
        self.services = self.factory.informer(SERVICES)
        self.static_pods = StaticPods(client, SourceFile(config.pod_manifest_path, config.node_name),
                                      config.file_check_frequency, self._pod_changed, self._stop_pod)
        self.context = PodContext(
            client=client, recorder=EventRecorder(client, "kubelet", config.node_name),
            status=StatusManager(client, self.static_pods.translate_uid),
            services=self.services.indexer.list, node_ip=config.node_ip, root_dir=config.root_dir,
            log_root=config.log_root, netns_dir=config.netns_dir, cni_conf_dir=config.cni_conf_dir,
            cni_bin_dirs=config.cni_bin_dirs, cni_cache_dir=config.cni_cache_dir, cluster_dns=config.cluster_dns,
            cluster_domain=config.cluster_domain, backoff=Backoff(config.backoff_initial, config.backoff_max),
            allocatable=config.capacity, cgroups=_cgroup_root(config.cgroup_root, config.capacity["cpu"]))
        self.workers: dict[str, PodWorker] = {}
        self.server = KubeletServer(self.pod_worker, config.log_root)
        self.runtime_service = RuntimeService(lambda: list(self.workers.values()), config.log_root)
        self._network_error: str | None = ""  # "" = not yet checked
        self._ready_since = now_rfc3339()

    async def run(self) -> None:
        await self._start_server()
        await self.runtime_service.start(self.config.container_runtime_endpoint)
        static_pods = asyncio.create_task(self.static_pods.run())  # they need no API server to run
        await self._register_until_done()
        self.pods.add_event_handler(EventHandler(on_add=self._pod_changed,
                                                 on_update=lambda old, new: self._pod_changed(new),
                                                 on_delete=self._pod_deleted))
        self.factory.start()
        await self.factory.wait_for_cache_sync()
        log.info("node %s registered, %d pods bound", self.config.node_name, len(self.pods.indexer))
        try:
            await asyncio.gather(self._renew_lease_forever(), self._report_status_forever(), self._relist_forever(),
                                 self._resync_forever(), static_pods, *self._network_util())
        finally:
            await self.factory.stop()
            await self.server.stop()
            await self.runtime_service.stop()

    def _network_util(self) -> list[Coroutine[Any, Any, None]]:
        return [network.monitor()] if self.config.make_iptables_util_chains else []

    async def _start_server(self) -> None:
        """Serve logs/exec/attach; a port already taken is logged, the pods still run (no other
        component depends on it), and `kubectl logs` then fails with the dial error."""
        context = serving_context(self.config.root_dir, self.config.node_name, self.config.node_ip)
        try:
            await self.server.start(self.config.address, self.config.port, context)
        except OSError as error:
            log.error("kubelet server cannot listen on %s:%d: %s", self.config.address, self.config.port, error)

    # -- node --------------------------------------------------------------------------------

    def _check_network(self) -> str | None:
        try:
            load_conf_dir(self.config.cni_conf_dir)
        except ConfigError as error:
            return str(error) if config_files(self.config.cni_conf_dir) else "cni plugin not initialized"
        return None

    async def _register_until_done(self) -> None:
        """Retry registration while the API server is unreachable, as the kubelet does (it may start
        before the control plane: `kinn up` starts both at once)."""
        delay = REGISTER_RETRY
        while True:
            try:
                return await self._register()
            except OSError as error:
                log.info("unable to register node %s with the API server: %s", self.config.node_name, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, REGISTER_RETRY_MAX)

    def _initial_node(self) -> Obj:
        """The Node as this kubelet would register it: what it creates, and what admission checks
        pods against until the API's copy is known (initialNode)."""
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.config.node_name, "labels": node_labels(self.config),
                             "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {"taints": self.config.taints} if self.config.taints else {},
                "status": node_status(self.config, self._network_error, self._ready_since)}

    async def _register(self) -> None:
        """registerWithAPIServer: create the Node, or take over an existing one's status and labels."""
        self._network_error = self._check_network()
        node = self._initial_node()
        status = node["status"]
        try:
            await self.client.create(NODES, node)
        except StatusError as error:
            if error.reason != "AlreadyExists":
                raise
            await self.client.patch(NODES, self.config.node_name, {"metadata": {"labels": node_labels(self.config)}})
            await self.client.patch(NODES, self.config.node_name, {"status": status}, subresource="status")

    async def _report_status_forever(self) -> None:
        """Post node status when Ready changes (checked every lease period), else every NODE_STATUS_REPORT."""
        last_report = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(self.config.lease_renew_interval)
            error = self._check_network()
            changed = error != self._network_error
            if changed:
                self._network_error, self._ready_since = error, now_rfc3339()
            if changed or asyncio.get_running_loop().time() - last_report >= NODE_STATUS_REPORT:
                await self._patch_status()
                last_report = asyncio.get_running_loop().time()

    async def _patch_status(self) -> None:
        try:
            await self.client.patch(NODES, self.config.node_name,
                                    {"status": node_status(self.config, self._network_error, self._ready_since)},
                                    subresource="status")
        except (StatusError, OSError) as error:
            log.warning("node status update failed: %s", error)

    async def _renew_lease_forever(self) -> None:
        while True:
            try:
                await self._renew_lease()
            except (StatusError, OSError) as error:
                log.warning("lease renewal failed: %s", error)
            await asyncio.sleep(self.config.lease_renew_interval)

    async def _renew_lease(self) -> None:
        """The node lease controller: update renewTime, creating the Lease (owned by the Node) if missing."""
        name = self.config.node_name
        renew = micro_time(datetime.now(timezone.utc))
        spec = {"holderIdentity": name, "leaseDurationSeconds": self.config.lease_duration, "renewTime": renew}
        try:
            await self.client.patch(LEASES, name, {"spec": spec}, LEASE_NAMESPACE)
        except StatusError as error:
            if error.code != 404:
                raise
            node = await self.client.get(NODES, name)
            owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}
            await self.client.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                              "metadata": {"name": name, "namespace": LEASE_NAMESPACE,
                                                           "ownerReferences": [owner]},
                                              "spec": spec})

    # -- pods --------------------------------------------------------------------------------

    def _pod_changed(self, pod: Obj) -> None:
        if is_mirror_pod(pod):  # a static pod's reflection: not run, only kept in step
            self.static_pods.mirror_changed(pod)
            return
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is None:
            self.workers[uid] = PodWorker(self.context, pod, self._worker_done, self._admit(pod))
            self._update_qos_cgroups()
        else:
            worker.update(pod)

    def _admit(self, pod: Obj) -> Rejection | None:
        """canAdmitPod, for a pod new to this kubelet that still has to run: checked against the
        pods it runs (not those finished) and its Node (getNodeAnyWay)."""
        if pod["metadata"].get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded",
                                                                                                  "Failed"):
            return None
        node = self.node.indexer.get(self.config.node_name) or self._initial_node()
        return admit(pod, node, self._active_pods())

    def _pod_deleted(self, pod: Obj) -> None:
        if is_mirror_pod(pod):
            self.static_pods.mirror_deleted(pod)
            return
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.remove()

    async def _stop_pod(self, pod: Obj) -> None:
        """Stop a pod its source dropped (a removed static pod) and return once its worker is done."""
        worker = self.workers.get(pod["metadata"]["uid"])
        if worker is not None:
            worker.remove()
            await asyncio.wait([worker.task])

    def pod_worker(self, namespace: str, name: str) -> PodWorker | None:
        """The worker of the pod bound here by that name (GetPodByName), if any."""
        key = f"{namespace}/{name}"
        return next((worker for worker in self.workers.values() if worker.key == key), None)

    def _worker_done(self, uid: str) -> None:
        self.workers.pop(uid, None)
        self._update_qos_cgroups()

    def _active_pods(self) -> list[Obj]:
        """The pods this kubelet admitted that still run or will (filterOutInactivePods)."""
        return [worker.pod for worker in self.workers.values() if not worker.finished]

    def _update_qos_cgroups(self) -> None:
        """Keep the QoS cgroups' CPU shares in step with the pods, as each pod sync does upstream.
        A failed write leaves the last shares: limits and the pod cgroups still hold."""
        if self.context.cgroups is None:
            return
        try:
            self.context.cgroups.update_qos_cgroups(pod["spec"] for pod in self._active_pods())
        except OSError as error:
            log.warning("updating the QoS cgroups failed: %s", error)

    async def _relist_forever(self) -> None:
        """The PLEG relist, reduced to what exits don't report themselves: dead pause processes."""
        while True:
            await asyncio.sleep(RELIST_PERIOD)
            for worker in list(self.workers.values()):
                if worker.needs_new_sandbox():
                    worker.wake()

    async def _resync_forever(self) -> None:
        """The periodic pod sync: volumes whose contents follow the API are refreshed by it (a token
        at 80% of its lifetime is replaced within a minute), as upstream's --sync-frequency loop."""
        while True:
            await asyncio.sleep(SYNC_FREQUENCY)
            for worker in list(self.workers.values()):
                worker.wake()
