"""`kinn up --publish`: mapping syntax and where the publisher sends a connection."""

from __future__ import annotations

import asyncio
import socket
from typing import cast

import pytest

from kinn.client.rest import Client
from kinn.cluster.portmapping import MappingError, PortMapping
from kinn.cluster.publisher import ListenError, NoBackend, Publisher, backend


def test_mappings_name_a_service_port_by_number_or_name() -> None:
    assert PortMapping.parse("8080:svc/frontend:80") == PortMapping(8080, "default", "frontend", 80)
    web = PortMapping.parse("8443:svc/shop/web:https")
    assert (web, str(web)) == (PortMapping(8443, "shop", "web", "https"), "8443:svc/shop/web:https")
    assert PortMapping.parse(str(PortMapping(1, "default", "a", 2))) == PortMapping(1, "default", "a", 2)
    assert web.matches({"name": "https", "port": 443}) and not web.matches({"name": "https", "protocol": "UDP"})
    for bad in ("8080:frontend:80", "svc/frontend:80", "8080:svc/Frontend:80", "0:svc/a:80", "8080:svc/a/b/c:80"):
        with pytest.raises(MappingError):
            PortMapping.parse(bad)


MAPPING = PortMapping(8080, "default", "web", 80)


def svc(kind: str = "NodePort", ingress: str | None = None, policy: str = "Cluster") -> dict:
    ports = [{"name": "dns", "port": 80, "protocol": "UDP", "nodePort": 30053},
             {"port": 80, "protocol": "TCP", **({"nodePort": 30080} if kind != "ClusterIP" else {})}]
    status = {"loadBalancer": {"ingress": [{"ip": ingress, "ipMode": "VIP"}]}} if ingress else {}
    return {"metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": kind, "ports": ports, "externalTrafficPolicy": policy}, "status": status}


def node(name: str, ip: str, ready: str = "True") -> dict:
    return {"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                                                   "conditions": [{"type": "Ready", "status": ready}]}}


NODES = [node("worker-2", "10.240.0.22"), node("worker-1", "10.240.0.21"), node("worker-3", "10.240.0.23", "False")]
SLICES = [{"endpoints": [{"nodeName": "worker-3", "conditions": {"ready": True}},
                         {"nodeName": "worker-2", "conditions": {"ready": True}}]}]


def test_a_load_balancer_address_is_dialled_at_the_service_port() -> None:
    assert backend(MAPPING, svc("LoadBalancer", "10.240.0.200"), NODES, SLICES) == ("10.240.0.200", 80)


def test_without_one_a_ready_node_with_an_endpoint_at_the_node_port() -> None:
    assert backend(MAPPING, svc(), NODES, SLICES) == ("10.240.0.22", 30080)  # worker-3 has one but is not Ready
    assert backend(MAPPING, svc("LoadBalancer"), NODES, []) == ("10.240.0.21", 30080)  # pending: any Ready node


@pytest.mark.parametrize("service, nodes, message", [
    (None, NODES, "service default/web not found"),
    (svc("ClusterIP"), NODES, "is ClusterIP: no LoadBalancer address and no NodePort"),
    ({**svc(), "spec": {"ports": [{"port": 81}]}}, NODES, "has no TCP port 80"),
    (svc(), [node("worker-1", "10.240.0.21", "Unknown")], "no Ready node to reach its NodePort 30080 on"),
])
def test_what_cannot_be_reached_says_why(service: dict | None, nodes: list[dict], message: str) -> None:
    with pytest.raises(NoBackend, match=message):
        backend(MAPPING, service, nodes, SLICES)


def test_a_host_port_already_taken_is_an_error_naming_the_mapping() -> None:
    """`kinn publish` with a taken port (or the same port twice) was a traceback out of the event loop."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        mapping = PortMapping(taken.getsockname()[1], "default", "web", 80)
        publisher = Publisher(cast(Client, None), (mapping,), "kinn-test-net")  # fails before any API call
        with pytest.raises(ListenError) as caught:
            asyncio.run(publisher.run())
    assert str(caught.value) == (f"{mapping}: cannot listen on 127.0.0.1:{mapping.host_port}: address already in use; "
                                 "choose another host port")
