#!/usr/bin/env python3
"""Benchmark the Service data plane: HTTP requests/s through a ClusterIP against the pod IP, per proxy mode.

    .venv/bin/python bench/dataplane.py [--modes iptables nftables userspace] [--seconds 5] [--connections 16]

For each mode a fresh `kinn up --proxy-mode <mode>` cluster: one nginx pod on worker-2, `wrk` in a
pod on worker-1. To the pod IP a request goes straight; to the ClusterIP it is DNATed by the node's
rules (iptables, nftables) or REDIRECTed to worker-1's proxy, which copies it over its own
connection (userspace, seed 000's reason for abandoning that mode). Two loads, median of 3
interleaved runs: keep-alive, and `Connection: close` (a new connection, so a new conntrack entry
or a new proxied connection, per request; the nginx pod keeps no TIME_WAIT sockets, see below). Target (issue 5): ClusterIP ≥ 95% of the pod IP in the
iptables and nftables modes. All of it shares the machine's cores, wrk and nginx too.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import time

from clusters import bench_cluster
from podnetwork import kubectl, run_pod

RUNS = 3
NGINX = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: worker-2
  containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def requests_per_second(url: str, seconds: int, connections: int, close: bool) -> float:
    """One wrk run from the client pod; fails if any request failed (a proxy that drops is not fast)."""
    header = ["-H", "Connection: close"] if close else []
    out = str(kubectl("exec", "wrk", "--", "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
                      *header, url))
    errors = re.search(r"Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk {url}: {errors.group(0)}\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def until_served(url: str) -> None:
    """Wait until a short wrk run gets answers without socket errors (endpoints and rules synced)."""
    for _ in range(300):
        result = subprocess.run(["kubectl", "exec", "wrk", "--", "wrk", "-t", "1", "-c", "1", "-d", "1s", url],
                                capture_output=True, text=True)
        if result.returncode == 0 and "Requests/sec" in result.stdout and "Socket errors" not in result.stdout:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


def compare(pod_url: str, service_url: str, seconds: int, connections: int, close: bool) -> tuple[float, float]:
    """Median req/s to the pod and through the proxy, runs interleaved so that another load on the
    machine weighs on both alike."""
    runs = [(requests_per_second(pod_url, seconds, connections, close),
             requests_per_second(service_url, seconds, connections, close)) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["iptables", "nftables", "userspace"])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    for mode in args.modes:
        with bench_cluster(workers=2, prefix=f"bdp{mode[:3]}", proxy_mode=mode):
            subprocess.run(["kubectl", "apply", "-f", "-"], input=NGINX, text=True, check=True, capture_output=True)
            run_pod("wrk", "worker-1")
            kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=120s")
            # With `Connection: close` nginx closes first and keeps TIME_WAIT; the client soon reuses its
            # ports, and SYNs meeting those TIME_WAITs stall for a retransmit on both paths alike,
            # more with every run. Without TIME_WAIT in the pod's netns, runs measure forwarding.
            kubectl("exec", "web", "--", "sysctl", "-w", "net.ipv4.tcp_max_tw_buckets=0")
            pod_ip = str(kubectl("get", "pod", "web", "-o", "jsonpath={.status.podIP}"))
            cluster_ip = str(kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"))
            for ip in (pod_ip, cluster_ip):
                until_served(f"http://{ip}/")
            for close, load in ((False, "keep-alive"), (True, "Connection: close")):
                direct, proxied = compare(f"http://{pod_ip}/", f"http://{cluster_ip}/", args.seconds,
                                          args.connections, close)
                print(f"{mode:>9} {load:>17}: pod IP {direct:8.0f} req/s, ClusterIP {proxied:8.0f} req/s "
                      f"= {100 * proxied / direct:.0f}%", flush=True)


if __name__ == "__main__":
    main()
