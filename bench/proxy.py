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

import statistics
import subprocess
import time

from proxyload import CTX, arguments, endpoint_slice, for_each_size, loaded_state

from kinn.proxy.iptables.proxier import IptablesProxier


def measure(services: int, endpoints: int, changes: int) -> str:
    state = loaded_state(services, endpoints)
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
    args = arguments(__doc__.splitlines()[0])
    version = subprocess.run(["iptables", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; partial sync = one endpoint of one Service replaced (median / max)")
    print("services    lines   first sync   full resync   partial sync")
    for_each_size(args, measure)


if __name__ == "__main__":
    main()
