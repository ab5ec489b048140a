#!/usr/bin/env python3
"""Benchmark kube-proxy's nftables mode: the sync of one changed endpoint as the table grows.

    .venv/bin/python bench/proxy_nftables.py [--services 100 1000 5000] [--endpoints 10] [--changes 10]

For each size, in a scratch network namespace created here and removed afterwards: the nftables
proxier makes its full sync of N Services × M endpoints (timed), then one endpoint of one Service
is replaced, 3 × `--changes` times, each a partial sync whose transaction is rendered (`render`)
and applied in turn in each of three ways (median / max of each): as the proxier applies it, one
netlink batch of kinn's own (`netlink`; `sync` is render + netlink, the whole partial sync), through
libnftables (`libnft`, as the proxier did before) and through the nft command (`nft -f`). `nft
cache` is what nft spends before it writes anything: a one-element transaction in check mode, which
fetches the table's chains as every `add rule`/`add element` does in nft < 1.1. `canary` is the
periodic check that the table is still there.
Target: one changed endpoint < 50 ms independent of the service count.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from typing import Callable

from proxyload import CTX, arguments, endpoint_slice, for_each_size, loaded_state, service

from kinn.proxy.nftables import libnft, rules
from kinn.proxy.nftables.commands import compile_transaction
from kinn.proxy.nftables.nfnetlink import Connection
from kinn.proxy.nftables.proxier import NftablesProxier
from kinn.proxy.nftables.transaction import Transaction


def nft_command(tx: Transaction) -> None:
    subprocess.run(["nft", "-f", "-"], input=tx.text(), text=True, check=True, capture_output=True)


def timed(apply: Callable[[Transaction], None], tx: Transaction) -> float:
    start = time.perf_counter()
    apply(tx)
    return time.perf_counter() - start


def measure(services: int, endpoints: int, changes: int) -> str:
    state = loaded_state(services, endpoints)
    proxier = NftablesProxier(CTX)
    proxier.setup()
    start = time.perf_counter()
    proxier.sync(state.snapshot(), state.take_changes())
    full = time.perf_counter() - start
    connection = Connection()  # in this size's namespace, as the proxier keeps one in its node's
    ways: dict[str, Callable[[Transaction], None]] = {
        "netlink": lambda tx: connection.commit(compile_transaction(tx)),
        "libnft": lambda tx: libnft.run(tx.text()), "nft -f": nft_command}
    render: list[float] = []
    applied: dict[str, list[float]] = {way: [] for way in ways}
    for change in range(changes * len(ways)):
        state.slice_updated(endpoint_slice(change * 7 % services, endpoints, generation=change + 1))
        start = time.perf_counter()
        tx = rules.partial_sync(proxier.state, state.snapshot(), state.take_changes(), CTX, time.monotonic())
        render.append(time.perf_counter() - start)
        # In turn each way, so that all see the same table sizes.
        way = list(ways)[change % len(ways)]
        applied[way].append(timed(ways[way], tx))
    element = f"add element ip kube-proxy cluster-ips {{ {service(0)['spec']['clusterIP']} }}\n"
    start = time.perf_counter()
    libnft.run(element, check=True)
    cache = time.perf_counter() - start
    start = time.perf_counter()
    assert proxier.canaries_present()
    canary = time.perf_counter() - start
    chains = sum(len(o.chains) for objects in proxier.state.objects.values() for o in objects)
    connection.close()
    sync = [r + a for r, a in zip(render[::len(ways)], applied["netlink"])]
    return (f"{services:>6} × {endpoints}  {chains:>7}  {full:8.2f} s  {_ms(render)}  {_ms(sync)}  "
            f"{_ms(applied['netlink'])}  {_ms(applied['libnft'])}  {_ms(applied['nft -f'])}  "
            f"{cache * 1000:7.1f}  {canary * 1000:7.1f}")


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:6.1f} / {max(seconds) * 1000:6.1f}"


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    print(f"nft {subprocess.run(['nft', '--version'], capture_output=True, text=True).stdout.split()[1]}; "
          "times in ms as median / max of the partial syncs")
    print("services       chains  full sync   render (ms)     sync (ms)       netlink (ms)    libnft (ms)     "
          "nft -f (ms)     nft cache  canary (ms)")
    for_each_size(args, measure)


if __name__ == "__main__":
    main()
