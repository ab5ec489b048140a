"""kube-proxy's health checks: which Services get a health check node port, what it answers from the
local endpoint counts, and /healthz's timestamps (pure parts; one real listener on loopback)."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from kinn.cli.proxy import proxy
from kinn.proxy.changes import ProxyState
from kinn.proxy.healthcheck.proxier_health import (ProxierHealth, Stamp, go_time, parse_bind_address,
                                                   serve_healthz)
from kinn.proxy.healthcheck.service_health import (health_check_node_ports, local_ready_endpoints,
                                                   service_health_reply)

S = 10**9  # nanoseconds


def service(name: str, **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.20", "externalTrafficPolicy": "Local",
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080},
                               {"name": "https", "port": 443, "nodePort": 30443}], **spec}}


def endpoint(ip: str, node: str, ready: bool = True, terminating: bool = False) -> dict:
    return {"addresses": [ip], "nodeName": node,
            "conditions": {"ready": ready, "serving": True, "terminating": terminating}}


def endpoint_slice(name: str, service_name: str, *endpoints: dict) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service_name}},
            "endpoints": list(endpoints),
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                      {"name": "https", "port": 8443, "protocol": "TCP"}]}


def test_only_services_with_a_health_check_node_port_get_a_listener() -> None:
    state = ProxyState("worker-2")
    state.service_updated(service("local-lb", healthCheckNodePort=32000))
    state.service_updated(service("cluster-lb", externalTrafficPolicy="Cluster"))
    state.service_updated(service("headless", clusterIP="None", healthCheckNodePort=32001))
    assert health_check_node_ports(state.snapshot()) == {("default", "local-lb"): 32000}
    state.service_deleted(service("local-lb"))
    assert health_check_node_ports(state.snapshot()) == {}


def test_local_ready_endpoints_count_pods_on_this_node_once_across_ports() -> None:
    state = ProxyState("worker-2")
    state.service_updated(service("local-lb", healthCheckNodePort=32000))
    state.slice_updated(endpoint_slice("local-lb-a", "local-lb",
                                       endpoint("10.244.2.5", "worker-2"),  # two ports, one endpoint
                                       endpoint("10.244.2.6", "worker-2", ready=False, terminating=True),
                                       endpoint("10.244.1.7", "worker-1")))
    state.slice_updated(endpoint_slice("other-a", "other", endpoint("10.244.1.8", "worker-1")))
    assert local_ready_endpoints(state.snapshot()) == {("default", "local-lb"): 1}
    # Only a terminating pod left here: the rules still use it, the health check must fail.
    state.slice_updated(endpoint_slice("local-lb-a", "local-lb",
                                       endpoint("10.244.2.6", "worker-2", ready=False, terminating=True)))
    assert local_ready_endpoints(state.snapshot()) == {}


def test_service_health_answers_200_with_a_local_endpoint_and_a_healthy_proxy() -> None:
    assert service_health_reply(("default", "web"), 2, True) == (200, (
        '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n'
        '\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}'))
    status, body = service_health_reply(("default", "web"), 0, True)
    assert status == 503 and json.loads(body)["localEndpoints"] == 0
    status, body = service_health_reply(("default", "web"), 1, False)
    assert status == 503 and json.loads(body)["serviceProxyHealthy"] is False


def test_go_time_prints_as_kube_proxy_does() -> None:
    assert go_time(Stamp(1_700_000_000 * S + 520_197_000, 1183 * S + 167_578_924)) == \
        "2023-11-14 22:13:20.520197 +0000 UTC m=+1183.167578924"
    assert go_time(Stamp(1_700_000_000 * S, 5 * S)) == "2023-11-14 22:13:20 +0000 UTC m=+5.000000000"
    assert go_time(None) == "0001-01-01 00:00:00 +0000 UTC"


class Clock:
    def __init__(self) -> None:
        self.ns = 1_700_000_000 * S

    def __call__(self) -> Stamp:
        return Stamp(self.ns, self.ns - 1_700_000_000 * S)


def test_healthz_fails_when_a_queued_change_waits_longer_than_the_timeout() -> None:
    clock = Clock()
    health = ProxierHealth(health_timeout=60, clock=clock)
    assert health.healthz() == (200, '{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000",'
                                     '"currentTime": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000", '
                                     '"nodeEligible": true}')
    health.updated()
    clock.ns += 10 * S
    health.queued_update()
    clock.ns += 30 * S
    health.queued_update()  # only the oldest pending change counts
    assert health.is_healthy()
    clock.ns += 31 * S  # 61 s after the first queued change, no sync since
    assert not health.is_healthy()
    assert health.healthz() == (503, '{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000",'
                                     '"currentTime": "2023-11-14 22:14:31 +0000 UTC m=+71.000000000", '
                                     '"nodeEligible": true}')
    assert health.livez()[0] == 503
    health.updated()
    assert health.healthz()[0] == 200 and health.livez()[0] == 200


def test_a_node_being_deleted_fails_healthz_but_not_livez() -> None:
    health = ProxierHealth(health_timeout=60, clock=Clock())
    node = {"metadata": {"name": "worker-1"}, "spec": {"taints": [{"key": "ToBeDeletedByClusterAutoscaler"}]}}
    health.sync_node(node)
    status, body = health.healthz()
    assert status == 503 and body.endswith('"nodeEligible": false}')
    assert health.livez() == (200, '{"lastUpdated": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000",'
                                    '"currentTime": "2023-11-14 22:13:20 +0000 UTC m=+0.000000000"}')
    health.sync_node({"metadata": {"name": "worker-1"}, "spec": {}})
    assert health.healthz()[0] == 200
    health.sync_node({"metadata": {"name": "worker-1", "deletionTimestamp": "2024-01-01T00:00:00Z"}})
    assert health.healthz()[0] == 503


def test_the_bind_address_flag() -> None:
    assert parse_bind_address("0.0.0.0:10256") == ("0.0.0.0", 10256)
    assert parse_bind_address("[::1]:10256") == ("::1", 10256)
    assert parse_bind_address("") is None and parse_bind_address("0") is None
    for bad in ("10256", "localhost:10256", "1.2.3.4:http", "1.2.3.4:70000"):
        with pytest.raises(ValueError):
            parse_bind_address(bad)


def test_healthz_is_served_over_http_with_upstream_headers() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> list[tuple[int, dict, str]]:
        health = ProxierHealth(health_timeout=60)
        server = asyncio.create_task(serve_healthz(health, "127.0.0.1", port))
        answers = []
        try:
            async with aiohttp.ClientSession() as session:
                for _ in range(100):
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/healthz"):
                            break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.02)
                for path in ("/healthz", "/livez", "/metrics"):
                    async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                        answers.append((response.status, dict(response.headers), await response.text()))
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
        return answers

    (healthz, hz_headers, hz_body), (livez, _, lz_body), (missing, _, missing_body) = asyncio.run(scenario())
    assert healthz == 200 and json.loads(hz_body)["nodeEligible"] is True
    assert hz_headers["Content-Type"] == "application/json" and hz_headers["X-Content-Type-Options"] == "nosniff"
    assert livez == 200 and set(json.loads(lz_body)) == {"lastUpdated", "currentTime"}
    assert (missing, missing_body) == (404, "404 page not found\n")


def test_kinn_proxy_rejects_a_bind_address_that_is_not_ip_port(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    result = CliRunner().invoke(proxy, ["--kubeconfig", str(kubeconfig), "--bind-address", "10.240.0.21",
                                        "--healthz-bind-address", "localhost:10256"])
    assert result.exit_code == 2 and "is not IP:port" in result.output
