#!/usr/bin/env python3
"""Benchmark pod start-up on real kinn nodes: create → Running, sandbox and CNI included.

    .venv/bin/python bench/podstartup.py [--pods 100] [--rate 5] [--concurrency 10]

On a fresh `kinn up` cluster (control-plane + 2 workers), create busybox pods (`sleep`) at
`--rate` pods per second, as Kubernetes' density tests pace them (0: all at once, from
`--concurrency` parallel clients, which measures queueing behind the nodes' throughput), and
watch them: each pod's latency runs from its create request
to the watch event showing it Running with an IP — scheduling, pause, CNI ADD (flannel → bridge →
host-local, portmap, loopback), the service-account token volume, the container process and the
status write. Kubernetes' SLO is p99 ≤ 5 s; kinn's targets are p50 < 150 ms and p99 < 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from clusters import bench_cluster

from kinn.api.errors import StatusError
from kinn.client.rest import Client, Resource, resource, wait_for

PODS = resource("v1", "pods")
SERVICEACCOUNTS = resource("v1", "serviceaccounts")
CONFIGMAPS = resource("v1", "configmaps")
NAMESPACE = "default"


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "startup-bench"}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def namespace_ready(client: Client) -> None:
    """A pod's token volume needs the namespace's `default` ServiceAccount and `kube-root-ca.crt`,
    which controllers create just after `kinn up`: the clock starts once they exist."""
    for kind, name in ((SERVICEACCOUNTS, "default"), (CONFIGMAPS, "kube-root-ca.crt")):
        await wait_for(lambda: _exists(client, kind, name), timeout=30)


async def _exists(client: Client, kind: Resource, name: str) -> bool:
    try:
        return bool(await client.get(kind, name, NAMESPACE))
    except StatusError:
        return False


async def measure(kubeconfig: str, count: int, rate: float, concurrency: int) -> list[float]:
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    async with Client.from_kubeconfig(kubeconfig, "podstartup-bench") as client:
        await namespace_ready(client)
        version = (await client.list(PODS, NAMESPACE))["metadata"]["resourceVersion"]
        done = asyncio.Event()

        async def watch() -> None:
            async for kind, obj in client.watch(PODS, NAMESPACE, resource_version=version,
                                             label_selector="app=startup-bench"):
                if kind == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if obj["status"].get("phase") == "Running" and obj["status"].get("podIP") and name not in running:
                    running[name] = time.monotonic()
                    if len(running) == count:
                        done.set()
                        return

        watcher = asyncio.create_task(watch())
        slots = asyncio.Semaphore(concurrency)

        async def create(index: int) -> None:
            if rate:
                await asyncio.sleep(index / rate)
            async with slots:
                name = f"startup-{index}"
                created[name] = time.monotonic()
                await client.create(PODS, pod(name), NAMESPACE)

        await asyncio.gather(*(create(index) for index in range(count)))
        await asyncio.wait_for(done.wait(), timeout=300)
        watcher.cancel()
    return [running[name] - created[name] for name in created]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="pods created per second (0: all at once)")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    with bench_cluster(workers=2, prefix="benchpod") as cluster:
        started = time.monotonic()
        latencies = asyncio.run(measure(str(cluster.paths.kubeconfig), args.pods, args.rate, args.concurrency))
        elapsed = time.monotonic() - started
    ms = [1000 * value for value in latencies]
    pacing = f"{args.rate:g} pods/s" if args.rate else f"all at once from {args.concurrency} clients"
    print(f"{args.pods} pods on 2 workers, created {pacing}, all Running in {elapsed:.1f}s")
    print(f"create → Running: p50 {percentile(ms, 0.5):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
          f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms, mean {statistics.mean(ms):.0f} ms "
          "(targets p50 < 150 ms, p99 < 500 ms)")


if __name__ == "__main__":
    main()
