"""kube-proxy's nftables mode in a real cluster: `kinn up --proxy-mode nftables`, nginx behind a
ClusterIP and a NodePort Service, busybox clients on both workers.

Checked as a user would: HTTP through the ClusterIP from pods, the NodePort through a node's IP from
another node, `nft list table ip kube-proxy` inside a node, a Service without endpoints refused (not
timed out), and the time from an EndpointSlice change to the node's table when scaling to zero and back.
The proxier's recovery when its table is deleted is checked on its own, in a scratch namespace.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import subprocess
import time
import uuid
from typing import Callable, Iterator

import kubernetes
import pytest

from kinn import netlink
from kinn.cluster.paths import ClusterPaths
from kinn.proxy.changes import ProxyState
from kinn.proxy.nftables.nfnetlink import Connection
from kinn.proxy.nftables.proxier import NftablesProxier, NftError
from kinn.proxy.nftables.rules import hash_and_truncate
from kinn.proxy.node import NodeContext
from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

WORKERS = {"worker-1": "10.240.0.21", "worker-2": "10.240.0.22"}
WELCOME = "Welcome to nginx!"
# The rules follow an EndpointSlice change within --iptables-min-sync-period (1 s) plus one sync.
RULES_LAG = 1.5

WEB = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
       "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"terminationGracePeriodSeconds": 1,
                                      "containers": [{"name": "nginx", "image": "nginx"}]}}}}


def service(name: str, app: str, type: str = "ClusterIP") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type, "selector": {"app": app}, "ports": [{"port": 80, "protocol": "TCP"}]}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    c = KinnCluster(f"kn{uuid.uuid4().hex[:6]}", home, home / "kubeconfig")
    with kinn_up(c, "--workers", "2", "--proxy-mode", "nftables"):
        for obj in (WEB, service("web", "web"), service("web-np", "web", "NodePort")):
            c.kubectl("apply", "-f", "-", input=json.dumps(obj))
        for node in WORKERS:
            c.run_pod(f"client-{node}", node, "sleep", "3600", image="busybox")
        wait_until(lambda: len(usable_endpoints(c, "web")) == 3, timeout=60, what="3 endpoints of web")
        yield c


def discovery(cluster: KinnCluster) -> kubernetes.client.DiscoveryV1Api:
    return kubernetes.client.DiscoveryV1Api(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))


def usable_endpoints(cluster: KinnCluster, service_name: str,
                     api: kubernetes.client.DiscoveryV1Api | None = None) -> list[str]:
    """Addresses kube-proxy may send to: ready, or serving while terminating (the fallback)."""
    slices = (api or discovery(cluster)).list_namespaced_endpoint_slice(
        "default", label_selector=f"kubernetes.io/service-name={service_name}").items
    return [e.addresses[0] for s in slices for e in s.endpoints or () if e.conditions.ready or e.conditions.serving]


def spec(cluster: KinnCluster, name: str) -> dict:
    return json.loads(cluster.kubectl("get", "service", name, "-o", "json"))["spec"]


def nft(cluster: KinnCluster, node: str, *args: str) -> str:
    """nft run in the node's network namespace from here (quicker than `kinn node exec`, for polling)."""
    netns = ClusterPaths(cluster.name).node(node).netns
    return netlink.run_in(netns, lambda: subprocess.run(["nft", *args], capture_output=True, text=True).stdout)


def in_pod(cluster: KinnCluster, pod: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", "exec", pod, "--", *command], capture_output=True, text=True,
                          env=cluster.env, timeout=60)


def wget(cluster: KinnCluster, pod: str, url: str) -> str:
    """Debian's busybox wget crashes on -T, hence `timeout`."""
    return in_pod(cluster, pod, "timeout", "5", "wget", "-qO-", url).stdout


def test_cluster_ip_answers_pods_on_every_worker(cluster: KinnCluster) -> None:
    cluster_ip = spec(cluster, "web")["clusterIP"]
    for node in WORKERS:
        assert WELCOME in wait_until(lambda: wget(cluster, f"client-{node}", f"http://{cluster_ip}"), timeout=20,
                                     what=f"nginx through {cluster_ip} from {node}")


def test_node_table_holds_the_service_elements_and_chains(cluster: KinnCluster) -> None:
    cluster_ip, node_port = spec(cluster, "web")["clusterIP"], spec(cluster, "web-np")["ports"][0]["nodePort"]
    pods = sorted(usable_endpoints(cluster, "web"), key=socket.inet_aton)
    web, web_np = hash_and_truncate("default/web/tcp/"), hash_and_truncate("default/web-np/tcp/")
    table = cluster.node_exec("worker-1", "nft", "list", "table", "ip", "kube-proxy")
    assert f"{cluster_ip} . tcp . 80 : goto service-{web}" in table
    assert f"tcp . {node_port} : goto external-{web_np}" in table
    assert re.search(r"set nodeport-ips \{[^}]*elements = \{ 10\.240\.0\.21 \}", table)
    service_chain = re.search(rf"chain service-{re.escape(web)} {{\n(.*?)\n\t}}", table, re.S).group(1)
    assert f"ip daddr {cluster_ip} tcp dport 80 ip saddr != 10.244.0.0/16 jump mark-for-masquerade" in service_chain
    endpoints = [f"endpoint-{hash_and_truncate(f'default/web/tcp/__{ip}/80')}" for ip in pods]
    assert "numgen random mod 3 vmap { " + ", ".join(f"{i} : goto {c}" for i, c in enumerate(endpoints)) + " }" \
        in service_chain
    for chain, ip in zip(endpoints, pods):
        assert re.search(rf"chain {re.escape(chain)} {{\n\t\tip saddr {ip} jump mark-for-masquerade\n"
                         rf"\t\tmeta l4proto tcp dnat to {ip}:80\n", table)


def test_node_port_through_a_node_ip_from_another_node(cluster: KinnCluster) -> None:
    node_port = spec(cluster, "web-np")["ports"][0]["nodePort"]
    for client, target in (("control-plane", "worker-1"), ("worker-1", "worker-2")):
        page = cluster.node_exec(client, "timeout", "5", "/bin/busybox", "wget", "-qO-",
                                 f"http://{WORKERS[target]}:{node_port}")
        assert WELCOME in page, f"NodePort {node_port} of {target} from {client}"


def connect_seconds(netns: str, address: tuple[str, int]) -> tuple[str, float]:
    """How a TCP connect from `netns` ends, and when."""
    sock = netlink.socket_in(netns)
    sock.settimeout(5)
    start = time.monotonic()
    try:
        sock.connect(address)
        outcome = "connected"
    except OSError as exc:
        outcome = type(exc).__name__
    finally:
        sock.close()
    return outcome, time.monotonic() - start


def test_service_without_endpoints_is_refused_at_once(cluster: KinnCluster) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(service("nothing", "nothing")))
    cluster_ip = spec(cluster, "nothing")["clusterIP"]
    wait_until(lambda: "default/nothing" in nft(cluster, "worker-1", "list", "map", "ip", "kube-proxy",
                                                  "no-endpoint-services"), timeout=10, what="the no-endpoint element")
    outcome, seconds = connect_seconds(ClusterPaths(cluster.name).node("worker-1").netns, (cluster_ip, 80))
    assert outcome == "ConnectionRefusedError" and seconds < 0.5
    # From a pod the REJECT's ICMP comes back so fast that it finds the socket still locked by the
    # connect() that sent the SYN: Linux keeps it as a soft error and refuses on the retransmitted
    # SYN's ICMP one second later. Still a refusal, not a timeout (`timeout 5` would end it at 5 s).
    result = in_pod(cluster, "client-worker-2", "time", "timeout", "5", "wget", "-qO-", f"http://{cluster_ip}")
    assert "Connection refused" in result.stderr
    assert float(re.search(r"real\s+0m\s*([\d.]+)s", result.stderr).group(1)) < 2.0
    # Another port of a ClusterIP that has endpoints: cluster-ips-check rejects it.
    web_ip = spec(cluster, "web")["clusterIP"]
    assert connect_seconds(ClusterPaths(cluster.name).node("worker-1").netns, (web_ip, 81))[0] == "ConnectionRefusedError"


def rules_lag(cluster: KinnCluster, replicas: int, api_done: Callable[[list[str]], bool],
              rules_done: Callable[[str], bool]) -> float:
    """Scale web and return how long worker-1's table took to follow its EndpointSlice."""
    api, netns_elements = discovery(cluster), ("list", "map", "ip", "kube-proxy")
    cluster.kubectl("scale", "deployment", "web", f"--replicas={replicas}")
    api_at = rules_at = None
    deadline = time.monotonic() + 60
    while (api_at is None or rules_at is None) and time.monotonic() < deadline:
        if api_at is None and api_done(usable_endpoints(cluster, "web", api)):
            api_at = time.monotonic()
        maps = nft(cluster, "worker-1", *netns_elements, "service-ips") + \
            nft(cluster, "worker-1", *netns_elements, "no-endpoint-services")
        if rules_at is None and rules_done(maps):
            rules_at = time.monotonic()
    assert api_at is not None and rules_at is not None, f"scaling web to {replicas} did not reach the rules"
    return rules_at - api_at


def test_scale_to_zero_and_back_reaches_the_rules_within_a_second(cluster: KinnCluster) -> None:
    cluster_ip = spec(cluster, "web")["clusterIP"]
    old_pods = usable_endpoints(cluster, "web")
    rejected = f"{cluster_ip} . tcp . 80 comment \"default/web\" : goto reject-chain"
    to_zero = rules_lag(cluster, 0, lambda eps: not eps, lambda maps: rejected in maps)
    served = f"{cluster_ip} . tcp . 80 : goto service-"
    back = rules_lag(cluster, 3, lambda eps: bool(eps), lambda maps: served in maps and rejected not in maps)
    assert to_zero < RULES_LAG and back < RULES_LAG, f"to zero {to_zero:.2f} s, back {back:.2f} s"
    assert WELCOME in wait_until(lambda: wget(cluster, "client-worker-1", f"http://{cluster_ip}"), timeout=20,
                                 what="nginx again")
    table = nft(cluster, "worker-1", "list", "table", "ip", "kube-proxy")
    assert not [ip for ip in old_pods if f"dnat to {ip}:80" in table]  # the old endpoints' chains are flushed


def test_a_deleted_table_is_noticed_and_rebuilt() -> None:
    """`nft flush ruleset` or a deleted table: the canary check sees it and the next sync is a full
    one; a partial sync that runs first fails on the missing maps and arms a full sync too."""
    netns = f"kinn-nfttest-{uuid.uuid4().hex[:6]}"
    netlink.netns.create(netns)
    try:
        netlink.netns.run_in(netns, _rebuild_after_deletion)
    finally:
        netlink.netns.delete(netns)


def _rebuild_after_deletion() -> None:
    state, proxier = ProxyState("node"), NftablesProxier(NodeContext("10.240.0.21", cluster_cidr="10.244.0.0/16"))
    state.service_updated({"metadata": {"namespace": "default", "name": "web"},
                           "spec": {"clusterIP": "10.96.0.80", "ports": [{"port": 80, "protocol": "TCP"}]}})
    proxier.setup()
    proxier.sync(state.snapshot(), state.take_changes())
    assert proxier.canaries_present()
    subprocess.run(["nft", "delete", "table", "ip", "kube-proxy"], check=True)
    assert not proxier.canaries_present()
    state.service_deleted({"metadata": {"namespace": "default", "name": "web"}})
    with pytest.raises(NftError):
        proxier.sync(state.snapshot(), state.take_changes())
    proxier.sync(state.snapshot(), state.take_changes())
    assert proxier.canaries_present()
    assert "10.96.0.80" not in subprocess.run(["nft", "list", "table", "ip", "kube-proxy"], capture_output=True,
                                              text=True, check=True).stdout


def test_a_sync_that_could_not_reach_the_kernel_is_followed_by_a_full_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A partial sync records its changes as applied before it is committed; if its netlink batch then
    cannot even be sent (an OSError, not the kernel's refusal), the changes the server requeues must
    still reach the kernel — through the full sync that follows, which libnftables applies."""
    netns = f"kinn-nfttest-{uuid.uuid4().hex[:6]}"
    netlink.netns.create(netns)
    try:
        netlink.netns.run_in(netns, _resync_after_unsendable_batch, monkeypatch)
    finally:
        netlink.netns.delete(netns)


def _resync_after_unsendable_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    state, proxier = ProxyState("node"), NftablesProxier(NodeContext("10.240.0.21", cluster_cidr="10.244.0.0/16"))
    state.service_updated({"metadata": {"namespace": "default", "name": "web"},
                           "spec": {"clusterIP": "10.96.0.80", "ports": [{"port": 80, "protocol": "TCP"}]}})
    proxier.setup()
    proxier.sync(state.snapshot(), state.take_changes())
    state.service_deleted({"metadata": {"namespace": "default", "name": "web"}})
    changes = state.take_changes()
    def unsendable(self: Connection, batch: object) -> None:
        raise OSError(errno.ENOBUFS, "No buffer space available")

    with monkeypatch.context() as patch:
        patch.setattr(Connection, "commit", unsendable)
        with pytest.raises(OSError):
            proxier.sync(state.snapshot(), changes)
    state.requeue(changes)  # as the proxy server does after a failed sync
    proxier.sync(state.snapshot(), state.take_changes())
    assert "10.96.0.80" not in subprocess.run(["nft", "list", "table", "ip", "kube-proxy"], capture_output=True,
                                              text=True, check=True).stdout
