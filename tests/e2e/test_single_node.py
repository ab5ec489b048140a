"""`kinn up --workers 0`: a one-node cluster, as `kind create cluster` makes by default. Its control
plane is not tainted, so a Deployment's pods are scheduled there, and it may announce LoadBalancer
addresses, so the outside client reaches one (both were impossible: pods stayed Pending)."""

from __future__ import annotations

import json
import uuid

import pytest

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until


def test_a_cluster_without_workers_runs_and_serves_its_pods(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("kinn-home")
    cluster = KinnCluster(f"k1n{uuid.uuid4().hex[:5]}", home, home / "kubeconfig")
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
