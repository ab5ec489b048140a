#!/usr/bin/env python3
"""Benchmark `kinn up`: seconds to a Ready 3-node cluster, its idle memory, and `kinn down`.

    .venv/bin/python bench/up.py [--runs 3] [--idle 15]

Each run builds control-plane + 2 workers from nothing (underlay, node namespaces, `kinn server`,
one `kinn agent` per node) and stops the clock when `kinn up` returns: every node Ready with its
flannel lease written, and cluster DNS answering a query from every node. Memory, after `--idle`
seconds without workload, is what the processes in the cluster's cgroup hold resident, each page
counted once however many of them map it (see clusters.memory_mib), and the sum of their RSS.
Targets: up < 5 s, memory < 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from clusters import bench_spec, isolated_home, memory_mib

from kinn.cluster import cgroups
from kinn.cluster.down import down
from kinn.cluster.up import up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds to wait before measuring memory")
    args = parser.parse_args()
    with isolated_home():
        ups, downs = [], []
        for run in range(args.runs):
            spec = bench_spec("benchup")
            start = time.monotonic()
            cluster = asyncio.run(up(spec, echo=lambda line: None))
            ups.append(time.monotonic() - start)
            if run == 0:
                time.sleep(args.idle)
                rss, footprint = memory_mib(cluster)
                processes = len(cgroups.members(cluster.paths.cgroup))
            start = time.monotonic()
            down(cluster.name)
            downs.append(time.monotonic() - start)
            print(f"run {run + 1}: up {ups[-1]:.2f}s, down {downs[-1]:.2f}s")
    print(f"kinn up (3 nodes Ready, DNS answering): median {statistics.median(ups):.2f}s, min {min(ups):.2f}s, "
          f"max {max(ups):.2f}s (target < 5 s)")
    print(f"kinn down: median {statistics.median(downs):.2f}s")
    print(f"idle 3-node cluster after {args.idle:.0f}s: {processes} processes hold {footprint:.0f} MiB "
          f"({footprint * 1.048576:.0f} MB; each resident page once), {rss:.0f} MiB summing their RSS "
          "(target < 250 MB)")


if __name__ == "__main__":
    main()
