#!/usr/bin/env python3
"""Benchmark the control plane (`kinn server` with hollow nodes) and print the figures.

    .venv/bin/python bench/controllers.py [--nodes 100 1000] [--replicas 1000] [--total-pods 10000]

For each cluster size, against a fresh `kinn server` (API server + scheduler + controller manager in one
process, its own data directory) and one `kinn hollow-nodes` process (nodes renew their Leases every
10 s, as the kubelet does): create a Deployment of --replicas pods and time it until every pod is
Running and the Deployment reports them all available, with the time to the first Running pod and
the binding rate seen on a pod watch. At the largest size, also time a rolling update (`set image`),
scale to --total-pods pods, and read the resident memory (VmRSS, peak VmHWM) of the server and,
separately, of the hollow-nodes process: it is the simulation, not the control plane.
Server, hollow nodes and this client share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scratch import scratch_dir

from kinn.client.rest import Client, resource

NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")
DEPLOYMENTS = resource("apps/v1", "deployments")
NAMESPACE = "default"
# A /14 holds 1,024 node /24s, so every hollow node gets a podCIDR and its pods get IPs.
CLUSTER_CIDR = "10.128.0.0/14"
IDLE_SAMPLE = 10.0  # seconds: one full Lease renewal round
# Seconds after the nodes are Ready before the idle sample: registration's aftermath (node CIDR
# allocation, RegisteredNode events, the first node status writes) is over by then.
IDLE_SETTLE = 10.0


def deployment(name: str, replicas: int, image: str = "registry.k8s.io/pause:3.10") -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "app", "image": image,
                          "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


def memory(pid: int) -> str:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    rss, hwm = (int(status[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    return f"RSS {rss:6.1f} MB (peak {hwm:6.1f} MB)"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cluster:
    data_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def start(self, nodes: int, profile: str = "") -> None:
        wrapper = ("-m", "cProfile", "-o", profile) if profile else ()
        server = self._spawn(*wrapper, "-m", "kinn", "server", "--data-dir", str(self.data_dir), "--secure-port", "0",
                             "--kubeconfig-out", str(self.kubeconfig), "--cluster-cidr", CLUSTER_CIDR, "-v", "1")
        deadline = time.monotonic() + 30
        while not self.kubeconfig.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kinn server did not start; see {self.data_dir / 'server.log'}")
            time.sleep(0.05)
        self._spawn("-m", "kinn", "hollow-nodes", "--kubeconfig", str(self.kubeconfig), "--count", str(nodes),
                    "--lease-renew-interval", "10s", "-v", "1")

    def _spawn(self, *args: str) -> subprocess.Popen:
        log = (self.data_dir / f"{args[args.index('kinn') + 1]}.log").open("w")
        process = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.server.pid), cpu_seconds(self.hollow_nodes.pid)

    def cpu_since(self, before: tuple[float, float]) -> str:
        server, hollow = (now - then for now, then in zip(self.cpu(), before))
        return f"CPU used: server {server:5.1f} s, hollow nodes {hollow:5.1f} s"

    @property
    def server(self) -> subprocess.Popen:
        return self.processes[0]

    @property
    def hollow_nodes(self) -> subprocess.Popen:
        return self.processes[1]

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def ready(node: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))


async def wait_for_nodes(client: Client, count: int, timeout: float = 120) -> float:
    started = time.perf_counter()
    while sum(map(ready, (await client.list_all(NODES))["items"])) < count:
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{count} nodes not Ready within {timeout} s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


def complete(d: dict, replicas: int) -> bool:
    """kubectl rollout status's test: the new template everywhere, old pods gone, all available."""
    status = d.get("status", {})
    return (status.get("observedGeneration", 0) >= d["metadata"]["generation"]
            and status.get("updatedReplicas") == status.get("replicas") == status.get("availableReplicas") == replicas)


async def wait_for_deployment(client: Client, name: str, replicas: int, timeout: float) -> float:
    started = time.perf_counter()
    while not complete(await client.get(DEPLOYMENTS, name, NAMESPACE), replicas):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"deployment {name} not complete with {replicas} replicas within {timeout} s")
        await asyncio.sleep(0.05)
    return time.perf_counter() - started


async def watch_pods(client: Client, name: str, version: str, replicas: int, started: float,
                     bound: list[float], running: list[float]) -> None:
    """Record when each pod of the Deployment is first bound and first Running."""
    seen_bound: set[str] = set()
    seen_running: set[str] = set()
    async for kind, pod in client.watch(PODS, NAMESPACE, version, label_selector=f"app={name}", timeout_seconds=600):
        if kind == "BOOKMARK":
            continue
        pod_name = pod["metadata"]["name"]
        now = time.perf_counter() - started
        if pod["spec"].get("nodeName") and pod_name not in seen_bound:
            seen_bound.add(pod_name)
            bound.append(now)
        if pod.get("status", {}).get("phase") == "Running" and pod_name not in seen_running:
            seen_running.add(pod_name)
            running.append(now)
            if len(running) == replicas:
                return


async def create_deployment(client: Client, name: str, replicas: int) -> str:
    version = (await client.list(PODS, NAMESPACE, limit=1))["metadata"]["resourceVersion"]
    bound: list[float] = []
    running: list[float] = []
    started = time.perf_counter()
    watcher = asyncio.create_task(watch_pods(client, name, version, replicas, started, bound, running))
    await client.create(DEPLOYMENTS, deployment(name, replicas), NAMESPACE)
    elapsed = await wait_for_deployment(client, name, replicas, timeout=300)
    await asyncio.wait_for(watcher, 60)
    span = bound[-1] - bound[0]
    rate = (len(bound) - 1) / span if span > 0 else float("inf")
    verdict = "ok" if elapsed < 10 else "OVER 10 s"
    return (f"  Deployment of {replicas} replicas: all Running and available in {elapsed:6.2f} s ({verdict}); "
            f"first pod Running after {running[0]:5.2f} s; {rate:6.1f} pods bound/s "
            f"(first binding {bound[0]:5.2f} s, last {bound[-1]:5.2f} s)")


async def rolling_update(client: Client, name: str, replicas: int) -> str:
    await client.patch(DEPLOYMENTS, name, {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}}}, NAMESPACE, patch_type="strategic")
    elapsed = await wait_for_deployment(client, name, replicas, timeout=600)
    return f"  rolling update (set image) of {replicas} replicas, 25% surge/unavailable: complete in {elapsed:6.2f} s"


async def scale(client: Client, name: str, replicas: int) -> str:
    await client.patch(DEPLOYMENTS, name, {"spec": {"replicas": replicas}}, NAMESPACE, subresource="scale")
    elapsed = await wait_for_deployment(client, name, replicas, timeout=900)
    return f"  scaled to {replicas} pods: all Running and available in {elapsed:6.2f} s"


async def measure(cluster: Cluster, nodes: int, args: argparse.Namespace, largest: bool) -> None:
    async with Client.from_kubeconfig(str(cluster.kubeconfig)) as client:
        print(f"{nodes} hollow nodes Ready after {await wait_for_nodes(client, nodes):5.1f} s", flush=True)
        await asyncio.sleep(IDLE_SETTLE)
        before = cluster.cpu()
        await asyncio.sleep(IDLE_SAMPLE)
        server, hollow = ((now - then) / IDLE_SAMPLE * 100 for now, then in zip(cluster.cpu(), before))
        print(f"  idle (Lease renewals only, {IDLE_SETTLE:.0f} s after Ready): server {server:4.1f}% of a core, "
              f"hollow nodes {hollow:4.1f}%; server {memory(cluster.server.pid)}; hollow nodes {memory(cluster.hollow_nodes.pid)}", flush=True)
        before = cluster.cpu()
        print(await create_deployment(client, "bench", args.replicas), flush=True)
        print(f"    {cluster.cpu_since(before)}", flush=True)
        if not largest or not args.total_pods:
            return
        before = cluster.cpu()
        print(await rolling_update(client, "bench", args.replicas), flush=True)
        print(f"    {cluster.cpu_since(before)}", flush=True)
        before = cluster.cpu()
        print(await scale(client, "bench", args.total_pods), flush=True)
        print(f"    {cluster.cpu_since(before)}", flush=True)
        print(f"  at {nodes} nodes / {args.total_pods} pods: server {memory(cluster.server.pid)} "
              f"(requirement < 250 MB); hollow nodes {memory(cluster.hollow_nodes.pid)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--total-pods", type=int, default=10000,
                        help="Pods to scale to at the largest size; 0 skips the rolling update and the scale.")
    parser.add_argument("--profile", default="", help="Run the server under cProfile, writing its stats here.")
    args = parser.parse_args()
    for nodes in args.nodes:
        with scratch_dir("kinn-bench-controllers-") as data_dir:
            cluster = Cluster(data_dir)
            try:
                cluster.start(nodes, args.profile)
                asyncio.run(measure(cluster, nodes, args, largest=nodes == max(args.nodes)))
            finally:
                cluster.stop()


if __name__ == "__main__":
    main()
