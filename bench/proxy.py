#!/usr/bin/env python3
"""Benchmark kube-proxy's iptables mode: full and partial syncs as the rule set grows.

    .venv/bin/python bench/proxy.py [--services 100 1000 5000] [--endpoints 10] [--changes 10]

For each size, in a scratch network namespace created here and removed afterwards: the iptables
proxier's first (full) sync of N Services × M endpoints — rules rendered and applied with one
`iptables-restore --noflush` — then `--changes` partial syncs, each after one endpoint of one
Service was replaced (median / max). Targets (issue 5): 1,000 × 10 full sync < 1 s, partial < 100 ms.
The nftables mode's figures: bench/proxy_nftables.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
import uuid

from proxy_nftables import CTX, endpoint_slice, service

from kinn import netlink
from kinn.proxy.changes import ProxyState
from kinn.proxy.iptables.proxier import IptablesProxier


def measure(services: int, endpoints: int, changes: int) -> str:
    state = ProxyState("bench-node")
    for i in range(services):
        state.service_updated(service(i))
        state.slice_updated(endpoint_slice(i, endpoints))
    proxier = IptablesProxier(CTX)
    start = time.perf_counter()
    proxier.sync(state.snapshot(), state.take_changes())
    full = time.perf_counter() - start
    rules = len(proxier.last_restore.splitlines())
    partial = []
    for change in range(1, changes + 1):
        state.slice_updated(endpoint_slice(change * 7 % services, endpoints, generation=change))
        start = time.perf_counter()
        proxier.sync(state.snapshot(), state.take_changes())
        partial.append(time.perf_counter() - start)
    proxier.force_full_sync()
    start = time.perf_counter()
    proxier.sync(state.snapshot(), {})
    resync = time.perf_counter() - start
    return (f"{services:>6} × {endpoints}  {rules:>7}  {full:8.2f} s  {resync:8.2f} s  "
            f"{statistics.median(partial) * 1000:7.1f} / {max(partial) * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    version = subprocess.run(["iptables", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; partial sync = one endpoint of one Service replaced (median / max)")
    print("services    lines   first sync   full resync   partial sync")
    for services in args.services:
        netns = f"kinn-bench-ipt-{uuid.uuid4().hex[:6]}"
        netlink.netns.create(netns)
        try:
            print(netlink.netns.run_in(netns, measure, services, args.endpoints, args.changes), flush=True)
        finally:
            netlink.netns.delete(netns)


if __name__ == "__main__":
    main()
