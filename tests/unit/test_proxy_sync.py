"""The proxy's pacing and its UDP conntrack clean-up decisions (pure parts, no kernel)."""

from __future__ import annotations

import asyncio
import time

from kinn.proxy import conntrack
from kinn.proxy.changes import ProxyState
from kinn.proxy.runner import BoundedFrequencyRunner

DNS = {"metadata": {"name": "kube-dns", "namespace": "kube-system"},
       "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}]}}


def dns_slice(*ips: str) -> dict:
    return {"metadata": {"name": "kube-dns-x", "namespace": "kube-system",
                         "labels": {"kubernetes.io/service-name": "kube-dns"}},
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]}


def test_a_removed_udp_endpoint_loses_its_conntrack_entries() -> None:
    state = ProxyState("worker-1")
    state.service_updated(DNS)
    state.slice_updated(dns_slice("10.244.1.5", "10.244.2.6"))
    first = conntrack.stale_entries(state.snapshot(), state.take_changes())
    # From no endpoints to some: entries made while the service REJECTed go.
    assert [d.argv() for d in first] == [["conntrack", "-D", "-p", "udp", "--orig-dst", "10.96.0.10"],
                                         ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "30053"]]
    state.slice_updated(dns_slice("10.244.2.6"))
    assert [d.argv() for d in conntrack.stale_entries(state.snapshot(), state.take_changes())] == [
        ["conntrack", "-D", "-p", "udp", "--orig-dst", "10.96.0.10", "--dst-nat", "10.244.1.5"],
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.244.1.5"]]


def test_tcp_services_need_no_conntrack_clean_up() -> None:
    state = ProxyState("worker-1")
    tcp = {**DNS, "spec": {**DNS["spec"], "ports": [{"name": "dns", "port": 53, "protocol": "TCP"}]}}
    state.service_updated(tcp)
    state.slice_updated({**dns_slice("10.244.1.5"), "ports": [{"name": "dns", "port": 53, "protocol": "TCP"}]})
    state.take_changes()
    state.slice_deleted(dns_slice())
    assert conntrack.stale_entries(state.snapshot(), state.take_changes()) == []


def test_runner_coalesces_a_burst_and_keeps_the_minimum_interval() -> None:
    async def scenario() -> list[float]:
        runs: list[float] = []

        async def sync() -> bool:
            runs.append(time.monotonic())
            return True

        runner = BoundedFrequencyRunner("test", sync, min_interval=0.2, max_interval=60)
        task = asyncio.create_task(runner.loop())
        runner.run()
        await asyncio.sleep(0.05)
        for _ in range(10):  # a burst right after a sync: one more sync, 0.2 s after the first
            runner.run()
        await asyncio.sleep(0.4)
        task.cancel()
        return runs

    runs = asyncio.run(scenario())
    assert len(runs) == 2
    assert 0.18 < runs[1] - runs[0] < 0.35


def test_runner_retries_a_failed_sync() -> None:
    async def scenario() -> int:
        calls = 0

        async def sync() -> bool:
            nonlocal calls
            calls += 1
            return calls > 1  # the first one fails

        runner = BoundedFrequencyRunner("test", sync, min_interval=0, max_interval=60, retry_interval=0.05)
        task = asyncio.create_task(runner.loop())
        runner.run()
        await asyncio.sleep(0.3)
        task.cancel()
        return calls

    assert asyncio.run(scenario()) == 2
