#!/usr/bin/env python3
"""Benchmark kube-proxy's nftables mode: the sync of one changed endpoint as the table grows.

    .venv/bin/python bench/proxy_nftables.py [--services 100 1000 5000] [--endpoints 10] [--changes 10]

For each size, in a scratch network namespace created here and removed afterwards: the nftables
proxier makes its full sync of N Services × M endpoints (timed), then one endpoint of one Service
is replaced, `--changes` times, each a partial sync: its transaction rendered (`render`) and applied
through libnftables as the proxier applies it (`nft`), median and max; `nft -f` is the same
transaction through the nft command, for comparison (the proxier no longer starts nft). `nft cache`
is what nft spends before it writes anything: a one-element transaction in check mode, which
fetches the table's chains as every `add rule`/`add element` does in nft < 1.1 — the one part of
a sync that grows with the table. `canary` is the periodic check that the table is still there.
Target: one changed endpoint < 50 ms independent of the service count.
"""

from __future__ import annotations

import statistics
import subprocess
import time

from proxyload import CTX, arguments, endpoint_slice, for_each_size, loaded_state, service

from kinn.proxy.nftables import rules
from kinn.proxy.nftables import libnft
from kinn.proxy.nftables.proxier import NftablesProxier


def nft_command(script: str) -> float:
    start = time.perf_counter()
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True, capture_output=True)
    return time.perf_counter() - start


def nft_library(script: str, check: bool = False) -> float:
    start = time.perf_counter()
    libnft.run(script, check=check)
    return time.perf_counter() - start


def measure(services: int, endpoints: int, changes: int) -> str:
    state = loaded_state(services, endpoints)
    proxier = NftablesProxier(CTX)
    proxier.setup()
    start = time.perf_counter()
    proxier.sync(state.snapshot(), state.take_changes())
    full = time.perf_counter() - start
    render, apply, command = [], [], []
    for change in range(1, changes + 1):
        state.slice_updated(endpoint_slice(change * 7 % services, endpoints, generation=change))
        start = time.perf_counter()
        text = rules.partial_sync(proxier.state, state.snapshot(), state.take_changes(), CTX, time.monotonic())
        rendered = time.perf_counter() - start
        # Alternately through the library and the command, so both see the same table sizes.
        if change % 2:
            render.append(rendered)
            apply.append(nft_library(text))
        else:
            command.append(nft_command(text))
    element = f"add element ip kube-proxy cluster-ips {{ {service(0)['spec']['clusterIP']} }}\n"
    cache = nft_library(element, check=True)
    start = time.perf_counter()
    assert proxier.canaries_present()
    canary = time.perf_counter() - start
    chains = sum(len(o.chains) for objects in proxier.state.objects.values() for o in objects)
    return (f"{services:>6} × {endpoints}  {chains:>7}  {full:8.2f} s  {_ms(render)}  {_ms(apply)}  "
            f"{_ms([r + a for r, a in zip(render, apply)])}  {_ms(command)}  {cache * 1000:7.1f}  {canary * 1000:7.1f}")


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:6.1f} / {max(seconds) * 1000:6.1f}"


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    print(f"nft {subprocess.run(['nft', '--version'], capture_output=True, text=True).stdout.split()[1]}; "
          "times in ms as median / max of the partial syncs")
    print("services       chains  full sync   render (ms)     nft (ms)        sync (ms)       nft -f (ms)     nft cache  "
          "canary (ms)")
    for_each_size(args, measure)


if __name__ == "__main__":
    main()
