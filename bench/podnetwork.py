#!/usr/bin/env python3
"""Benchmark pod→pod TCP throughput across the VXLAN overlay against two bare namespaces on a bridge.

    .venv/bin/python bench/podnetwork.py [--seconds 5] [--runs 5]

Both are measured in one invocation on the same machine, in alternating pairs (baseline, then
overlay, --runs times), and the ratio reported is the median of the pairs' ratios: on a shared VM
the machine's speed drifts by a factor of two within minutes, so two medians taken minutes apart
compare two different machines.
- overlay: a client pod on worker-1 to a server pod on worker-2 of a fresh `kinn up` cluster —
  pod eth0 → veth → cni0 → flannel.1 (VXLAN, UDP 8472) → the underlay bridge → the other node's
  flannel.1 → cni0 → veth → pod, with the nodes' netfilter on the way;
- baseline: two network namespaces joined by veths to one Linux bridge (the best case: one hop,
  no encapsulation, no netfilter rules), created here and removed afterwards.
Target: overlay ≥ 80% of the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

from clusters import bench_cluster

from kinn import netlink

BASELINE_SUBNET = "10.255.77"


def iperf3_gbps(report: str) -> float | None:
    """Gbit/s received, or None if the run failed (Debian 12's iperf3 -J exits 0 even then)."""
    result = json.loads(report) if report.strip() else {"error": "no output"}
    return None if "error" in result else result["end"]["sum_received"]["bits_per_second"] / 1e9


def kubectl(*args: str, background: bool = False) -> subprocess.Popen[str] | str:
    argv = ["kubectl", *args]
    if background:
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout


def run_pod(name: str, node: str) -> str:
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "main", "image": "python", "command": ["sleep", "3600"]}]}}
    subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True,
                   capture_output=True)
    kubectl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s")
    return str(kubectl("get", "pod", name, "-o", "jsonpath={.status.podIP}"))


@contextmanager
def serving(argv: list[str]) -> Iterator[None]:
    """An iperf3 server (started with `argv`) for the duration of the block."""
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        server.kill()
        server.wait()


@contextmanager
def overlay() -> Iterator[list[str]]:
    """A fresh 2-worker cluster with an iperf3 server pod on worker-2 and a client pod on worker-1:
    yields the command prefix that runs the client against the server."""
    with bench_cluster(workers=2, prefix="benchnet"):
        server_ip = run_pod("iperf-server", "worker-2")
        run_pod("iperf-client", "worker-1")
        with serving(["kubectl", "exec", "iperf-server", "--", "iperf3", "-s"]):
            yield ["kubectl", "exec", "iperf-client", "--", *client(server_ip)]


@contextmanager
def baseline() -> Iterator[list[str]]:
    """Two namespaces on one bridge inside a third (the bridge's), created here and removed
    afterwards: yields the command prefix that runs the client in one against the server in the other."""
    tag = uuid.uuid4().hex[:6]
    bridge_ns, a, b = (f"kinn-bench-{tag}-{part}" for part in ("br", "a", "b"))
    for ns in (bridge_ns, a, b):
        netlink.create(ns)
    try:
        with netlink.iproute(bridge_ns) as ipr:
            netlink.add_bridge(ipr, "br0")
            netlink.set_up(ipr, "br0")
            for index, ns in enumerate((a, b), start=1):
                netlink.add_veth(ipr, f"veth{index}", "eth0", peer_netns=ns)
                netlink.set_master(ipr, f"veth{index}", "br0")
                netlink.set_up(ipr, f"veth{index}")
                with netlink.iproute(ns) as inner:
                    netlink.add_address(inner, "eth0", f"{BASELINE_SUBNET}.{index}/24")
                    netlink.set_up(inner, "eth0")
                    netlink.set_up(inner, "lo")
        with serving(["ip", "netns", "exec", b, "iperf3", "-s"]):
            yield ["ip", "netns", "exec", a, *client(f"{BASELINE_SUBNET}.2")]
    finally:
        for ns in (a, b, bridge_ns):
            netlink.delete(ns)


def client(server_ip: str) -> list[str]:
    """The iperf3 client; the first second (TCP slow start) is left out, as `-O 1` does."""
    return ["iperf3", "-c", server_ip, "-O", "1", "-J"]


def until_connected(argv: list[str], seconds: int) -> float:
    """Run the iperf3 client once its server listens; its throughput in Gbit/s."""
    for _ in range(100):
        result = subprocess.run([*argv, "-t", str(seconds)], capture_output=True, text=True, timeout=seconds + 60)
        gbps = iperf3_gbps(result.stdout) if result.returncode == 0 else None
        if gbps is not None:
            return gbps
        time.sleep(0.1)
    raise RuntimeError(f"iperf3 ({' '.join(argv)}) failed: {result.stdout[-300:]}{result.stderr[-300:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ratios = []
    with baseline() as bare, overlay() as pods:
        for run in range(1, args.runs + 1):
            base, over = until_connected(bare, args.seconds), until_connected(pods, args.seconds)
            ratios.append(over / base)
            print(f"  pair {run}: bare namespaces on one bridge {base:5.2f} Gbit/s, "
                  f"pod → pod across nodes (VXLAN) {over:5.2f} Gbit/s = {over / base:4.0%}", flush=True)
    print(f"overlay / baseline: median {statistics.median(ratios):.0%} of {len(ratios)} pairs "
          f"(min {min(ratios):.0%}, max {max(ratios):.0%}; target ≥ 80%)")


if __name__ == "__main__":
    os.environ.setdefault("KUBECACHEDIR", "/tmp/kinn-bench-kubecache")
    main()
