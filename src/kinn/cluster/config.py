"""The cluster config file (`kinn up --config cluster.yaml`): a cluster's nodes and addressing.

Every seed article uses its own addressing (seed 003: pods 10.200.0.0/16, services 10.32.0.0/24,
bridge cnio0, host-gw-style routes; seed 004: network `dindnet` on bridge `dind0`), so all of it is
configurable; the defaults are flannel's and kubeadm's:

    apiVersion: kinn.dev/v1alpha1
    kind: Cluster
    name: kinn
    networking:
      nodeSubnet: 10.240.0.0/24     # the underlay ("physical" network), bridge kinn0
      podSubnet: 10.244.0.0/16      # a /24 per node (the node IPAM controller's --cluster-cidr)
      serviceSubnet: 10.96.0.0/12   # --service-cluster-ip-range; DNS is its 10th address
      backend: vxlan                # flannel's backend: vxlan | host-gw
      bridge: cni0                  # the CNI bridge on every node
      cniNetwork: cbr0              # the CNI network name (/var/lib/cni/networks/<name>)
      ipMasq: true                  # flanneld --ip-masq
      cniPlugins: reference         # bridge/host-local/loopback/portmap: reference (Debian's) | kinn
      kubeProxyMode: iptables       # kube-proxy --proxy-mode (as kind's field): iptables | nftables | userspace
      networkPolicy: true           # enforce NetworkPolicies (kinn's agent on every node); false: as plain flannel
      loadBalancerPool: 10.240.0.200-10.240.0.250  # LoadBalancer addresses on the underlay (range or CIDR)
    nodes:
    - {name: control-plane, role: control-plane}
    - {name: worker-1, role: worker}
    - {name: worker-2, role: worker, podCIDR: 10.244.7.0/24}  # optional: the node's own pod subnet
                                    #   (default: the node IPAM controller's next free /24)
    publish:                        # none by default: host 127.0.0.1 ports forwarded to Services
    - 8080:svc/frontend:80          #   (kind's extraPortMappings; `kinn up --publish` adds more)

Mistakes are reported like Kubernetes validation errors, with the field path of each.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kinn.api import field as fld
from kinn.cluster.paths import CLIENT_NETNS_SUFFIX, UNDERLAY_NETNS_SUFFIX
from kinn.cluster.portmapping import MappingError, PortMapping
from kinn.loadbalancer.pool import AddressPool, PoolError

API_VERSION = "kinn.dev/v1alpha1"
BACKENDS = ("vxlan", "host-gw")
# Who provides bridge, host-local, loopback and portmap in /opt/cni/bin: the reference plugins
# (containernetworking-plugins, what real clusters run, fast Go binaries) or kinn's own Python
# implementations of the same contract. The flannel plugin is kinn's in both cases.
CNI_PLUGIN_SETS = ("reference", "kinn")
PROXY_MODES = ("iptables", "nftables", "userspace")
ROLES = ("control-plane", "worker")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_CLUSTER_NAME = 20  # keeps `kinn-<cluster>-<node>` netns names readable
MAX_NODE_NAME = 13  # the underlay's port for a node is `v-<node>`, within Linux's 15-character link names
# Their netns are kinn-<cluster>-<name>, as a node's would be.
RESERVED_NODE_NAMES = {UNDERLAY_NETNS_SUFFIX: "the underlay", CLIENT_NETNS_SUFFIX: "the outside client"}
CONTROL_PLANE_HOST = 10  # the control-plane node is the node subnet's 10th address
FIRST_WORKER_HOST = 20  # worker-N is the (20+N)th: 10.240.0.21, .22 … as in DESIGN's picture
NODE_CIDR_MASK_SIZE = 24  # the node IPAM controller's --node-cidr-mask-size, as `kinn up` runs it
# The fields of each part of the file. One not among them is an error, as kind's strict decoding makes
# it: a misspelt `networkin:` or `{rol: worker}` would otherwise give a cluster of defaults without a word.
DOCUMENT_FIELDS = ("apiVersion", "kind", "name", "networking", "nodes", "publish")
NETWORKING_FIELDS = ("nodeSubnet", "podSubnet", "serviceSubnet", "backend", "bridge", "cniNetwork", "ipMasq",
                     "cniPlugins", "kubeProxyMode", "networkPolicy", "loadBalancerPool")
NODE_FIELDS = ("name", "role", "ip", "podCIDR")


class ConfigError(ValueError):
    """The config is invalid; `errors` are Kubernetes-style field errors."""

    def __init__(self, errors: list[fld.FieldError]) -> None:
        super().__init__("invalid cluster config:\n" + "\n".join(f"  {error}" for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class NodeSpec:
    name: str
    role: str
    ip: str
    pod_cidr: ipaddress.IPv4Network | None = None  # None: the node IPAM controller allocates one

    @property
    def is_control_plane(self) -> bool:
        return self.role == "control-plane"


@dataclass(frozen=True)
class Networking:
    node_subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("10.240.0.0/24")
    pod_subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("10.244.0.0/16")
    service_subnet: ipaddress.IPv4Network = ipaddress.IPv4Network("10.96.0.0/12")
    backend: str = "vxlan"
    bridge: str = "cni0"
    cni_network: str = "cbr0"
    ip_masq: bool = True
    cni_plugins: str = "reference"
    kube_proxy_mode: str = "iptables"
    network_policy: bool = True
    load_balancer_pool: AddressPool = AddressPool.parse("10.240.0.200-10.240.0.250")

    @property
    def gateway(self) -> str:
        """The underlay bridge's address: the nodes' default gateway (seed 003's VPC router)."""
        return str(self.node_subnet.network_address + 1)

    @property
    def cluster_dns(self) -> str:
        """kube-dns's ClusterIP, the service subnet's 10th address (10.96.0.10), as kubeadm picks it."""
        return str(self.service_subnet.network_address + 10)

    @property
    def client_ip(self) -> str:
        """The outside client's address (`kinn client exec`): the node subnet's last host, 10.240.0.254."""
        return str(self.node_subnet.broadcast_address - 1)


def default_load_balancer_pool(node_subnet: ipaddress.IPv4Network) -> AddressPool:
    """.200-.250 of a /24, as MetalLB's examples on kind use; other sizes scaled alike, the last few
    addresses left free for the outside client."""
    size = node_subnet.num_addresses
    return AddressPool(node_subnet.network_address + size * 200 // 256, node_subnet.network_address + size - 6)


@dataclass(frozen=True)
class ClusterSpec:
    name: str = "kinn"
    networking: Networking = field(default_factory=Networking)
    nodes: tuple[NodeSpec, ...] = ()
    publish: tuple[PortMapping, ...] = ()

    @property
    def control_plane(self) -> NodeSpec:
        return next(node for node in self.nodes if node.is_control_plane)

    def to_document(self) -> dict[str, Any]:
        """The config as a file, every default spelled out: what `kinn up` saves in the cluster's state."""
        net = self.networking
        return {"apiVersion": API_VERSION, "kind": "Cluster", "name": self.name,
                "networking": {"nodeSubnet": str(net.node_subnet), "podSubnet": str(net.pod_subnet),
                               "serviceSubnet": str(net.service_subnet), "backend": net.backend,
                               "bridge": net.bridge, "cniNetwork": net.cni_network, "ipMasq": net.ip_masq,
                               "cniPlugins": net.cni_plugins, "kubeProxyMode": net.kube_proxy_mode,
                               "networkPolicy": net.network_policy,
                               "loadBalancerPool": str(net.load_balancer_pool)},
                "nodes": [_node_document(node) for node in self.nodes],
                "publish": [str(mapping) for mapping in self.publish]}


def _node_document(node: NodeSpec) -> dict[str, Any]:
    doc = {"name": node.name, "role": node.role, "ip": node.ip}
    return {**doc, "podCIDR": str(node.pod_cidr)} if node.pod_cidr else doc


def default_document(name: str = "kinn", workers: int = 2) -> dict[str, Any]:
    nodes = [{"name": "control-plane", "role": "control-plane"}]
    nodes += [{"name": f"worker-{i}", "role": "worker"} for i in range(1, workers + 1)]
    return {"apiVersion": API_VERSION, "kind": "Cluster", "name": name, "nodes": nodes}


def load(path: Path) -> dict[str, Any]:
    """Read a config file; YAML errors become a ConfigError naming the file."""
    try:
        doc = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError([fld.invalid(fld.Path(), str(path), str(error))]) from error
    if not isinstance(doc, dict):
        raise ConfigError([fld.invalid(fld.Path(), str(path), "must be a YAML mapping (kind: Cluster)")])
    return doc


def parse(doc: dict[str, Any]) -> ClusterSpec:
    """Validate and default a config document; all problems are reported at once."""
    errors: list[fld.FieldError] = []
    _known_fields(doc, DOCUMENT_FIELDS, fld.Path(), errors)
    if doc.get("apiVersion", API_VERSION) != API_VERSION:
        errors.append(fld.not_supported(fld.Path("apiVersion"), doc["apiVersion"], [API_VERSION]))
    if doc.get("kind", "Cluster") != "Cluster":
        errors.append(fld.not_supported(fld.Path("kind"), doc["kind"], ["Cluster"]))
    name = str(doc.get("name") or "kinn")
    if not NAME.match(name) or len(name) > MAX_CLUSTER_NAME:
        errors.append(fld.invalid(fld.Path("name"), name, f"must be a DNS label of at most {MAX_CLUSTER_NAME} "
                                                          "characters (lowercase letters, digits and '-')"))
    networking = _networking(_mapping(doc.get("networking"), fld.Path("networking"), errors), fld.Path("networking"),
                             errors)
    nodes = _nodes(doc.get("nodes") or default_document()["nodes"], networking, fld.Path("nodes"), errors)
    publish = _publish(doc.get("publish") or [], fld.Path("publish"), errors)
    if errors:
        raise ConfigError(errors)
    return ClusterSpec(name=name, networking=networking, nodes=nodes, publish=publish)


def _mapping(value: Any, path: fld.Path, errors: list[fld.FieldError]) -> dict[str, Any]:
    """`value` if it is a mapping (absent: an empty one); anything else is an error, and read as empty."""
    if value is None or isinstance(value, dict):
        return value or {}
    errors.append(fld.invalid(path, value, "must be a mapping of fields"))
    return {}


def _known_fields(doc: dict[str, Any], known: tuple[str, ...], path: fld.Path, errors: list[fld.FieldError]) -> None:
    errors.extend(fld.forbidden(path.child(str(key)), f"unknown field (known: {', '.join(known)})")
                  for key in doc if key not in known)


def _networking(doc: dict[str, Any], path: fld.Path, errors: list[fld.FieldError]) -> Networking:
    _known_fields(doc, NETWORKING_FIELDS, path, errors)
    default = Networking()
    subnets = {}
    for key, attr in (("nodeSubnet", "node_subnet"), ("podSubnet", "pod_subnet"),
                      ("serviceSubnet", "service_subnet")):
        value = doc.get(key, str(getattr(default, attr)))
        try:
            subnets[attr] = ipaddress.IPv4Network(str(value))
        except ValueError:
            errors.append(fld.invalid(path.child(key), value, "must be an IPv4 CIDR such as 10.244.0.0/16"))
            subnets[attr] = getattr(default, attr)
    if subnets["pod_subnet"].prefixlen > 23:
        errors.append(fld.invalid(path.child("podSubnet"), str(subnets["pod_subnet"]),
                                  "must be /23 or larger: each node gets a /24"))
    if subnets["node_subnet"].prefixlen > 26:
        errors.append(fld.invalid(path.child("nodeSubnet"), str(subnets["node_subnet"]),
                                  "must be /26 or larger: workers start at its 21st address"))
    items = list(subnets.items())
    for i, (attr_a, net_a) in enumerate(items):
        for attr_b, net_b in items[i + 1:]:
            if net_a.overlaps(net_b):
                errors.append(fld.invalid(path.child(_camel(attr_b)), str(net_b), f"overlaps {_camel(attr_a)} {net_a}"))
    backend = doc.get("backend", default.backend)
    if backend not in BACKENDS:
        errors.append(fld.not_supported(path.child("backend"), backend, BACKENDS))
    bridge, cni_network = str(doc.get("bridge", default.bridge)), str(doc.get("cniNetwork", default.cni_network))
    if not re.match(r"^[A-Za-z0-9_.-]{1,15}$", bridge):
        errors.append(fld.invalid(path.child("bridge"), bridge, "must be a Linux interface name (1-15 characters)"))
    if not re.match(r"^[A-Za-z0-9_.-]+$", cni_network):
        errors.append(fld.invalid(path.child("cniNetwork"), cni_network,
                                  "must consist of letters, digits, '_', '.' and '-' (a CNI network name)"))
    ip_masq, network_policy = doc.get("ipMasq", default.ip_masq), doc.get("networkPolicy", default.network_policy)
    for name, flag in (("ipMasq", ip_masq), ("networkPolicy", network_policy)):
        if not isinstance(flag, bool):
            errors.append(fld.invalid(path.child(name), flag, "must be true or false"))
    cni_plugins = doc.get("cniPlugins", default.cni_plugins)
    if cni_plugins not in CNI_PLUGIN_SETS:
        errors.append(fld.not_supported(path.child("cniPlugins"), cni_plugins, CNI_PLUGIN_SETS))
    proxy_mode = doc.get("kubeProxyMode", default.kube_proxy_mode)
    if proxy_mode not in PROXY_MODES:
        errors.append(fld.not_supported(path.child("kubeProxyMode"), proxy_mode, PROXY_MODES))
    pool = _load_balancer_pool(doc, subnets["node_subnet"], path.child("loadBalancerPool"), errors)
    return Networking(backend=backend, bridge=bridge, cni_network=cni_network, ip_masq=bool(ip_masq),
                      cni_plugins=cni_plugins, kube_proxy_mode=proxy_mode, network_policy=bool(network_policy),
                      load_balancer_pool=pool, **subnets)


def _load_balancer_pool(doc: dict[str, Any], node_subnet: ipaddress.IPv4Network, path: fld.Path,
                        errors: list[fld.FieldError]) -> AddressPool:
    """Addresses on the underlay, clear of its network, gateway, broadcast and client addresses."""
    default = default_load_balancer_pool(node_subnet)
    if "loadBalancerPool" not in doc:
        return default
    value = doc["loadBalancerPool"]
    try:
        pool = AddressPool.parse(str(value))
    except PoolError as error:
        errors.append(fld.invalid(path, value, str(error)))
        return default
    if not pool.within(node_subnet):
        errors.append(fld.invalid(path, value, f"must be inside nodeSubnet {node_subnet}: the speakers answer ARP there"))
    elif any(str(ip) in pool for ip in _reserved(node_subnet)):
        errors.append(fld.invalid(path, value, "must leave out the subnet's network, gateway (.1), client (last host) "
                                               "and broadcast addresses"))
    return pool


def _reserved(node_subnet: ipaddress.IPv4Network) -> tuple[ipaddress.IPv4Address, ...]:
    """The underlay addresses no node or LoadBalancer may take: network, gateway, client, broadcast."""
    return (node_subnet.network_address, node_subnet.network_address + 1, node_subnet.broadcast_address - 1,
            node_subnet.broadcast_address)


def _inside(ip: str, subnet: ipaddress.IPv4Network) -> bool:
    try:
        return ipaddress.IPv4Address(ip) in subnet
    except ValueError:
        return False


def _camel(attr: str) -> str:
    head, *rest = attr.split("_")
    return head + "".join(word.title() for word in rest)


def _nodes(docs: Any, networking: Networking, path: fld.Path, errors: list[fld.FieldError]) -> tuple[NodeSpec, ...]:
    if not isinstance(docs, list) or not docs:
        errors.append(fld.required(path, "a cluster needs at least its control-plane node"))
        return ()
    nodes, seen, workers = [], set(), 0
    for i, doc in enumerate(docs):
        here = path.index(i)
        if not isinstance(doc, dict):
            errors.append(fld.invalid(here, doc, "must be a mapping of fields such as {role: worker}"))
            continue
        _known_fields(doc, NODE_FIELDS, here, errors)
        role = doc.get("role", "worker")
        if role not in ROLES:
            errors.append(fld.not_supported(here.child("role"), role, ROLES))
            continue
        workers += role == "worker"
        default_name = "control-plane" if role == "control-plane" else f"worker-{workers}"
        name = str(doc.get("name") or default_name)
        if not NAME.match(name) or len(name) > MAX_NODE_NAME:
            errors.append(fld.invalid(here.child("name"), name, f"must be a DNS label of at most {MAX_NODE_NAME} "
                                                                "characters"))
        elif name in RESERVED_NODE_NAMES:
            errors.append(fld.invalid(here.child("name"), name, f"is reserved: kinn-<cluster>-{name} is "
                                                                f"{RESERVED_NODE_NAMES[name]}'s netns"))
        elif name in seen:
            errors.append(fld.duplicate(here.child("name"), name))
        seen.add(name)
        host = CONTROL_PLANE_HOST if role == "control-plane" else FIRST_WORKER_HOST + workers
        ip = str(doc.get("ip") or networking.node_subnet.network_address + host)
        if not _inside(ip, networking.node_subnet):
            errors.append(fld.invalid(here.child("ip"), ip, f"must be an address in nodeSubnet {networking.node_subnet}"))
        elif ip in networking.load_balancer_pool or ip == networking.client_ip:
            errors.append(fld.invalid(here.child("ip"), ip, f"is the outside client's or in loadBalancerPool "
                                                            f"{networking.load_balancer_pool}"))
        elif ipaddress.IPv4Address(ip) in _reserved(networking.node_subnet):
            errors.append(fld.invalid(here.child("ip"), ip, "is nodeSubnet's network, gateway (.1) or broadcast address"))
        elif any(node.ip == ip for node in nodes):
            errors.append(fld.duplicate(here.child("ip"), ip))
        pod_cidr = _pod_cidr(doc.get("podCIDR"), networking.pod_subnet, nodes, here.child("podCIDR"), errors)
        nodes.append(NodeSpec(name=name, role=role, ip=ip, pod_cidr=pod_cidr))
    if sum(node.is_control_plane for node in nodes) != 1:
        errors.append(fld.invalid(path, len(nodes), "must have exactly one node with role control-plane"))
    return tuple(nodes)


def _pod_cidr(value: Any, pod_subnet: ipaddress.IPv4Network, earlier: list[NodeSpec], path: fld.Path,
              errors: list[fld.FieldError]) -> ipaddress.IPv4Network | None:
    """A node's own pod subnet: one the node IPAM controller could have allocated (a /24 of podSubnet), and
    no other node's, since the controller keeps a subnet a node holds and hands out only the rest."""
    if value is None:
        return None
    try:
        cidr = ipaddress.IPv4Network(str(value))
    except ValueError:
        errors.append(fld.invalid(path, value, "must be an IPv4 CIDR such as 10.244.1.0/24"))
        return None
    if cidr.prefixlen != NODE_CIDR_MASK_SIZE:
        errors.append(fld.invalid(path, value, f"must be a /{NODE_CIDR_MASK_SIZE}: the node CIDR mask size of the "
                                               "node IPAM controller"))
    elif not cidr.subnet_of(pod_subnet):
        errors.append(fld.invalid(path, value, f"must be inside networking.podSubnet {pod_subnet}"))
    else:
        for i, node in enumerate(earlier):
            if node.pod_cidr and node.pod_cidr.overlaps(cidr):
                errors.append(fld.invalid(path, value, f"overlaps nodes[{i}].podCIDR {node.pod_cidr}"))
        return cidr
    return None


def _publish(docs: Any, path: fld.Path, errors: list[fld.FieldError]) -> tuple[PortMapping, ...]:
    if not isinstance(docs, list):
        errors.append(fld.invalid(path, docs, "must be a list of HOSTPORT:svc/[NAMESPACE/]NAME:PORT"))
        return ()
    mappings: list[PortMapping] = []
    for i, text in enumerate(docs):
        try:
            mapping = PortMapping.parse(text)
        except MappingError as error:
            errors.append(fld.invalid(path.index(i), text, str(error)))
            continue
        if any(m.host_port == mapping.host_port for m in mappings):
            errors.append(fld.duplicate(path.index(i), text))
        mappings.append(mapping)
    return tuple(mappings)
