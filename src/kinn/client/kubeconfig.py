"""Kubeconfig files: written by the API server for users, read by kinn's own components."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

log = logging.getLogger("kinn.client.kubeconfig")


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def build_kubeconfig(server: str, ca_cert: Path, client_cert: Path, client_key: Path, name: str = "kinn") -> dict[str, Any]:
    """A self-contained kubeconfig (certificates inlined) with one cluster, user and context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert)}}],
        "users": [{"name": f"{name}-admin", "user": {
            "client-certificate-data": _b64(client_cert), "client-key-data": _b64(client_key),
        }}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)


SECTIONS = ("clusters", "users", "contexts")


def user_kubeconfig_path() -> Path:
    """Where kubectl reads and writes by default: $KUBECONFIG's first file, else ~/.kube/config."""
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


def _read_or_empty(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    return yaml.safe_load(path.read_text()) or {}


def merge_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    """Add `config`'s clusters, users and contexts to the kubeconfig at `path` and make its context
    current, replacing entries of the same names and keeping every other one (as kind does)."""
    merged = _read_or_empty(path)
    for section in SECTIONS:
        names = {entry["name"] for entry in config.get(section, [])}
        kept = [entry for entry in merged.get(section) or [] if entry.get("name") not in names]
        merged[section] = kept + list(config.get(section, []))
    merged["current-context"] = config["current-context"]
    write_kubeconfig(path, merged)


def remove_from_kubeconfig(path: Path, config: dict[str, Any]) -> None:
    """Remove what merge_kubeconfig added; other entries stay, and so does the file."""
    if not path.exists():
        return
    merged = _read_or_empty(path)
    for section in SECTIONS:
        names = {entry["name"] for entry in config.get(section, [])}
        merged[section] = [entry for entry in merged.get(section) or [] if entry.get("name") not in names]
    if merged.get("current-context") == config.get("current-context"):
        merged["current-context"] = ""
    write_kubeconfig(path, merged)


@dataclass(frozen=True)
class ClusterConfig:
    """Where an API server is and how to prove who we are to it: what a kubeconfig context names."""

    server: str
    ca_data: bytes | None = None
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = None
    token: str | None = None
    insecure: bool = False
    # Dial this Unix socket instead of the server's host and port: the API server's loopback
    # socket, which only components running inside the API server's own process are given.
    unix_socket: str | None = None

    def ssl_context(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https://"):
            return False
        if self.insecure:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        else:
            # With certificate-authority-data the cluster's CA is the only root, as client-go's; the
            # system's ~140 roots (and the ~2 MB they take in every component) only without it.
            context = ssl.create_default_context(cadata=self.ca_data.decode() if self.ca_data else None)
        if self.client_cert_data and self.client_key_data:
            # ssl only loads client certificates from files: write them to a private temp dir.
            directory = Path(tempfile.mkdtemp(prefix="kinn-client-"))
            cert, key = directory / "client.crt", directory / "client.key"
            cert.write_bytes(self.client_cert_data)
            key.write_bytes(self.client_key_data)
            key.chmod(0o600)
            context.load_cert_chain(cert, key)
            shutil.rmtree(directory)
        return context


def _data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    """`<key>-data` (base64) or `<key>` (a file path relative to the kubeconfig)."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return (base / entry[key]).read_bytes()
    return None


def load_kubeconfig(path: Path | str, context: str | None = None) -> ClusterConfig:
    path = Path(path)
    config = yaml.safe_load(path.read_text())
    name = context or config.get("current-context")
    ctx = next(c["context"] for c in config["contexts"] if c["name"] == name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
    user = next((u["user"] for u in config.get("users", []) if u["name"] == ctx.get("user")), {})
    return ClusterConfig(
        server=cluster["server"],
        ca_data=_data(cluster, "certificate-authority", path.parent),
        client_cert_data=_data(user, "client-certificate", path.parent),
        client_key_data=_data(user, "client-key", path.parent),
        token=user.get("token"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class NotInCluster(RuntimeError):
    """Not running in a pod: the kubelet's KUBERNETES_SERVICE_HOST/PORT variables are missing."""


def load_in_cluster_config(environ: Mapping[str, str] | None = None,
                           directory: Path = SERVICE_ACCOUNT_DIR) -> ClusterConfig:
    """A pod's way to its API server, as client-go's rest.InClusterConfig: the `kubernetes` Service
    from the environment the kubelet sets, the pod's service-account token and the cluster CA from
    the kube-api-access volume. An unreadable CA is logged and the system's roots are used instead."""
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise NotInCluster("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
                           "KUBERNETES_SERVICE_PORT must be defined")
    token = (directory / "token").read_text().strip()
    try:
        ca_data: bytes | None = (directory / "ca.crt").read_bytes()
    except OSError as e:
        log.error("Expected to load root CA config from %s, but got err: %s", directory / "ca.crt", e)
        ca_data = None
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ClusterConfig(server=f"https://{authority}", ca_data=ca_data, token=token)
