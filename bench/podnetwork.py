#!/usr/bin/env python3
"""Benchmark pod→pod TCP throughput across the VXLAN overlay against two bare namespaces on a bridge.

    .venv/bin/python bench/podnetwork.py [--seconds 5]

Both are measured in one invocation, one after the other, on the same machine (median of 3 runs):
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

from clusters import bench_cluster

from kinn import netlink

BASELINE_SUBNET = "10.255.77"
RUNS = 3


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


def overlay(seconds: int) -> float:
    with bench_cluster(workers=2, prefix="benchnet"):
        server_ip = run_pod("iperf-server", "worker-2")
        run_pod("iperf-client", "worker-1")
        server = kubectl("exec", "iperf-server", "--", "iperf3", "-s", background=True)
        try:
            return median_run(["kubectl", "exec", "iperf-client", "--"], server_ip, seconds)
        finally:
            server.kill()  # type: ignore[union-attr]
            server.wait()  # type: ignore[union-attr]


def median_run(prefix: list[str], server_ip: str, seconds: int, runs: int = RUNS) -> float:
    """The median of `runs` client runs: one busy moment of a 2-core machine must not decide."""
    return statistics.median(until_connected(prefix, server_ip, seconds) for _ in range(runs))


def until_connected(prefix: list[str], server_ip: str, seconds: int) -> float:
    """Run the iperf3 client (through `prefix`) once the server listens; its throughput in Gbit/s.
    The first second (TCP slow start) is left out, as `iperf3 -O 1` does."""
    for _ in range(100):
        result = subprocess.run([*prefix, "iperf3", "-c", server_ip, "-t", str(seconds), "-O", "1", "-J"],
                                capture_output=True,
                                text=True, timeout=seconds + 60)
        gbps = iperf3_gbps(result.stdout) if result.returncode == 0 else None
        if gbps is not None:
            return gbps
        time.sleep(0.1)
    raise RuntimeError(f"iperf3 to {server_ip} failed: {result.stdout[-300:]}{result.stderr[-300:]}")


def baseline(seconds: int) -> float:
    """Two namespaces on one bridge inside a third (the bridge's), all created and removed here."""
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
        server = subprocess.Popen(["ip", "netns", "exec", b, "iperf3", "-s"], stdout=subprocess.DEVNULL)
        try:
            return median_run(["ip", "netns", "exec", a], f"{BASELINE_SUBNET}.2", seconds)
        finally:
            server.kill()
            server.wait()
    finally:
        for ns in (a, b, bridge_ns):
            netlink.delete(ns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    base = baseline(args.seconds)
    over = overlay(args.seconds)
    print(f"bare namespaces on one bridge: {base:.2f} Gbit/s")
    print(f"pod → pod across nodes (VXLAN): {over:.2f} Gbit/s = {100 * over / base:.0f}% of the baseline (target ≥ 80%)")


if __name__ == "__main__":
    os.environ.setdefault("KUBECACHEDIR", "/tmp/kinn-bench-kubecache")
    main()
