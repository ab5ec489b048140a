#!/usr/bin/env python3
"""Benchmark pod→pod TCP throughput across the VXLAN overlay against two bare namespaces on a bridge.

    .venv/bin/python bench/podnetwork.py [--seconds 5] [--runs 5]

All are measured in one invocation on the same machine, in turn (baseline, bare VXLAN path, overlay,
--runs times), and each ratio reported is the median of the runs' ratios: on a shared VM the
machine's speed drifts by a factor of two within minutes, so two medians taken minutes apart
compare two different machines.
- overlay: a client pod on worker-1 to a server pod on worker-2 of a fresh `kinn up` cluster —
  pod eth0 → veth → cni0 → flannel.1 (VXLAN, UDP 8472) → the underlay bridge → the other node's
  flannel.1 → cni0 → veth → pod, with the nodes' netfilter on the way;
- baseline: two network namespaces joined by veths to one Linux bridge (the best case: one hop,
  no encapsulation, no netfilter rules), created here and removed afterwards;
- bare VXLAN path: the overlay's links and addressing rebuilt in scratch namespaces without kinn —
  no netfilter rule, no conntrack — to tell what the path itself costs from what kinn's nodes add.
Target: overlay ≥ 80% of the baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

from clusters import bench_cluster
from pyroute2 import IPRoute

from kinn import netlink

BASELINE_SUBNET = "10.255.77"
VXLAN_UNDERLAY, VXLAN_PODS = "10.255.78", "10.254"  # bare_vxlan's node and pod addresses


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
def scratch_namespaces(*parts: str) -> Iterator[list[str]]:
    """Network namespaces created here, one per part, and always removed afterwards."""
    tag = uuid.uuid4().hex[:6]
    created: list[str] = []
    try:
        for part in parts:
            created.append(f"kinn-bench-{tag}-{part}")
            netlink.create(created[-1])
        yield created
    finally:
        for ns in reversed(created):
            netlink.delete(ns)


def plug(ipr: IPRoute, bridge: str, port: str, ns: str, address: str, mtu: int | None = None) -> None:
    """A veth from `bridge` (its end named `port`) into `ns` (its end `eth0`, holding `address`)."""
    netlink.add_veth(ipr, port, "eth0", peer_netns=ns)
    netlink.set_master(ipr, port, bridge)
    with netlink.iproute(ns) as inner:
        for link, end in ((port, ipr), ("eth0", inner)):
            if mtu:
                netlink.set_mtu(end, link, mtu)
            netlink.set_up(end, link)
        netlink.add_address(inner, "eth0", address)
        netlink.set_up(inner, "lo")


@contextmanager
def serving_in(ns: str) -> Iterator[None]:
    with serving(["ip", "netns", "exec", ns, "iperf3", "-s"]):
        yield


@contextmanager
def baseline() -> Iterator[list[str]]:
    """Two namespaces on one bridge inside a third (the bridge's): yields the command prefix that
    runs the client in one against the server in the other."""
    with scratch_namespaces("br", "a", "b") as (bridge_ns, a, b):
        with netlink.iproute(bridge_ns) as ipr:
            netlink.add_bridge(ipr, "br0")
            netlink.set_up(ipr, "br0")
            for index, ns in enumerate((a, b), start=1):
                plug(ipr, "br0", f"veth{index}", ns, f"{BASELINE_SUBNET}.{index}/24")
        with serving_in(b):
            yield ["ip", "netns", "exec", a, *client(f"{BASELINE_SUBNET}.2")]


@contextmanager
def bare_vxlan() -> Iterator[list[str]]:
    """The overlay's path without kinn: two "nodes" on an underlay bridge, each with a flannel-style
    VXLAN device (VNI 1, port 8472, static neighbour and FDB entries, an onlink route to the other
    node's pod subnet) and a cni0 bridge with one "pod" (MTU 1450) — but no netfilter rule, no
    conntrack, no process. What this path costs by itself, apart from what kinn's nodes add."""
    with scratch_namespaces("underlay", "node1", "node2", "pod1", "pod2") as (underlay, *rest):
        nodes, pods = rest[:2], rest[2:]
        with netlink.iproute(underlay) as ipr:
            netlink.add_bridge(ipr, "br0")
            netlink.set_up(ipr, "br0")
            for index, node in enumerate(nodes, start=1):
                plug(ipr, "br0", f"node{index}", node, f"{VXLAN_UNDERLAY}.{index}/24")
        macs = {}
        for index, (node, pod) in enumerate(zip(nodes, pods), start=1):
            netlink.enable_ip_forward(node)
            with netlink.iproute(node) as ipr:
                macs[index] = netlink.add_vxlan(ipr, "flannel.1", 1, local=f"{VXLAN_UNDERLAY}.{index}", dev="eth0",
                                                mtu=1450).mac
                netlink.add_address(ipr, "flannel.1", f"{VXLAN_PODS}.{index}.0/32")
                netlink.set_up(ipr, "flannel.1")
                netlink.add_bridge(ipr, "cni0", mtu=1450)
                netlink.add_address(ipr, "cni0", f"{VXLAN_PODS}.{index}.1/24")
                netlink.set_up(ipr, "cni0")
                plug(ipr, "cni0", "veth0", pod, f"{VXLAN_PODS}.{index}.2/24", mtu=1450)
            with netlink.iproute(pod) as inner:
                netlink.add_route(inner, "default", via=f"{VXLAN_PODS}.{index}.1")
        for index, node in enumerate(nodes, start=1):
            other = 3 - index
            with netlink.iproute(node) as ipr:
                netlink.add_neighbour(ipr, "flannel.1", f"{VXLAN_PODS}.{other}.0", macs[other])
                netlink.add_fdb(ipr, "flannel.1", macs[other], f"{VXLAN_UNDERLAY}.{other}")
                netlink.add_route(ipr, f"{VXLAN_PODS}.{other}.0/24", via=f"{VXLAN_PODS}.{other}.0", dev="flannel.1",
                                  onlink=True)
        with serving_in(pods[1]):
            yield ["ip", "netns", "exec", pods[0], *client(f"{VXLAN_PODS}.2.2")]


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
    ratios: dict[str, list[float]] = {"kinn": [], "bare": []}
    with baseline() as bridge, bare_vxlan() as vxlan, overlay() as pods:
        for run in range(1, args.runs + 1):
            base, bare, over = (until_connected(argv, args.seconds) for argv in (bridge, vxlan, pods))
            ratios["kinn"].append(over / base)
            ratios["bare"].append(bare / base)
            print(f"  run {run}: bare namespaces on one bridge {base:5.2f} Gbit/s; pod → pod across kinn's nodes "
                  f"(VXLAN) {over:5.2f} Gbit/s = {over / base:4.0%}; the same path without kinn {bare:5.2f} Gbit/s "
                  f"= {bare / base:4.0%}", flush=True)
    for name, label in (("kinn", "overlay / baseline"), ("bare", "bare VXLAN path / baseline")):
        print(f"{label}: median {statistics.median(ratios[name]):.0%} of {args.runs} runs "
              f"(min {min(ratios[name]):.0%}, max {max(ratios[name]):.0%})"
              + ("; target ≥ 80%" if name == "kinn" else ": what the topology allows without kinn"))


if __name__ == "__main__":
    main()
