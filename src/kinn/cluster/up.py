"""`kinn up`: build a cluster — underlay, nodes, control plane, node agents — and wait until it is Ready.

Each step prints what it created, as `kind create cluster` does. A failure at any step removes
whatever was created before it (`kinn down`), so a failed `kinn up` leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Awaitable, Callable

from dnslib import DNSRecord

from kinn import netlink
from kinn.api.errors import StatusError
from kinn.apiserver.certs import ensure_pki
from kinn.client.kubeconfig import merge_kubeconfig, user_kubeconfig_path
from kinn.client.rest import Client, resource
from kinn.cluster import addons, cgroups, down, files
from kinn.cluster.cluster import Cluster
from kinn.cluster.config import ClusterSpec
from kinn.cluster.forkserver import AgentLaunch, ForkedAgent, launch
from kinn.cluster.node import node_cgroups
from kinn.cluster.provision import create_netns, start_holder
from kinn.cluster.paths import UNDERLAY_BRIDGE, ClusterPaths, cgroup_root
from kinn.cluster.registration import preassigned_nodes, registration
from kinn.controllers.nodehealth import ready_status

NODES = resource("v1", "nodes")
NAMESPACES = resource("v1", "namespaces")
API_PORT = 6443  # inside the cluster, and on the host when free (else another free port)
READY_TIMEOUT = 60.0
# kube-proxy's default is 1s; a kinn cluster is small and syncs cost milliseconds, so endpoint
# changes reach the rules within a fraction of a second even right after another change.
PROXY_MIN_SYNC_PERIOD = "200ms"

Echo = Callable[[str], None]
Process = subprocess.Popen[bytes] | ForkedAgent  # watched for an early exit while waiting


class ClusterExists(RuntimeError):
    pass


class UpError(RuntimeError):
    """A step failed; the message says which and points at the log to read."""


def _bind_probe(port: int) -> int | None:
    """`port` (0: some free port) if it can be bound on the host's 127.0.0.1 now, else None."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return None
        return probe.getsockname()[1]


def _host_port(published: set[int]) -> int:
    """6443 if nothing on the host listens there (and no published port claims it), else a free port:
    clusters coexist."""
    port = (API_PORT not in published and _bind_probe(API_PORT)) or _bind_probe(0)
    if not port:
        raise UpError("no free port on 127.0.0.1 for the API server")
    return port


def _check_published_ports(spec: ClusterSpec) -> None:
    for i, mapping in enumerate(spec.publish):
        if _bind_probe(mapping.host_port) is None:
            raise UpError(f"publish[{i}] {mapping}: 127.0.0.1:{mapping.host_port} is already in use on this host; "
                          "choose another host port")


class Step:
    """Prints ` ✓ <what> (0.42s)` when the block completes, ` ✗ <what>` when it raises."""

    def __init__(self, echo: Echo, what: str) -> None:
        self.echo, self.what = echo, what

    def __enter__(self) -> Step:
        self.start = time.monotonic()
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        mark = "✗" if kind else "✓"
        self.echo(f" {mark} {self.what} ({time.monotonic() - self.start:.2f}s)")


async def up(spec: ClusterSpec, echo: Echo = print, verbosity: int = 2, retain: bool = False) -> Cluster:
    """Create the cluster `spec` describes; on any failure, remove it again (unless `retain`) and raise."""
    _check_host()
    _check_published_ports(spec)
    cluster = Cluster(spec)
    if cluster.paths.dir.exists() or netlink.exists(cluster.paths.underlay_netns):
        raise ClusterExists(f'cluster "{spec.name}" already exists: `kinn down --name {spec.name}` removes it')
    echo(f'Creating cluster "{spec.name}" ...')
    started = time.monotonic()
    try:
        await _create(cluster, echo, verbosity)
    except BaseException:
        if retain:
            echo(f" ✗ kept for debugging (--retain): logs in {cluster.paths.dir}; `kinn down --name {spec.name}`")
        else:
            echo(" ✗ removing what was created")
            down.down(spec.name)
        raise
    echo(f'Cluster "{spec.name}" is ready in {time.monotonic() - started:.1f}s. Set kubectl context to '
         f'"{cluster.paths.context}".\n{next_steps(spec)}')
    return cluster


def next_steps(spec: ClusterSpec) -> str:
    """What to try first, each command naming the cluster: without --name, `kinn node exec` looks for
    the cluster "kinn" (or $KINN_CLUSTER_NAME), not the one just created."""
    return (f"Try:\n  kubectl get nodes -o wide\n"
            f"  kinn node exec --name {spec.name} {spec.nodes[-1].name} -- ip route\n  kinn down --name {spec.name}")


def _check_host() -> None:
    """What a cluster needs from this machine, said up front rather than as a failure half-way."""
    if os.geteuid() != 0:
        raise UpError("kinn up needs root: nodes and pods are network, mount and UTS namespaces (try sudo)")
    if not (cgroup_root().parent / "cgroup.procs").exists():
        raise UpError("kinn up needs a cgroup2 hierarchy (at /sys/fs/cgroup or /sys/fs/cgroup/unified): it is how "
                      "kinn down finds every process of a cluster")


async def _create(cluster: Cluster, echo: Echo, verbosity: int) -> None:
    spec, paths = cluster.spec, cluster.paths
    cluster.save()
    cgroups.create(paths.cgroup)
    cgroups.create_v1(spec.name, paths.v1_cgroups)
    net = spec.networking
    with Step(echo, f"Underlay network {paths.underlay_netns}: bridge {UNDERLAY_BRIDGE} {net.gateway}/"
                    f"{net.node_subnet.prefixlen}"):
        await asyncio.to_thread(_create_underlay, paths, spec)
    with Step(echo, "Nodes " + ", ".join(f"{node.name} ({node.spec.ip})" for node in cluster.nodes)):
        for node in cluster.nodes:
            await asyncio.to_thread(create_netns, node, net, paths.underlay_netns)
            start_holder(node)
    port = _host_port({mapping.host_port for mapping in spec.publish})
    pki = ensure_pki(paths.server_dir / "pki", ["127.0.0.1", spec.control_plane.ip])
    admin = files.admin_kubeconfig(paths, pki, f"https://127.0.0.1:{port}")
    for node in cluster.nodes:
        files.write_node_files(node, net, pki, f"https://{spec.control_plane.ip}:{API_PORT}")
    async with Client.from_kubeconfig(str(paths.kubeconfig), "kinn-up") as client:
        with Step(echo, f"Control plane: kinn server on https://127.0.0.1:{port} and "
                        f"https://{spec.control_plane.ip}:{API_PORT}; "
                        "node agents (kubelet, kube-proxy, flanneld, speaker"
                        f"{', network policy' if spec.networking.network_policy else ''})"):
            # The agents start with the server, as kubelets retry until their API server answers; unless
            # some nodes have their own podCIDR: those Nodes must exist before any kubelet registers one.
            server = _start_server(cluster, port, verbosity)
            preassigned = preassigned_nodes(spec)
            if preassigned:
                await _wait_for_api(client, paths, server)
                for node_object in preassigned:
                    await client.create(NODES, node_object)
            agents = _start_agents(cluster, verbosity)
            await _wait_for_api(client, paths, server)
        # The ingress add-on needs no node to be created: its objects go in while the nodes start.
        ingress = asyncio.ensure_future(addons.apply(client, addons.ingress(spec)))
        try:
            with Step(echo, f"Nodes Ready ({len(spec.nodes)})"):
                await _wait_for_nodes(client, cluster, {paths.server_log: server, **agents})
            if net.backend == "host-gw":
                with Step(echo, f"Underlay routes to the pod subnets (host-gw) in {paths.underlay_netns}"):
                    await _route_pod_subnets(client, cluster)
            with Step(echo, f"Add-ons: DNS (Deployment kube-system/kube-dns, Service kube-dns {net.cluster_dns}:53), "
                            "answering on every node"):
                await addons.apply(client, addons.dns(spec))
                await _wait("cluster DNS answering on every node", lambda: _dns_answers(cluster),
                            {paths.server_log: server, **agents})
            with Step(echo, f"Add-ons: ingress-nginx (Deployment {addons.INGRESS_NAMESPACE}/"
                            f"{addons.INGRESS_CONTROLLER}, LoadBalancer Service {addons.INGRESS_CONTROLLER} "
                            f"{addons.ingress_address(spec)}:80,443, IngressClass {addons.INGRESS_CLASS})"):
                await ingress
        finally:
            ingress.cancel()  # only if a step before it failed
        if spec.publish:
            with Step(echo, "Published ports " + ", ".join(f"127.0.0.1:{m.host_port} → {m}" for m in spec.publish)):
                publisher = _start_publisher(cluster, verbosity)
                await _wait("published ports listening", lambda: _listening(spec), {paths.publish_log: publisher})
    merge_kubeconfig(user_kubeconfig_path(), admin)


def _create_underlay(paths: ClusterPaths, spec: ClusterSpec) -> None:
    """The "physical" network: one bridge, the nodes' gateway address, no route out of it."""
    netlink.create(paths.underlay_netns)
    with netlink.iproute(paths.underlay_netns) as ipr:
        netlink.set_up(ipr, "lo")
        netlink.add_bridge(ipr, UNDERLAY_BRIDGE)
        netlink.add_address(ipr, UNDERLAY_BRIDGE, f"{spec.networking.gateway}/{spec.networking.node_subnet.prefixlen}")
        netlink.set_up(ipr, UNDERLAY_BRIDGE)
    netlink.enable_ip_forward(paths.underlay_netns)


def _kinn(*args: str) -> list[str]:
    return [sys.executable, "-m", "kinn", *args]


def _spawn(argv: list[str], log: Path, preexec: Callable[[], None]) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=preexec)


def _start_server(cluster: Cluster, port: int, verbosity: int) -> subprocess.Popen[bytes]:
    spec, paths = cluster.spec, cluster.paths
    net = spec.networking
    control_plane = cluster.node(spec.control_plane.name)
    argv = _kinn("server", "--data-dir", str(paths.server_dir), "--secure-port", str(port),
                 "--advertise-address", spec.control_plane.ip, "--cluster-netns", control_plane.paths.netns,
                 "--service-cluster-ip-range", str(net.service_subnet), "--cluster-cidr", str(net.pod_subnet),
                 "--allocate-node-cidrs", "--load-balancer-pool", str(net.load_balancer_pool), "-v", str(verbosity))
    cgroup = cgroups.create(paths.cgroup / "server")
    return _spawn(argv, paths.server_log, lambda: cgroups.join(cgroup))


def _start_agents(cluster: Cluster, verbosity: int) -> dict[Path, ForkedAgent]:
    """Every node's `kinn agent`, forked from one interpreter so that they share its imports."""
    spec = cluster.spec
    launches = []
    for node in cluster.nodes:
        args = ["--kubeconfig", files.NODE_KUBECONFIG, "--hostname-override", node.name, "--node-ip", node.spec.ip,
                "--cluster-dns", spec.networking.cluster_dns, "--proxy-mode", spec.networking.kube_proxy_mode,
                "--cluster-cidr", str(spec.networking.pod_subnet), "--iptables-min-sync-period", PROXY_MIN_SYNC_PERIOD,
                "--cgroup-root", "/", "-v", str(verbosity)]
        if spec.networking.ip_masq:
            args.append("--ip-masq")
        if not spec.networking.network_policy:
            args.append("--no-network-policy")
        args += registration(spec, node.spec).kubelet_flags()
        node.paths.agent_log.parent.mkdir(parents=True, exist_ok=True)
        launches.append(AgentLaunch(args, str(node.paths.agent_log), node.running_holder_pid(),
                                    [str(cgroup) for cgroup in node_cgroups(node, node.paths.cgroup / "agent")]))
    return {node.paths.agent_log: agent for node, agent in zip(cluster.nodes, launch(launches))}


def _start_publisher(cluster: Cluster, verbosity: int) -> subprocess.Popen[bytes]:
    """kind's extraPortMappings have docker-proxy; kinn's have `kinn publish`, in the cluster's cgroup."""
    paths = cluster.paths
    argv = _kinn("publish", "--name", cluster.name, *map(str, cluster.spec.publish), "-v", str(verbosity))
    cgroup = cgroups.create(paths.cgroup / "publish")
    return _spawn(argv, paths.publish_log, lambda: cgroups.join(cgroup))


async def _listening(spec: ClusterSpec) -> bool:
    """Every published port has a listener (read from /proc/net/tcp: a probe connection would be forwarded)."""
    table = Path("/proc/net/tcp").read_text().splitlines()[1:]
    listening = {int(local.split(":")[1], 16) for local, state in (line.split()[1:4:2] for line in table)
                 if state == "0A" and local.startswith("0100007F:")}
    return all(mapping.host_port in listening for mapping in spec.publish)


async def _wait(what: str, check: Callable[[], Awaitable[bool]], processes: dict[Path, Process],
                timeout: float = READY_TIMEOUT) -> None:
    """Poll `check` until true; fail at once, with the log's tail, if a process it depends on exits."""
    deadline = time.monotonic() + timeout
    while True:
        for log, process in processes.items():
            if process.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise UpError(f"{what}: {process.args[3]} exited with code {process.returncode}; "
                              f"the end of {log}:\n{tail}")
        try:
            if await check():
                return
        except (OSError, StatusError):
            pass
        if time.monotonic() > deadline:
            raise UpError(f"{what} not reached within {timeout:.0f}s; see the logs: {', '.join(map(str, processes))}")
        await asyncio.sleep(0.05)


async def _wait_for_api(client: Client, paths: ClusterPaths, server: subprocess.Popen[bytes]) -> None:
    async def ready() -> bool:
        return bool(await client.get(NAMESPACES, "default"))
    await _wait("API server ready", ready, {paths.server_log: server})


async def _wait_for_nodes(client: Client, cluster: Cluster, agents: dict[Path, Process]) -> None:
    """All nodes Ready and each node's flannel lease written (pods can start at once)."""
    async def ready() -> bool:
        nodes = (await client.list(NODES))["items"]
        leases = all(node.paths.path("/run/flannel/subnet.env").exists() for node in cluster.nodes)
        return len(nodes) == len(cluster.nodes) and all(ready_status(node) == "True" for node in nodes) and leases
    await _wait("all nodes Ready", ready, agents)


async def _dns_answers(cluster: Cluster) -> bool:
    """Each node gets an answer from the cluster DNS Service: its pod is Ready and every node's
    kube-proxy sends the Service's address to it. Until then a pod's first lookup is refused."""
    for node in cluster.nodes:
        if not await asyncio.to_thread(netlink.netns.run_in, node.paths.netns, _resolves_kubernetes,
                                       cluster.spec.networking.cluster_dns):
            return False
    return True


def _resolves_kubernetes(server: str) -> bool:
    """One UDP query for the `kubernetes` Service's A record, with a short wait for the answer."""
    query = DNSRecord.question(f"kubernetes.default.svc.{addons.CLUSTER_DOMAIN}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(query.pack(), (server, 53))
        reply = DNSRecord.parse(sock.recv(512))
    return reply.header.id == query.header.id and bool(reply.rr)


async def _route_pod_subnets(client: Client, cluster: Cluster) -> None:
    """host-gw: the underlay's router learns each node's pod subnet, as seed 003's VPC route table does."""
    by_name = {node["metadata"]["name"]: node for node in (await client.list(NODES))["items"]}
    routes = [(by_name[node.name]["spec"]["podCIDR"], node.spec.ip) for node in cluster.nodes]
    await asyncio.to_thread(_add_routes, cluster.paths.underlay_netns, routes)


def _add_routes(netns: str, routes: list[tuple[str, str]]) -> None:
    with netlink.iproute(netns) as ipr:
        for subnet, via in routes:
            netlink.replace_route(ipr, subnet, via=via)
