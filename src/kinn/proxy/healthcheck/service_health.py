"""The service health server (ServiceHealthServer): one listener per health check node port.

A LoadBalancer Service with `externalTrafficPolicy: Local` gets a `spec.healthCheckNodePort`; the
cloud's load balancer polls it on every node and sends traffic only to nodes answering 200, i.e.
nodes with a ready endpoint of the Service (Local policy drops traffic elsewhere). After every
successful sync the proxy opens listeners for new Services, closes those of Services gone (or whose
port changed) and updates the local endpoint counts the listeners answer from.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from aiohttp import web

from kinn.client.events import EventRecorder
from kinn.proxy.changes import ServiceKey, Snapshot
from kinn.proxy.healthcheck.http import Handler, Reply, json_response, listen
from kinn.proxy.healthcheck.proxier_health import ProxierHealth

log = logging.getLogger("kinn.proxy")

LISTEN_ADDRESS = "0.0.0.0"  # every address of the node (--nodeport-addresses unset)


def health_check_node_ports(snapshot: Snapshot) -> dict[ServiceKey, int]:
    """The Services that need a listener, and its port (ServicePortMap.HealthCheckNodePorts)."""
    return {key: port.health_check_node_port for key, ports in snapshot.services.items()
            for port in ports if port.health_check_node_port}


def local_ready_endpoints(snapshot: Snapshot) -> dict[ServiceKey, int]:
    """Ready endpoints on this node per Service, counted by IP across its ports (one pod serving 80
    and 443 is one endpoint), as EndpointsMap.LocalReadyEndpoints counts them. Terminating endpoints
    do not count even where the rules still use them: a node left with only those must fail its
    check so the load balancer drains it."""
    counts: dict[ServiceKey, int] = {}
    for key, by_port in snapshot.endpoints.items():
        ips = {ep.ip for endpoints in by_port.values() for ep in endpoints if ep.local and ep.ready}
        if ips:
            counts[key] = len(ips)
    return counts


def service_health_reply(key: ServiceKey, local_endpoints: int, proxy_healthy: bool) -> Reply:
    """hcHandler's answer: 200 while this node has a local endpoint and its proxy is healthy, else 503;
    the body is upstream's tab-indented JSON."""
    body = {"service": {"namespace": key[0], "name": key[1]}, "localEndpoints": local_endpoints,
            "serviceProxyHealthy": proxy_healthy}
    return 200 if local_endpoints and proxy_healthy else 503, json.dumps(body, indent="\t")


@dataclass
class _HealthCheck:
    port: int
    runner: web.ServerRunner
    endpoints: int = 0


class ServiceHealthServer:
    def __init__(self, node_name: str, proxier_health: ProxierHealth, recorder: EventRecorder | None = None) -> None:
        self.node_name = node_name
        self.proxier_health = proxier_health
        self.recorder = recorder
        self.services: dict[ServiceKey, _HealthCheck] = {}

    async def sync(self, snapshot: Snapshot) -> None:
        await self.sync_services(health_check_node_ports(snapshot))
        self.sync_endpoints(local_ready_endpoints(snapshot))

    async def sync_services(self, ports: dict[ServiceKey, int]) -> None:
        """Close the listeners no longer wanted, open the new ones. A port that cannot be bound is
        reported and retried at the next sync."""
        for key, check in list(self.services.items()):
            if ports.get(key) != check.port:
                log.info("Closing healthcheck service=%s/%s port=%d", *key, check.port)
                del self.services[key]
                await check.runner.cleanup()
        for key, port in ports.items():
            if key in self.services:
                continue
            log.info("Opening healthcheck service=%s/%s port=%d", *key, port)
            try:
                runner = await listen(self._handler(key), LISTEN_ADDRESS, port)
            except OSError as exc:
                await self._failed_to_start(key, port, exc)
                continue
            self.services[key] = _HealthCheck(port, runner)

    def sync_endpoints(self, counts: dict[ServiceKey, int]) -> None:
        for key, check in self.services.items():
            check.endpoints = counts.get(key, 0)

    async def close(self) -> None:
        await self.sync_services({})

    def _handler(self, key: ServiceKey) -> Handler:
        async def handle(request: web.BaseRequest) -> web.StreamResponse:
            check = self.services.get(key)
            count = check.endpoints if check else 0
            return json_response(service_health_reply(key, count, self.proxier_health.is_healthy()))
        return handle

    async def _failed_to_start(self, key: ServiceKey, port: int, exc: OSError) -> None:
        message = f'node {self.node_name} failed to start healthcheck "{key[0]}/{key[1]}" on port {port}: {exc}'
        log.error("Failed to start healthcheck: %s", message)
        if self.recorder is not None:
            service = {"kind": "Service", "apiVersion": "v1",
                       "metadata": {"namespace": key[0], "name": key[1], "uid": f"{key[0]}/{key[1]}"}}
            await self.recorder.event(service, "Warning", "FailedToStartServiceHealthcheck", message)
