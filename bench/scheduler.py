#!/usr/bin/env python3
"""Benchmark `kinn scheduler`: pods bound per second onto 100 and 1,000 nodes, and print the figures.

    .venv/bin/python bench/scheduler.py [--nodes 100 1000] [--pods 3000]

For each cluster size, against a fresh `kinn apiserver`: register hollow Node objects (labelled
`kinn.io/hollow=true` — simulated, Ready, 32 cpu / 128Gi / 110 pods, nothing runs on them), create
the pending pods (100m cpu, 64Mi each), then start `kinn scheduler` in its own process and watch the
pods: throughput is bound pods over the time from the first binding to the last (informer sync and
process start are reported separately). Every binding is a real POST pods/binding plus a Scheduled
event, as the real scheduler writes; server, scheduler and this client share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from scratch import scratch_dir

from kinn.client.rest import Client, resource

NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")


def hollow_node(name: str) -> dict:
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kinn.io/hollow": "true"}},
            "status": {"allocatable": allocatable, "capacity": allocatable,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def pending_pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "app", "image": "pause",
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


async def create_all(client: Client, r, objects: list[dict], namespace: str = "", concurrency: int = 16) -> None:
    pending = list(reversed(objects))

    async def worker() -> None:
        while pending:
            await client.create(r, pending.pop(), namespace)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def start_apiserver(data_dir: Path) -> tuple[subprocess.Popen, Path]:
    kubeconfig = data_dir / "kubeconfig"
    server = subprocess.Popen(
        [sys.executable, "-m", "kinn", "apiserver", "--data-dir", str(data_dir), "--secure-port", "0",
         "--kubeconfig-out", str(kubeconfig), "-v", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not kubeconfig.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("kinn apiserver did not start")
        time.sleep(0.05)
    return server, kubeconfig


def start_scheduler(kubeconfig: Path, log: Path) -> subprocess.Popen:
    code = "import sys; from kinn.cli.scheduler import scheduler; scheduler(sys.argv[1:])"
    return subprocess.Popen([sys.executable, "-c", code, "--kubeconfig", str(kubeconfig), "--leader-elect", "false",
                             "-v", "0"], stdout=subprocess.DEVNULL, stderr=log.open("w"))


async def measure(kubeconfig: Path, nodes: int, pods: int, log: Path) -> str:
    async with Client.from_kubeconfig(str(kubeconfig)) as client:
        await create_all(client, NODES, [hollow_node(f"hollow-{i:04}") for i in range(nodes)])
        await create_all(client, PODS, [pending_pod(f"bench-{i:05}") for i in range(pods)], "default")
        listing = await client.list(PODS, "default", limit=1)
        version = listing["metadata"]["resourceVersion"]
        started = time.perf_counter()
        scheduler = start_scheduler(kubeconfig, log)
        bound: dict[str, float] = {}
        try:
            async def watch() -> None:
                async for _, pod in client.watch(PODS, "default", version, timeout_seconds=300):
                    if (pod.get("spec") or {}).get("nodeName") and pod["metadata"]["name"] not in bound:
                        bound[pod["metadata"]["name"]] = time.perf_counter()
                        if len(bound) == pods:
                            return
            await asyncio.wait_for(watch(), 300)
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=10)
        first, last = min(bound.values()), max(bound.values())
        rate = (pods - 1) / (last - first) if last > first else float("inf")
        return (f"{nodes:>5} hollow nodes, {pods} pods: {rate:7.1f} pods/s "
                f"(first binding {first - started:5.2f} s after start, last after {last - started:5.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--pods", type=int, default=3000)
    args = parser.parse_args()
    for nodes in args.nodes:
        with scratch_dir("kinn-bench-scheduler-") as data_dir:
            server, kubeconfig = start_apiserver(data_dir)
            try:
                print(asyncio.run(measure(kubeconfig, nodes, args.pods, data_dir / "scheduler.log")), flush=True)
            finally:
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    main()
