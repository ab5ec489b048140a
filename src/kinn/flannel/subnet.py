"""flannel's network config, leases, node annotations and subnet.env — the pure part of flanneld.

A *lease* is one node's share of the pod network plus what the other nodes need to reach it: its
public (underlay) IP and backend data (for VXLAN the VNI and the VTEP's MAC). In the kube subnet
manager mode (`--kube-subnet-mgr`) the lease's subnet is the Node's `spec.podCIDR`, allocated by
the controller manager's node IPAM, and the rest lives in `flannel.alpha.coreos.com/*` annotations.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinn.client.rest import Obj

ANNOTATION_PREFIX = "flannel.alpha.coreos.com"  # upstream's --kube-annotation-prefix default
SUBNET_KUBE_MANAGED = f"{ANNOTATION_PREFIX}/kube-subnet-manager"
BACKEND_TYPE = f"{ANNOTATION_PREFIX}/backend-type"
BACKEND_DATA = f"{ANNOTATION_PREFIX}/backend-data"
BACKEND_PUBLIC_IP = f"{ANNOTATION_PREFIX}/public-ip"
BACKEND_PUBLIC_IP_OVERWRITE = f"{ANNOTATION_PREFIX}/public-ip-overwrite"

DEFAULT_SUBNET_FILE = Path("/run/flannel/subnet.env")
DEFAULT_NET_CONF = Path("/etc/kube-flannel/net-conf.json")


class ConfigError(ValueError):
    """The net config is unusable; the message says which key and why."""


@dataclass(frozen=True)
class NetConfig:
    """net-conf.json: `{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan", "VNI": 1, "Port": 8472}}`."""
    network: ipaddress.IPv4Network
    subnet_len: int
    backend_type: str
    backend: dict[str, Any] = field(default_factory=dict)

    @property
    def vni(self) -> int:
        return int(self.backend.get("VNI") or 1)

    @property
    def port(self) -> int:
        """0 in the config means the kernel's default, which for VXLAN is 8472 (Linux's pre-IANA port)."""
        return int(self.backend.get("Port") or 8472)


def parse_net_config(text: str) -> NetConfig:
    """Parse net-conf.json as subnet.ParseConfig does: SubnetLen defaults to 24 when the network is
    at most a /22; a smaller network must say its SubnetLen. (In kube subnet manager mode the
    node IPAM controller sizes the subnets; SubnetLen only matters for the etcd mode.)"""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"net config is not JSON: {exc}") from exc
    if not doc.get("Network"):
        raise ConfigError("net config has no Network (e.g. \"10.244.0.0/16\")")
    network = ipaddress.IPv4Network(doc["Network"], strict=False)
    subnet_len = int(doc.get("SubnetLen") or (24 if network.prefixlen <= 22 else 0))
    if not network.prefixlen < subnet_len <= 30:
        raise ConfigError(f"SubnetLen {subnet_len or 'unset'} does not fit in Network {network}")
    backend = dict(doc.get("Backend") or {})
    backend_type = str(backend.pop("Type", "") or "udp")
    if backend_type not in ("vxlan", "host-gw"):
        raise ConfigError(f"backend type {backend_type!r} is not supported by kinn (vxlan, host-gw)")
    return NetConfig(network, subnet_len, backend_type, backend)


def load_net_config(path: Path) -> NetConfig:
    return parse_net_config(path.read_text())


@dataclass(frozen=True)
class LeaseAttrs:
    """What a node publishes about itself (subnet.LeaseAttrs)."""
    public_ip: str
    backend_type: str
    backend_data: dict[str, Any] | None = None

    def backend_data_json(self) -> str:
        """Go's json.Marshal of the backend struct: compact, fields in declaration order (VNI, VtepMAC)."""
        return json.dumps(self.backend_data, separators=(",", ":"))


@dataclass(frozen=True)
class Lease:
    subnet: ipaddress.IPv4Network
    attrs: LeaseAttrs


def node_pod_cidr(node: Obj) -> ipaddress.IPv4Network | None:
    """The node's IPv4 pod CIDR: spec.podCIDRs' IPv4 entry, or spec.podCIDR (None: not allocated yet)."""
    spec = node.get("spec") or {}
    for cidr in spec.get("podCIDRs") or [spec.get("podCIDR") or ""]:
        if cidr and ipaddress.ip_network(cidr, strict=False).version == 4:
            return ipaddress.IPv4Network(cidr, strict=False)
    return None


def node_to_lease(node: Obj) -> Lease | None:
    """The lease a Node advertises (nodeToLease), or None when flannel does not manage it yet
    (no `kube-subnet-manager: "true"`, no podCIDR, or annotations that do not parse)."""
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    if annotations.get(SUBNET_KUBE_MANAGED) != "true":
        return None
    subnet = node_pod_cidr(node)
    try:
        public_ip = str(ipaddress.IPv4Address(annotations.get(BACKEND_PUBLIC_IP, "")))
        data = json.loads(annotations[BACKEND_DATA]) if annotations.get(BACKEND_DATA) else None
    except (ValueError, json.JSONDecodeError):
        return None
    if subnet is None:
        return None
    return Lease(subnet, LeaseAttrs(public_ip, annotations.get(BACKEND_TYPE, ""), data))


def lease_changed(old: Obj, new: Obj) -> bool:
    """handleUpdateLeaseEvent: only backend-data, backend-type and public-ip changes re-announce a lease."""
    before = (old.get("metadata") or {}).get("annotations") or {}
    after = (new.get("metadata") or {}).get("annotations") or {}
    return any(before.get(key) != after.get(key) for key in (BACKEND_DATA, BACKEND_TYPE, BACKEND_PUBLIC_IP))


def annotations_patch(node: Obj, attrs: LeaseAttrs) -> dict[str, str] | None:
    """The annotations AcquireLease writes, or None when the node already carries them. A
    `public-ip-overwrite` annotation wins over the detected address, as upstream."""
    current = (node.get("metadata") or {}).get("annotations") or {}
    overwrite = current.get(BACKEND_PUBLIC_IP_OVERWRITE, "")
    wanted = {
        BACKEND_TYPE: attrs.backend_type,
        BACKEND_DATA: attrs.backend_data_json(),
        BACKEND_PUBLIC_IP: overwrite or attrs.public_ip,
        SUBNET_KUBE_MANAGED: "true",
    }
    changes = {key: value for key, value in wanted.items() if current.get(key) != value}
    return changes or None


def stored_vtep_mac(node: Obj) -> str | None:
    """The VtepMAC this node advertised before, so a restarted flanneld keeps its VTEP's address
    and the other nodes' neighbour/FDB entries stay valid."""
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(BACKEND_DATA)
    try:
        mac = json.loads(raw).get("VtepMAC") if raw else None
    except (json.JSONDecodeError, AttributeError):
        return None
    return mac if isinstance(mac, str) and mac else None


def render_subnet_env(network: ipaddress.IPv4Network, subnet: ipaddress.IPv4Network, mtu: int,
                      ip_masq: bool) -> str:
    """subnet.env as WriteSubnetFile writes it; FLANNEL_SUBNET is the lease's first address (the
    bridge's gateway) with the lease's prefix length."""
    return (f"FLANNEL_NETWORK={network}\n"
            f"FLANNEL_SUBNET={subnet.network_address + 1}/{subnet.prefixlen}\n"
            f"FLANNEL_MTU={mtu}\n"
            f"FLANNEL_IPMASQ={'true' if ip_masq else 'false'}\n")


def write_subnet_env(path: Path, text: str) -> None:
    """Write atomically (temp file + rename), so the CNI plugin never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
