"""The files `kinn up` puts on each node, as kubeadm and kube-flannel's manifest put them on real ones."""

from __future__ import annotations

import json
from pathlib import Path

from kinn.apiserver.certs import PKI, ensure_client_certificate
from kinn.client.kubeconfig import build_kubeconfig, write_kubeconfig
from kinn.cluster.config import Networking
from kinn.cluster.node import Node
from kinn.cluster.paths import ClusterPaths
from kinn.cni import install
from kinn.kubelet.certificate import ensure_serving_certificate

CNI_CONFLIST = "/etc/cni/net.d/10-flannel.conflist"
NET_CONF = "/etc/kube-flannel/net-conf.json"
REFERENCE_PLUGIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
REFERENCE_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
NODE_KUBECONFIG = "/etc/kubernetes/kubelet.conf"
MANIFESTS = "/etc/kubernetes/manifests"
KUBELET_ROOT = "/var/lib/kubelet"  # the kubelet's default --root-dir, which kinn up's agents keep


def flannel_conflist(networking: Networking) -> dict[str, object]:
    """kube-flannel's cni-conf.json: flannel delegating to bridge (with the configured bridge name), then portmap."""
    delegate: dict[str, object] = {"hairpinMode": True, "isDefaultGateway": True}
    if networking.bridge != "cni0":
        delegate["bridge"] = networking.bridge
    return {"name": networking.cni_network, "cniVersion": "0.3.1", "plugins": [
        {"type": "flannel", "delegate": delegate},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}


def net_conf(networking: Networking) -> dict[str, object]:
    """kube-flannel's net-conf.json."""
    return {"Network": str(networking.pod_subnet), "Backend": {"Type": networking.backend}}


def write_node_files(node: Node, networking: Networking, pki: PKI, server: str) -> None:
    """CNI config and plugins, flannel's net-conf, the node's kubeconfig (identity system:node:<name>)
    and the kubelet's serving certificate, which its kubelet would otherwise make (and pay for) itself."""
    path = node.paths.path
    install_plugins(path("/opt/cni/bin"), networking.cni_plugins)
    _write_json(path(CNI_CONFLIST), flannel_conflist(networking))
    _write_json(path(NET_CONF), net_conf(networking))
    path(MANIFESTS).mkdir(parents=True, exist_ok=True)
    cert, key = ensure_client_certificate(pki, f"kubelet-{node.name}", f"system:node:{node.name}", "system:nodes")
    write_kubeconfig(path(NODE_KUBECONFIG), build_kubeconfig(server, pki.ca_cert, cert, key, "default"))
    ensure_serving_certificate(path(KUBELET_ROOT), node.name, node.spec.ip)


def install_plugins(bin_dir: Path, plugin_set: str) -> None:
    """Fill a node's /opt/cni/bin as kube-flannel's install-cni and the CNI packages would."""
    if plugin_set == "kinn":
        install(bin_dir)
        return
    install(bin_dir, ["flannel"])
    for name in REFERENCE_PLUGINS:
        source = REFERENCE_PLUGIN_DIR / name
        if not source.exists():
            raise FileNotFoundError(f"{source} is missing: install containernetworking-plugins "
                                    "(hack/setup.sh does) or set networking.cniPlugins: kinn")
        (bin_dir / name).symlink_to(source)


def admin_kubeconfig(paths: ClusterPaths, pki: PKI, server: str) -> dict[str, object]:
    config = build_kubeconfig(server, pki.ca_cert, pki.admin_cert, pki.admin_key, paths.context)
    write_kubeconfig(paths.kubeconfig, config)
    return config


def _write_json(path: Path, doc: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
