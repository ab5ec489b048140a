"""What the kube-proxy sync benchmarks share: synthetic Services and EndpointSlices, and a scratch
network namespace per size to apply them in (created here, always removed)."""

from __future__ import annotations

import argparse
import uuid
from typing import Callable

from kinn import netlink
from kinn.proxy.changes import ProxyState
from kinn.proxy.node import NodeContext

CTX = NodeContext(node_ip="10.240.0.21", cluster_cidr="10.244.0.0/16")
PORTS = [{"name": "http", "port": 80, "protocol": "TCP"}]


def service(i: int) -> dict:
    return {"metadata": {"namespace": "bench", "name": f"svc-{i}"},
            "spec": {"clusterIP": f"10.96.{i // 250}.{i % 250 + 1}", "ports": PORTS}}


def endpoint_slice(i: int, endpoints: int, generation: int = 0) -> dict:
    """Service i's endpoints; `generation` replaces the first one (a pod replaced by a new one)."""
    ips = [f"10.{100 + generation % 100}.{i // 250}.{i % 250}" if j == 0 else f"10.{200 + j}.{i // 250}.{i % 250}"
           for j in range(endpoints)]
    return {"metadata": {"namespace": "bench", "name": f"svc-{i}-abcde",
                         "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
            "addressType": "IPv4", "ports": PORTS,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips]}


def loaded_state(services: int, endpoints: int) -> ProxyState:
    state = ProxyState("bench-node")
    for i in range(services):
        state.service_updated(service(i))
        state.slice_updated(endpoint_slice(i, endpoints))
    return state


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--services", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--changes", type=int, default=10)
    return parser.parse_args()


def for_each_size(args: argparse.Namespace, measure: Callable[[int, int, int], str]) -> None:
    """Print `measure(services, endpoints, changes)` for each size, each in a fresh scratch netns."""
    for services in args.services:
        netns = f"kinn-bench-{uuid.uuid4().hex[:8]}"
        netlink.netns.create(netns)
        try:
            print(netlink.netns.run_in(netns, measure, services, args.endpoints, args.changes), flush=True)
        finally:
            netlink.netns.delete(netns)
