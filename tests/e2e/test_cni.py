"""The CNI runtime with kinn's plugins, Debian's reference plugins, and a mix, in real namespaces.

A "node" netns plays the node: the runtime is run inside it (netlink.run_in), so the plugins it
forks configure that namespace's bridge and iptables, never the host's. Pods are further netns.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from kinn import netlink
from kinn.cni import (CNIError, CNIRuntime, NetworkConfigList, PluginNotFound, Result, install,
                      kubernetes_args)

pytestmark = pytest.mark.e2e

DEBIAN_BIN = Path("/usr/lib/cni")
BRIDGE = "kt-cni0"
NET = "kt-net"
PORTS = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


@dataclass
class Node:
    """A node namespace with its own CNI state dirs and the pods created on it."""
    netns: str
    tmp: Path
    pods: list[str]

    def new_pod(self) -> str:
        name = f"{self.netns}-p{len(self.pods)}"
        netlink.create(name)
        self.pods.append(name)
        return name

    def runtime(self, plugins: list[dict[str, Any]], bin_dir: Path) -> CNIRuntime:
        network = NetworkConfigList.from_dict({"cniVersion": "1.0.0", "name": NET, "plugins": plugins})
        return CNIRuntime(network, [str(bin_dir)], self.tmp / "cache")

    def run(self, coroutine_factory: Any) -> Any:
        """Await a runtime call from a thread inside the node namespace."""
        return netlink.run_in(self.netns, lambda: asyncio.run(coroutine_factory()))

    def add(self, runtime: CNIRuntime, pod: str, runtime_config: dict[str, Any] | None = None,
            container_id: str | None = None) -> Result:
        """ADD with the kubelet's CNI_ARGS; the container ID defaults to the pod's netns name."""
        cid = container_id or pod
        return self.run(lambda: runtime.add(cid, str(netlink.netns_path(pod)), "eth0",
                                            kubernetes_args("default", pod, cid, f"uid-{pod}"), runtime_config))

    def delete(self, runtime: CNIRuntime, pod: str, container_id: str | None = None) -> None:
        self.run(lambda: runtime.delete(container_id or pod, str(netlink.netns_path(pod)), "eth0"))

    def nat(self) -> list[str]:
        """The node's nat chains and rules as iptables-save prints them (no header or counters)."""
        out = subprocess.run(["ip", "netns", "exec", self.netns, "iptables-save", "-t", "nat"],
                             check=True, capture_output=True, text=True).stdout
        return [line for line in out.splitlines() if line.startswith((":", "-A"))]


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    created = Node(f"kt-cni-{uuid.uuid4().hex[:6]}", tmp_path, [])
    netlink.create(created.netns)
    try:
        yield created
    finally:
        for pod in created.pods:
            netlink.delete(pod)
        netlink.delete(created.netns)  # takes its bridge, veths and iptables rules with it


def bin_dir(tmp: Path, kind: str) -> Path:
    """kinn: all of kinn's plugins; debian: the reference plugins; mixed: Debian bridge and portmap
    with kinn's host-local and loopback."""
    if kind == "debian":
        return DEBIAN_BIN
    directory = tmp / f"bin-{kind}"
    install(directory)
    if kind == "mixed":
        for name in ("bridge", "portmap"):
            (directory / name).unlink()
            (directory / name).symlink_to(DEBIAN_BIN / name)
    return directory


def bridge_plugins(tmp: Path, subnet: str = "10.250.1.0/24", **ipam: Any) -> list[dict[str, Any]]:
    return [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "isDefaultGateway": True, "ipMasq": True,
         "hairpinMode": True, "mtu": 1450,
         "ipam": {"type": "host-local", "dataDir": str(tmp / "networks"), "ranges": [[{"subnet": subnet, **ipam}]],
                  "routes": [{"dst": "10.250.0.0/16"}]}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "loopback"},
    ]


def veths(node: Node) -> list[str]:
    with netlink.iproute(node.netns) as ipr:
        return sorted(link.name for link in netlink.list_links(ipr) if link.kind == "veth")


def ip_files(node: Node) -> dict[str, bytes]:
    directory = node.tmp / "networks" / NET
    if not directory.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.name != "lock" and not p.name.startswith("last_")}


def pod_state(pod: str) -> dict[str, str]:
    """What a pod sees, with its MACs, ifindexes and the pod's own name masked."""
    def clean(text: str) -> str:
        text = re.sub(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", "MAC", text)
        return re.sub(r"@if\d+|^\d+:|link-netns \S+|fe80::\S+", "", text, flags=re.M)
    return {"addr": clean(sh("ip", "-n", pod, "-4", "addr")), "route": sh("ip", "-n", pod, "route")}


@pytest.mark.parametrize("kind", ["kinn", "debian", "mixed"])
def test_two_pods_on_one_bridge_then_nothing_left(node: Node, kind: str) -> None:
    runtime = node.runtime(bridge_plugins(node.tmp), bin_dir(node.tmp, kind))
    pod1, pod2 = node.new_pod(), node.new_pod()
    first = node.add(runtime, pod1, PORTS)
    second = node.add(runtime, pod2)

    assert [ip.address for ip in first.ips + second.ips] == ["10.250.1.2/24", "10.250.1.3/24"]
    assert [i.name for i in first.interfaces][0::2] == [BRIDGE, "eth0"]
    assert re.fullmatch(r"veth[0-9a-f]{8}", first.interfaces[1].name)
    assert first.interfaces[2].sandbox == str(netlink.netns_path(pod1))
    assert {r.dst: r.gw for r in first.routes} == {"10.250.0.0/16": None, "0.0.0.0/0": "10.250.1.1"}
    with netlink.iproute(node.netns) as ipr:
        bridge = netlink.get_link(ipr, BRIDGE)
        ports = [netlink.get_link(ipr, r.interfaces[1].name) for r in (first, second)]
        assert all(port.master == bridge.index and port.mtu == 1450 for port in ports)
        assert netlink.ipv4_addresses(ipr, BRIDGE) == ["10.250.1.1/24"]
    assert "hairpin on" in sh("ip", "-n", node.netns, "-d", "link", "show", ports[0].name)
    assert netlink.get_sysctl("net.ipv4.ip_forward", node.netns) == "1"
    assert ip_files(node) == {"10.250.1.2": f"{pod1}\r\neth0".encode(), "10.250.1.3": f"{pod2}\r\neth0".encode()}
    assert (node.tmp / "cache" / "results" / f"{NET}-{pod1}-eth0").exists()
    assert netlink.ping(pod1, "10.250.1.3") and netlink.ping(pod2, "10.250.1.2")
    assert netlink.ping(pod1, "10.250.1.1") and netlink.ping(pod1, "127.0.0.1")
    nat = node.nat()
    assert sum(line.startswith(":CNI-") and "HOSTPORT" not in line and "CNI-DN-" not in line for line in nat) == 2
    assert any("--dport 8080 -j DNAT --to-destination 10.250.1.2:80" in line for line in nat)
    if kind == "kinn":  # Debian's bridge 1.1.1 CHECK rejects its own gw-less IPAM routes (upstream bug)
        node.run(lambda: runtime.check(pod1, str(netlink.netns_path(pod1)), "eth0"))

    node.delete(runtime, pod1)
    node.delete(runtime, pod2)
    node.delete(runtime, pod2)  # DEL is repeatable
    assert veths(node) == [] and ip_files(node) == {}
    leftover = [line for line in node.nat() if "CNI-" in line and "HOSTPORT" not in line]
    assert leftover == []
    assert not (node.tmp / "cache" / "results" / f"{NET}-{pod1}-eth0").exists()


def test_concurrent_adds_share_bridge_and_chains(node: Node) -> None:
    """The kubelet starts pods in parallel: ADDs race on the bridge, host-local's lock and iptables."""
    runtime = node.runtime(bridge_plugins(node.tmp), bin_dir(node.tmp, "kinn"))
    pods = [node.new_pod() for _ in range(4)]

    async def add_all() -> list[Result]:
        return await asyncio.gather(*(runtime.add(pod, str(netlink.netns_path(pod)), "eth0", {},
                                                  {"portMappings": [{"hostPort": 9000 + i, "containerPort": 80}]})
                                      for i, pod in enumerate(pods)))
    results = node.run(add_all)
    assert sorted(r.ips[0].address for r in results) == [f"10.250.1.{i}/24" for i in range(2, 6)]
    assert len(veths(node)) == 4 and len(ip_files(node)) == 4
    assert netlink.ping(pods[0], results[3].ips[0].address.split("/")[0])

    async def delete_all() -> None:
        await asyncio.gather(*(runtime.delete(pod, str(netlink.netns_path(pod)), "eth0") for pod in pods))
    node.run(delete_all)
    assert veths(node) == [] and ip_files(node) == {}
    assert [line for line in node.nat() if "CNI-" in line and "HOSTPORT" not in line] == []


def _state_after_two_adds(node: Node, kind: str) -> dict[str, Any]:
    runtime = node.runtime(bridge_plugins(node.tmp), bin_dir(node.tmp, kind))
    pods, ids = [node.new_pod(), node.new_pod()], ["sandbox-a", "sandbox-b"]
    results = [node.add(runtime, pods[0], PORTS, ids[0]), node.add(runtime, pods[1], None, ids[1])]
    state = {"results": [{**r.to_dict(), "interfaces": [i.name for i in r.interfaces]} for r in results],
             "pods": [pod_state(p) for p in pods],
             "bridge": sh("ip", "-n", node.netns, "-4", "addr", "show", BRIDGE).split("\n", 1)[1],
             "routes": sh("ip", "-n", node.netns, "route"),
             "files": ip_files(node), "nat": node.nat()}
    for pod, cid in zip(pods, ids):
        node.delete(runtime, pod, cid)
    state["after_delete"] = {"veths": veths(node), "files": ip_files(node), "nat": node.nat()}
    return state


def test_kinn_and_debian_plugins_leave_the_same_state(tmp_path: Path) -> None:
    """Same conflist, same container IDs: addresses, routes, IP files and iptables are identical."""
    states = {}
    for kind in ("kinn", "debian"):
        with _node_context(tmp_path / kind) as each:
            states[kind] = _state_after_two_adds(each, kind)
    kinn, debian = states["kinn"], states["debian"]
    for key in ("pods", "bridge", "routes", "files", "nat", "after_delete"):
        assert _without_netns_names(kinn[key]) == _without_netns_names(debian[key]), key
    assert [r["ips"] for r in kinn["results"]] == [r["ips"] for r in debian["results"]]
    assert [r["routes"] for r in kinn["results"]] == [r["routes"] for r in debian["results"]]


def _without_netns_names(value: Any) -> str:
    return re.sub(r"kt-cni-[0-9a-f]{6}", "NODE", json.dumps(value, sort_keys=True, default=repr))


class _node_context:
    """The node fixture's setup/teardown for tests that need two nodes in sequence."""

    def __init__(self, tmp: Path) -> None:
        tmp.mkdir(parents=True)
        self.node = Node(f"kt-cni-{uuid.uuid4().hex[:6]}", tmp, [])

    def __enter__(self) -> Node:
        netlink.create(self.node.netns)
        return self.node

    def __exit__(self, *exc: object) -> None:
        for pod in self.node.pods:
            netlink.delete(pod)
        netlink.delete(self.node.netns)


@pytest.mark.parametrize("kind", ["kinn", "debian"])
def test_exhausted_range_fails_and_leaks_nothing(node: Node, kind: str) -> None:
    runtime = node.runtime(bridge_plugins(node.tmp, "10.250.9.0/29", rangeStart="10.250.9.2",
                                          rangeEnd="10.250.9.2"), bin_dir(node.tmp, kind))
    pod1, pod2 = node.new_pod(), node.new_pod()
    node.add(runtime, pod1)
    chains_before = node.nat()
    with pytest.raises(CNIError, match="no IP addresses available in range set: 10.250.9.2-10.250.9.2"):
        node.add(runtime, pod2, PORTS)
    assert len(veths(node)) == 1
    assert list(ip_files(node)) == ["10.250.9.2"]
    assert node.nat() == chains_before
    with netlink.iproute(pod2) as ipr:
        assert netlink.find_link(ipr, "eth0") is None
    assert not (node.tmp / "cache" / "results" / f"{NET}-{pod2}-eth0").exists()


def test_missing_plugin_is_a_clear_error(node: Node) -> None:
    runtime = node.runtime([{"type": "kt-no-such-plugin"}], bin_dir(node.tmp, "kinn"))
    with pytest.raises(PluginNotFound, match='failed to find plugin "kt-no-such-plugin" in path'):
        node.add(runtime, node.new_pod())


@pytest.mark.parametrize("kind", ["kinn", "debian"])
def test_invalid_plugin_config_is_reported_with_its_code(node: Node, kind: str) -> None:
    plugins = bridge_plugins(node.tmp, "10.250.1.0/24", rangeStart="10.99.0.5")  # rangeStart outside subnet
    runtime = node.runtime(plugins[:1], bin_dir(node.tmp, kind))
    pod = node.new_pod()
    with pytest.raises(CNIError) as err:
        node.add(runtime, pod)
    assert "10.99.0.5" in str(err.value)
    assert veths(node) == [] and ip_files(node) == {}


@pytest.mark.parametrize("kind", ["kinn", "debian"])
def test_hairpin_and_promiscuous_mode_are_exclusive(node: Node, kind: str) -> None:
    plugins = bridge_plugins(node.tmp)
    plugins[0]["promiscMode"] = True
    runtime = node.runtime(plugins[:1], bin_dir(node.tmp, kind))
    with pytest.raises(CNIError, match="cannot set hairpin mode and promiscuous mode at the same time"):
        node.add(runtime, node.new_pod())


def test_version_command(node: Node) -> None:
    runtime = node.runtime([{"type": "loopback"}], bin_dir(node.tmp, "kinn"))
    answer = asyncio.run(runtime.version("bridge"))
    assert "1.0.0" in answer["supportedVersions"] and answer["cniVersion"]


def test_flannel_delegates_to_bridge_from_subnet_env(node: Node) -> None:
    subnet_env = node.tmp / "subnet.env"
    subnet_env.write_text("FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\n"
                          "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    plugins = [{"type": "flannel", "subnetFile": str(subnet_env), "dataDir": str(node.tmp / "flannel"),
                "delegate": {"bridge": BRIDGE, "promiscMode": True, "isDefaultGateway": True,
                             "ipam": {"type": "host-local", "dataDir": str(node.tmp / "networks"),
                                      "ranges": [[{"subnet": "10.244.1.0/24"}]], "routes": [{"dst": "10.244.0.0/16"}]}}},
               {"type": "portmap", "capabilities": {"portMappings": True}}]
    runtime = node.runtime(plugins, bin_dir(node.tmp, "kinn"))
    pod = node.new_pod()
    result = node.add(runtime, pod)
    assert [ip.address for ip in result.ips] == ["10.244.1.2/24"]
    saved = json.loads((node.tmp / "flannel" / pod).read_text())
    assert saved["isGateway"] is True and saved["ipMasq"] is False and saved["mtu"] == 1450
    assert saved["type"] == "bridge" and saved["name"] == NET
    with netlink.iproute(node.netns) as ipr:
        assert netlink.ipv4_addresses(ipr, BRIDGE) == ["10.244.1.1/24"]
        assert netlink.get_link(ipr, BRIDGE).mtu == 1450
    assert "PROMISC" in sh("ip", "-n", node.netns, "link", "show", BRIDGE)
    assert not any(line.startswith(":CNI-") and "HOSTPORT" not in line for line in node.nat())  # FLANNEL_IPMASQ=true
    assert "default via 10.244.1.1 dev eth0" in sh("ip", "-n", pod, "route")
    assert netlink.ping(pod, "10.244.1.1")
    node.delete(runtime, pod)
    assert veths(node) == [] and ip_files(node) == {} and not (node.tmp / "flannel" / pod).exists()
