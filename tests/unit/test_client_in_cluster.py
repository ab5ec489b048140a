"""The in-cluster config, as client-go's rest.InClusterConfig reads a pod's environment and volume."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinn.client.kubeconfig import NotInCluster, load_in_cluster_config

ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


def service_account(tmp_path: Path, ca: bool = True) -> Path:
    (tmp_path / "token").write_text("eyJhbGciOiJSUzI1NiJ9.e30.sig")
    (tmp_path / "namespace").write_text("kube-system")
    if ca:
        (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    return tmp_path


def test_in_cluster_config(tmp_path: Path) -> None:
    config = load_in_cluster_config(ENV, service_account(tmp_path))
    assert (config.server, config.token, config.ca_data) == (
        "https://10.96.0.1:443", "eyJhbGciOiJSUzI1NiJ9.e30.sig", b"-----BEGIN CERTIFICATE-----\n")


def test_ipv6_service_host_is_bracketed(tmp_path: Path) -> None:
    config = load_in_cluster_config({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"},
                                    service_account(tmp_path))
    assert config.server == "https://[fd00::1]:443"


def test_a_missing_ca_falls_back_to_the_system_roots(tmp_path: Path) -> None:
    assert load_in_cluster_config(ENV, service_account(tmp_path, ca=False)).ca_data is None


def test_outside_a_pod(tmp_path: Path) -> None:
    with pytest.raises(NotInCluster, match="^unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                                           "KUBERNETES_SERVICE_PORT must be defined$"):
        load_in_cluster_config({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, service_account(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_in_cluster_config(ENV, tmp_path / "missing")
