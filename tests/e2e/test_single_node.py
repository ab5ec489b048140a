"""`kinn up --workers 0`: a one-node cluster, as `kind create cluster` makes by default. Its control
plane is not tainted, so a Deployment's pods are scheduled there, and it may announce LoadBalancer
addresses, so the outside client reaches one (both were impossible: pods stayed Pending); and a
`kinn publish` run by hand forwards a host port to it until `kinn down`, naming at once a mapping
it cannot forward."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
import uuid

import pytest

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until


def test_a_cluster_without_workers_runs_and_serves_its_pods(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("kinn-home")
    cluster = KinnCluster(f"k1n{uuid.uuid4().hex[:5]}", home, home / "kubeconfig")
    publisher: subprocess.Popen[str] | None = None
    try:
        with kinn_up(cluster, "--workers", "0"):
            node = json.loads(cluster.kubectl("get", "node", "control-plane", "-o", "json"))
            assert "taints" not in node["spec"]
            cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2")
            cluster.kubectl("expose", "deployment", "web", "--port=80", "--type=LoadBalancer")
            cluster.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
            pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
            assert [pod["spec"]["nodeName"] for pod in pods] == ["control-plane"] * 2
            ip = wait_until(lambda: cluster.kubectl("get", "svc", "web", "-o",
                                                    "jsonpath={.status.loadBalancer.ingress[0].ip}"),
                            timeout=30, what="a LoadBalancer address")
            fetch = ["client", "exec", "--name", cluster.name, "--", "wget", "-qO-", "-T", "2", f"http://{ip}/"]
            page = wait_until(lambda: (answer := cluster.kinn(*fetch, check=False)).returncode == 0 and answer.stdout,
                              timeout=30, what="an answer from the LoadBalancer address")
            assert "<title>Welcome to nginx!</title>" in page
            port, unreachable = free_port(), free_port()
            publisher = subprocess.Popen([sys.executable, "-m", "kinn", "publish", "--name", cluster.name,
                                          f"{port}:svc/web:80", f"{unreachable}:svc/nosuch:80"],
                                         env=cluster.env, stderr=subprocess.PIPE, text=True)
            page = wait_until(lambda: _fetch(f"http://127.0.0.1:{port}/"), timeout=30, what="the published port")
            assert "<title>Welcome to nginx!</title>" in page
        # `kinn publish` run by hand is no process of the cluster's, yet it ends with it, freeing its port.
        assert publisher.wait(timeout=10) == 0
        # A mapping that cannot be forwarded is named at start, not only when a connection comes.
        assert (f"{unreachable}:svc/default/nosuch:80: not reachable yet: service default/nosuch not found"
                in publisher.communicate()[1])
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the forwarded connection's TIME_WAIT
            probe.bind(("127.0.0.1", port))  # fails while anything listens there
    finally:
        if publisher is not None and publisher.poll() is None:
            publisher.kill()
            publisher.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except OSError:
        return None
