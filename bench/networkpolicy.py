#!/usr/bin/env python3
"""Benchmark the NetworkPolicy agent's sync: rendering one node's table and applying it.

    .venv/bin/python bench/networkpolicy.py [--pods 300 1000 3000] [--policies-per-100-pods 10] [--runs 5]

For each size: pods spread over 3 nodes and 50 namespaces, 20 app labels, a named `http` port
on every pod; one ingress policy per 10 pods, each admitting another app from every namespace on
the named port. Printed: the median of `--runs` renders for one node (what a sync computes on
every relevant change) and of applying that script through libnftables in a scratch netns
created here and removed afterwards (the transaction deletes and rewrites the table).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from kinn import netlink
from kinn.networkpolicy.rules import Cluster, PodInfo, render
from kinn.proxy.nftables import libnft

NODES, NAMESPACES, APPS = 3, 50, 20


def synthetic(pods: int, policies: int) -> Cluster:
    pod_infos = [PodInfo(f"ns{i % NAMESPACES}", f"pod{i}", f"worker-{i % NODES}", f"10.{i >> 16 & 255}.{i >> 8 & 255}."
                         f"{i & 255}", {"app": f"app{i % APPS}"}, {("http", "TCP"): 8080}) for i in range(pods)]
    policy_objects = [{"metadata": {"namespace": f"ns{i % NAMESPACES}", "name": f"policy{i}"},
                       "spec": {"podSelector": {"matchLabels": {"app": f"app{i % APPS}"}}, "policyTypes": ["Ingress"],
                                "ingress": [{"from": [{"namespaceSelector": {},
                                                       "podSelector": {"matchLabels": {"app": f"app{(i + 1) % APPS}"}}}],
                                             "ports": [{"protocol": "TCP", "port": "http"}]}]}}
                      for i in range(policies)]
    namespaces = {f"ns{i}": {"kubernetes.io/metadata.name": f"ns{i}"} for i in range(NAMESPACES)}
    return Cluster(policy_objects, pod_infos, namespaces)


def median_ms(action, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(pods: int, policies: int, runs: int) -> str:
    script = render(synthetic(pods, policies), "worker-1")
    rendering = median_ms(lambda: render(synthetic(pods, policies), "worker-1"), runs)
    applying = median_ms(lambda: libnft.run(script), runs)
    return (f"{pods:5d} pods, {policies:4d} policies: render {rendering:6.1f} ms, apply {applying:6.1f} ms "
            f"({script.count(chr(10))} lines for worker-1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[300, 1000, 3000])
    parser.add_argument("--policies-per-100-pods", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for pods in args.pods:
        netns = f"kinn-bench-{uuid.uuid4().hex[:8]}"
        netlink.netns.create(netns)
        try:
            print(netlink.netns.run_in(netns, measure, pods, pods * args.policies_per_100_pods // 100, args.runs),
                  flush=True)
        finally:
            netlink.netns.delete(netns)


if __name__ == "__main__":
    main()
