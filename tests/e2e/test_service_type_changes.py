"""Changing a Service's type against a real API server: the registry drops what the new type does not
use unless the same update changed it (upstream dropTypeDependentFields), and what it drops — node
ports, the health-check node port, the cluster IP — is free for the next Service; a rejected update
releases nothing. Also through the real kubectl, as `kubectl patch` sends only the type.

The server is shared with other tests, so the ports these tests ask for are in the static band
(30000-30085), which random allocation leaves alone while the rest of the range has room (KEP-3668)."""

from __future__ import annotations

import json

import pytest

from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource

NAMESPACES = resource("v1", "namespaces")
SERVICES = resource("v1", "services")


@pytest.fixture
async def ns(client: Client, request: pytest.FixtureRequest) -> str:
    name = request.node.name.removeprefix("test_").replace("_", "-")[:63].rstrip("-")
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def service(name: str, type_: str, port: dict | None = None, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": {"app": name}, "ports": [{"port": 80, **(port or {})}], **spec}}


async def change(client: Client, name: str, ns: str, spec: dict) -> dict:
    return await client.patch(SERVICES, name, {"spec": spec}, ns)


async def rejection(coro: object) -> StatusError:
    with pytest.raises(StatusError) as caught:
        await coro  # type: ignore[misc]
    return caught.value


async def test_load_balancer_to_cluster_ip_drops_and_releases_what_only_a_load_balancer_uses(client: Client, ns: str):
    lb = service("lb", "LoadBalancer", {"nodePort": 30041}, externalTrafficPolicy="Local",
                 loadBalancerClass="example.com/lb")
    created = await client.create(SERVICES, lb, ns)
    health = created["spec"]["healthCheckNodePort"]
    assert 30086 <= health <= 32767  # above the static band
    await client.update(SERVICES, {**created, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
                        "status")

    changed = await change(client, "lb", ns, {"type": "ClusterIP"})

    spec = changed["spec"]
    assert spec["type"] == "ClusterIP" and spec["clusterIP"] == created["spec"]["clusterIP"]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    for dropped in ("healthCheckNodePort", "externalTrafficPolicy", "allocateLoadBalancerNodePorts",
                    "loadBalancerClass"):
        assert dropped not in spec
    assert changed["status"] == {"loadBalancer": {}}
    # Both node ports can be taken by the next Service.
    await client.create(SERVICES, service("reuse-node-port", "NodePort", {"nodePort": 30041}), ns)
    await client.create(SERVICES, service("reuse-health", "NodePort", {"nodePort": health}), ns)


async def test_node_port_to_cluster_ip_by_put_releases_the_node_ports(client: Client, ns: str):
    created = await client.create(SERVICES, service("np", "NodePort", {"nodePort": 30042}), ns)
    # A PUT of the whole object still carries the node port and the traffic policy the server defaulted.
    changed = await client.update(SERVICES, {**created, "spec": {**created["spec"], "type": "ClusterIP"}})
    assert "nodePort" not in changed["spec"]["ports"][0] and "externalTrafficPolicy" not in changed["spec"]
    await client.create(SERVICES, service("reuse", "NodePort", {"nodePort": 30042}), ns)


async def test_a_value_changed_with_the_type_is_kept_and_rejected_and_nothing_is_released(client: Client, ns: str):
    await client.create(SERVICES, service("np", "NodePort", {"nodePort": 30043}), ns)

    new_port = await rejection(change(client, "np", ns, {"type": "ClusterIP",
                                                         "ports": [{"port": 80, "nodePort": 30044}]}))
    assert new_port.code == 422
    assert new_port.message == ('Service "np" is invalid: spec.ports[0].nodePort: '
                                "Forbidden: may not be used when `type` is 'ClusterIP'")
    policy = await rejection(change(client, "np", ns, {"type": "ClusterIP", "externalTrafficPolicy": "Local"}))
    assert policy.message == ('Service "np" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": '
                              "may only be set for externally-accessible services")

    taken = await rejection(client.create(SERVICES, service("other", "NodePort", {"nodePort": 30043}), ns))
    assert taken.message == ('Service "other" is invalid: spec.ports[0].nodePort: Invalid value: 30043: '
                             "provided port is already allocated")
    await client.create(SERVICES, service("free", "NodePort", {"nodePort": 30044}), ns)  # the rejected claim is undone
    assert (await client.get(SERVICES, "np", ns))["spec"]["ports"][0]["nodePort"] == 30043


async def test_cluster_ip_to_external_name_and_back(client: Client, ns: str):
    await client.create(SERVICES, service("db", "ClusterIP", clusterIP="10.96.7.7"), ns)

    external = await change(client, "db", ns, {"type": "ExternalName", "externalName": "db.example.com"})
    for dropped in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert dropped not in external["spec"]
    taker = await client.create(SERVICES, service("taker", "ClusterIP", clusterIP="10.96.7.7"), ns)
    assert taker["spec"]["clusterIPs"] == ["10.96.7.7"]

    back = await change(client, "db", ns, {"type": "ClusterIP", "externalName": None})
    assert back["spec"]["clusterIP"] not in ("", "10.96.7.7")
    assert back["spec"]["clusterIPs"] == [back["spec"]["clusterIP"]]
    assert (back["spec"]["ipFamilies"], back["spec"]["ipFamilyPolicy"]) == (["IPv4"], "SingleStack")


async def test_headless_to_external_name(client: Client, ns: str):
    await client.create(SERVICES, service("headless", "ClusterIP", clusterIP="None"), ns)
    external = await change(client, "headless", ns, {"type": "ExternalName", "externalName": "h.example.com"})
    assert "clusterIP" not in external["spec"] and "ipFamilyPolicy" not in external["spec"]


async def test_load_balancer_to_node_port_keeps_node_ports_and_releases_the_health_check_port(client: Client, ns: str):
    created = await client.create(SERVICES, service("lb", "LoadBalancer", {"nodePort": 30045},
                                                    externalTrafficPolicy="Local"), ns)
    health = created["spec"]["healthCheckNodePort"]

    changed = await change(client, "lb", ns, {"type": "NodePort"})

    spec = changed["spec"]
    assert spec["ports"][0]["nodePort"] == 30045 and spec["externalTrafficPolicy"] == "Local"
    assert "healthCheckNodePort" not in spec and "allocateLoadBalancerNodePorts" not in spec
    await client.create(SERVICES, service("reuse-health", "NodePort", {"nodePort": health}), ns)
    taken = await rejection(client.create(SERVICES, service("other", "NodePort", {"nodePort": 30045}), ns))
    assert taken.code == 422


async def test_health_check_node_port_follows_the_traffic_policy(client: Client, ns: str):
    created = await client.create(SERVICES, service("lb", "LoadBalancer"), ns)
    assert "healthCheckNodePort" not in created["spec"]

    local = await change(client, "lb", ns, {"externalTrafficPolicy": "Local", "healthCheckNodePort": 30046})
    assert local["spec"]["healthCheckNodePort"] == 30046
    # Resent without it, the Service keeps the port it holds.
    kept = await client.update(SERVICES, {**local, "spec": {k: v for k, v in local["spec"].items()
                                                            if k != "healthCheckNodePort"}})
    assert kept["spec"]["healthCheckNodePort"] == 30046
    taken = await rejection(client.create(SERVICES, service("other", "LoadBalancer", externalTrafficPolicy="Local",
                                                            healthCheckNodePort=30046), ns))
    assert (taken.code, taken.message) == (
        500, "Internal error occurred: failed to allocate requested HealthCheck NodePort 30046: "
             "provided port is already allocated")

    cluster = await change(client, "lb", ns, {"externalTrafficPolicy": "Cluster"})
    assert "healthCheckNodePort" not in cluster["spec"]
    await client.create(SERVICES, service("reuse", "NodePort", {"nodePort": 30046}), ns)


def test_kubectl_patch_type_of_a_load_balancer(apiserver):
    apiserver.kubectl("create", "namespace", "kubectl-patch")
    apiserver.kubectl("create", "service", "loadbalancer", "web", "--tcp=80:8080", "-n", "kubectl-patch")
    node_port = int(apiserver.kubectl("get", "svc", "web", "-n", "kubectl-patch",
                                      "-o", "jsonpath={.spec.ports[0].nodePort}").stdout)

    patched = apiserver.kubectl("patch", "svc", "web", "-n", "kubectl-patch", "-p", '{"spec":{"type":"ClusterIP"}}')

    assert patched.stdout == "service/web patched\n"
    spec = json.loads(apiserver.kubectl("get", "svc", "web", "-n", "kubectl-patch", "-o", "json").stdout)["spec"]
    assert spec["type"] == "ClusterIP" and "nodePort" not in spec["ports"][0]
    assert "externalTrafficPolicy" not in spec and "allocateLoadBalancerNodePorts" not in spec
    created = apiserver.kubectl("create", "service", "nodeport", "again", "--tcp=80", f"--node-port={node_port}",
                                "-n", "kubectl-patch")
    assert created.stdout == "service/again created\n"
