"""Durability: `kill -9` the API server in the middle of a write load, restart it on the same data
dir, and everything it acknowledged is still there — objects, revisions, history and allocations."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from conftest import RunningAPIServer, start_apiserver

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
SERVICES = "/api/v1/namespaces/default/services"


class Writer(threading.Thread):
    """Creates ConfigMaps as fast as the server takes them, recording each one it acknowledged."""

    def __init__(self, server: RunningAPIServer) -> None:
        super().__init__(daemon=True)
        self.url, self.session = server.url, server.session()
        self.acknowledged: dict[str, int] = {}  # name -> resourceVersion
        self.failure: Exception | None = None

    def run(self) -> None:
        for i in range(100_000):
            try:
                response = self.session.post(self.url + CONFIGMAPS, json={"metadata": {"name": f"load-{i}"},
                                                                          "data": {"i": str(i)}}, timeout=10)
            except requests.ConnectionError:
                return  # the server died under us: this create was never acknowledged
            if response.status_code != 201:
                self.failure = AssertionError(f"create load-{i}: {response.status_code} {response.text}")
                return
            self.acknowledged[f"load-{i}"] = int(response.json()["metadata"]["resourceVersion"])


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def service(name: str, node_port: int | None = None, cluster_ip: str | None = None) -> dict:
    port: dict = {"port": 80}
    spec: dict = {"type": "NodePort" if node_port else "ClusterIP", "selector": {"app": name}, "ports": [port]}
    if node_port:
        port["nodePort"] = node_port
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> Iterator[tuple[RunningAPIServer, dict]]:
    """A server killed with SIGKILL mid-load and restarted on its data dir, plus what it held before."""
    data_dir: Path = tmp_path_factory.mktemp("durable")
    server = start_apiserver(data_dir)
    try:
        session = server.session()
        before = {
            "kubernetes": session.get(server.url + SERVICES + "/kubernetes").json(),
            "nodeport": session.post(server.url + SERVICES, json=service("np", node_port=30080)).json(),
            "fixed-ip": session.post(server.url + SERVICES, json=service("fixed", cluster_ip="10.96.0.50")).json(),
        }
        writer = Writer(server)
        writer.start()
        wait_until(lambda: len(writer.acknowledged) >= 300 or writer.failure is not None)
        server.stop(signal.SIGKILL)
        writer.join(timeout=20)
        assert writer.failure is None, writer.failure
        before["acknowledged"] = dict(writer.acknowledged)
    finally:
        server.stop(signal.SIGKILL)
    restarted = start_apiserver(data_dir)
    yield restarted, before
    restarted.stop()


def test_every_acknowledged_create_survives_kill_9(crashed):
    server, before = crashed
    acknowledged = before["acknowledged"]
    listing = server.session().get(server.url + CONFIGMAPS).json()
    stored = {o["metadata"]["name"]: int(o["metadata"]["resourceVersion"]) for o in listing["items"]}
    missing = sorted(set(acknowledged) - set(stored), key=lambda n: int(n.split("-")[1]))
    assert not missing, f"{len(missing)} acknowledged creates lost, e.g. {missing[:5]}"
    assert all(stored[name] == rv for name, rv in acknowledged.items())


def test_revisions_continue_to_increase_after_restart(crashed):
    server, before = crashed
    session = server.session()
    latest = max(before["acknowledged"].values())
    listed = int(session.get(server.url + CONFIGMAPS).json()["metadata"]["resourceVersion"])
    created = session.post(server.url + CONFIGMAPS, json={"metadata": {"name": "after-restart"}}).json()
    assert latest <= listed < int(created["metadata"]["resourceVersion"])


def test_watch_history_survives_restart(crashed):
    server, before = crashed
    first, second = sorted(before["acknowledged"].values())[:2]
    response = server.session().get(server.url + CONFIGMAPS, stream=True, params={
        "watch": "true", "resourceVersion": str(first), "timeoutSeconds": "5"})
    line = next(response.iter_lines())
    response.close()
    assert b'"type":"ADDED"' in line and f'"resourceVersion":"{second}"'.encode() in line


def test_the_kubernetes_service_keeps_its_identity(crashed):
    server, before = crashed
    now = server.session().get(server.url + SERVICES + "/kubernetes").json()
    assert now["spec"]["clusterIP"] == "10.96.0.1"
    assert now["metadata"]["uid"] == before["kubernetes"]["metadata"]["uid"]


def test_node_port_and_cluster_ip_allocations_survive_restart(crashed):
    server, before = crashed
    session = server.session()
    assert session.get(server.url + SERVICES + "/np").json()["spec"]["ports"][0]["nodePort"] == 30080
    taken_port = session.post(server.url + SERVICES, json=service("np2", node_port=30080))
    assert taken_port.status_code == 422
    assert taken_port.json()["message"] == (
        'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated')
    taken_ip = session.post(server.url + SERVICES, json=service("fixed2", cluster_ip="10.96.0.50"))
    assert taken_ip.status_code == 422
    assert taken_ip.json()["message"] == (
        'Service "fixed2" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.50"}: '
        "failed to allocate IP 10.96.0.50: provided IP is already allocated")
    # Automatic allocation never hands out what the stored services hold.
    fresh = session.post(server.url + SERVICES, json=service("auto", node_port=None)).json()
    assert fresh["spec"]["clusterIP"] not in {"10.96.0.1", "10.96.0.50", before["nodeport"]["spec"]["clusterIP"]}
