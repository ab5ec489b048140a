"""The first thing a user does: point kubectl at a fresh API server and look around."""

from __future__ import annotations


def test_version_and_system_namespaces(apiserver):
    assert "Server Version: v1.32" in apiserver.kubectl("version").stdout
    names = apiserver.kubectl("get", "ns", "-o", "name").stdout.split()
    assert names == ["namespace/default", "namespace/kube-node-lease", "namespace/kube-public",
                     "namespace/kube-system"]


def test_kubernetes_service_has_first_ip(apiserver):
    out = apiserver.kubectl("get", "svc", "kubernetes", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert out == "10.96.0.1"
