"""`kinn up` / `kinn down` end to end: a real 3-node cluster of namespaces, real pods, real packets.

One cluster (control-plane + 2 workers, VXLAN) serves the module; it is checked the way seeds 002
and 003 look at a cluster: from kubectl, from inside the nodes (`kinn node exec`) and from the
packets' point of view. `kinn down` is then asserted on the host: nothing of the cluster is left.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from kinn import netlink
from kinn.cluster.cgroups import find_v1
from kinn.cluster.paths import ClusterPaths
from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

# Answers each connection with the address it came from: the receiver's view of the sender.
PEER_ECHO = textwrap.dedent("""
    import socket
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("", 8080))
    server.listen()
    while True:
        conn, peer = server.accept()
        conn.sendall(peer[0].encode())
        conn.close()
""")


def cluster_traces(name: str) -> dict[str, object]:
    """Everything of cluster `name` visible on the host (what `kinn down` must remove)."""
    cgroup = Path("/sys/fs/cgroup/unified/kinn") / name
    return {"netns": [ns for ns in netlink.list_names() if ns.startswith(f"kinn-{name}-")],
            "cgroup": cgroup.exists(), "v1 cgroups": find_v1(name),
            "mounts": [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if f"kinn-{name}-" in line]}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    kubeconfig = home / "kube" / "config"
    kubeconfig.parent.mkdir()
    # A user's existing kubeconfig: `kinn up` must merge into it and `kinn down` must keep the rest.
    kubeconfig.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "mine",
                                          "clusters": [{"name": "mine", "cluster": {"server": "https://127.0.0.1:1"}}],
                                          "users": [{"name": "mine", "user": {"token": "t"}}],
                                          "contexts": [{"name": "mine", "context": {"cluster": "mine", "user": "mine"}}]}))
    c = KinnCluster(f"kt{uuid.uuid4().hex[:6]}", home, kubeconfig)
    with kinn_up(c, "--workers", "2"):
        yield c


def peer_seen_by(cluster: KinnCluster, client: dict, server_ip: str) -> str:
    """The address the PEER_ECHO server at `server_ip` saw `client`'s connection come from."""
    script = f"import socket; s = socket.create_connection(('{server_ip}', 8080), 5); print(s.recv(64).decode())"
    return wait_until(lambda: cluster.kubectl("exec", client["metadata"]["name"], "--", "python3", "-c", script).strip(),
                      timeout=20, what="an answer from the echo server")


def test_a_pod_started_as_soon_as_up_returns_resolves_names(cluster: KinnCluster) -> None:
    """First in the module, so it runs right after `kinn up`: the DNS add-on already answers on
    every node (before, such a pod's lookup was refused: kube-dns had no ready endpoint yet)."""
    for node in ("worker-1", "worker-2"):
        overrides = json.dumps({"spec": {"nodeName": node}})
        out = cluster.kubectl("run", f"first-lookup-{node}", "--image=python", "--restart=Never", "--rm", "-i",
                              f"--overrides={overrides}", "--", "getent", "hosts", "kubernetes.default")
        assert out.split()[:2] == ["10.96.0.1", "kubernetes.default.svc.cluster.local"], out


def test_nodes_ready_with_roles_and_context(cluster: KinnCluster) -> None:
    nodes = {n["metadata"]["name"]: n for n in json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]}
    assert sorted(nodes) == ["control-plane", "worker-1", "worker-2"]
    assert [a["address"] for a in nodes["worker-1"]["status"]["addresses"] if a["type"] == "InternalIP"] == \
        ["10.240.0.21"]
    assert nodes["control-plane"]["spec"]["taints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    assert config["current-context"] == f"kinn-{cluster.name}"
    assert {ctx["name"] for ctx in config["contexts"]} == {"mine", f"kinn-{cluster.name}"}
    assert cluster.name in cluster.kinn("get", "clusters").stdout.split()
    # From another $KINN_HOME it is not one of "your" clusters, but it is named: `down --all` would remove it.
    elsewhere = subprocess.run([sys.executable, "-m", "kinn", "get", "clusters"], capture_output=True, text=True,
                               env={**cluster.env, "KINN_HOME": str(cluster.home / "another-home")}, check=True)
    assert cluster.name not in elsewhere.stdout.split() and "No kinn clusters found" not in elsewhere.stdout
    assert f"with no state in {cluster.home / 'another-home'}" in elsewhere.stderr and cluster.name in elsewhere.stderr


def test_node_is_a_node_from_inside(cluster: KinnCluster) -> None:
    """What seed 002 shows on a flannel node: routes via flannel.1 onlink, subnet.env, VXLAN device, FDB."""
    assert cluster.node_exec("worker-1", "hostname").strip() == "worker-1"
    routes = cluster.node_exec("worker-1", "ip", "route")
    assert "default via 10.240.0.1 dev eth0" in routes
    pod_cidrs = {n["metadata"]["name"]: n["spec"]["podCIDR"]
                 for n in json.loads(cluster.kubectl("get", "nodes", "-o", "json"))["items"]}
    for other in ("control-plane", "worker-2"):
        network = pod_cidrs[other].split("/")[0]
        assert f"{pod_cidrs[other]} via {network} dev flannel.1 onlink" in routes
    subnet_env = cluster.node_exec("worker-1", "cat", "/run/flannel/subnet.env")
    own = pod_cidrs["worker-1"].rsplit(".", 1)[0]
    assert f"FLANNEL_SUBNET={own}.1/24" in subnet_env and "FLANNEL_NETWORK=10.244.0.0/16" in subnet_env
    link = cluster.node_exec("worker-1", "ip", "-d", "link", "show", "flannel.1")
    assert "vxlan id 1 local 10.240.0.21 dev eth0" in link and "dstport 8472 nolearning" in link
    fdb = cluster.node_exec("worker-1", "bridge", "fdb", "show", "dev", "flannel.1")
    assert "dst 10.240.0.10 self permanent" in fdb and "dst 10.240.0.22 self permanent" in fdb
    links = cluster.node_exec("worker-1", "ls", "/sys/class/net").split()
    pods = [link for link in links if link == "cni0" or link.startswith("veth")]  # e.g. the ingress controller's
    assert sorted(set(links) - set(pods)) == ["eth0", "flannel.1", "lo"], links
    assert "kinn-" not in cluster.node_exec("worker-1", "ip", "netns", "list")  # the host's names stay outside


def test_node_exec_of_what_cannot_run_says_why(cluster: KinnCluster) -> None:
    """A directory (or any file exec refuses) was a Python traceback, a missing command an error; each exits
    with a shell's status (126 cannot run, 127 not found), which scripts test for."""
    for command, reason, status in (("/etc", "permission denied", 126), ("nosuch", "command not found", 127)):
        result = cluster.kinn("node", "exec", "--name", cluster.name, "worker-1", "--", command, check=False)
        assert (result.returncode, result.stderr) == (status, f"Error: {command}: {reason} on node worker-1\n")


def test_seed_003_node_checks_ping_and_brctl(cluster: KinnCluster) -> None:
    """Seed 003 checks the nodes reach each other with ping, and lists the pods' bridge with brctl."""
    assert " 0% packet loss" in cluster.node_exec("worker-1", "ping", "-c", "1", "-W", "5", "10.240.0.22")
    def node_with_a_pod() -> str | None:  # the add-ons' pods (DNS, ingress) are there from the start
        pods = json.loads(cluster.kubectl("get", "pods", "-A", "-o", "json"))["items"]
        return next((pod["spec"]["nodeName"] for pod in pods
                     if pod["status"].get("phase") == "Running" and not pod["spec"].get("hostNetwork")), None)

    node = str(wait_until(node_with_a_pod, timeout=60, what="a pod running on the pod network"))
    bridges = cluster.node_exec(node, "brctl", "show", "cni0").splitlines()
    assert bridges[0].split() == ["bridge", "name", "bridge", "id", "STP", "enabled", "interfaces"], bridges
    assert bridges[1].split()[0] == "cni0" and any(line.split()[-1].startswith("veth") for line in bridges[1:]), bridges


def agent_process(cluster: KinnCluster, node: str) -> tuple[str, str]:
    """(pid, command line) of the node's agent: of the processes in its agent cgroup titled `kinn
    agent`, the one whose parent is not one of them. A child the agent has just forked (a container
    on its way to exec) carries the agent's title for a moment; helpers may come and go meanwhile."""
    procs = (ClusterPaths(cluster.name).node(node).cgroup / "agent" / "cgroup.procs").read_text().split()
    agents: dict[str, tuple[str, str]] = {}  # pid → (command line, parent pid)
    for pid in procs:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_text()
            parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if " kinn agent " in argv:
            agents[pid] = (argv, parent)
    [(pid, argv)] = [(pid, argv) for pid, (argv, parent) in agents.items() if parent not in agents]
    return pid, argv


def test_each_node_agent_runs_inside_its_node_sharing_the_forked_imports(cluster: KinnCluster) -> None:
    """The agents are forked from one interpreter (kinn.cluster.forkserver): each is still one process
    per node, titled with its own command line and named as its program, in its node's namespaces and agent cgroup, and most
    of its anonymous memory (the imports) is shared with the other agents instead of private."""
    for node in ("control-plane", "worker-1", "worker-2"):
        pid, argv = agent_process(cluster, node)
        assert argv.startswith(f"{sys.executable} -m kinn agent ") and f"--hostname-override {node} " in argv
        assert Path(f"/proc/{pid}/comm").read_text().strip() == Path(sys.executable).name  # as ps and ss name it
        kinds = ("net", "mnt", "uts")
        inside = cluster.node_exec(node, "readlink", *(f"/proc/self/ns/{kind}" for kind in kinds)).split()
        assert [os.readlink(f"/proc/{pid}/ns/{kind}") for kind in kinds] == inside
        rollup = dict(line.split(":")[0:2] for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
        anonymous, proportional = (int(rollup[field].split()[0]) for field in ("Anonymous", "Pss_Anon"))
        assert proportional < 0.8 * anonymous, f"{node}'s agent: Pss_Anon {proportional} kB of {anonymous} kB"


def test_pods_talk_across_nodes_without_nat(cluster: KinnCluster) -> None:
    """pod→pod on the same node and across the overlay: the receiver sees the sender's pod IP, and
    the nodes' conntrack tables show the flow pod IP to pod IP (seed 002/003)."""
    server = cluster.run_pod("echo-server", "worker-2", "python3", "-c", PEER_ECHO)
    remote = cluster.run_pod("client-remote", "worker-1", "sleep", "3600", image="busybox")
    local = cluster.run_pod("client-local", "worker-2", "sleep", "3600", image="busybox")
    server_ip = server["status"]["podIP"]
    for client in (remote, local):
        assert peer_seen_by(cluster, client, server_ip) == client["status"]["podIP"]
    flows = cluster.node_exec("worker-1", "conntrack", "-L", "-p", "tcp", "--dport", "8080")
    assert f"src={remote['status']['podIP']} dst={server_ip}" in flows
    assert f"src={server_ip} dst={remote['status']['podIP']}" in flows  # the reply, un-NATed


def test_ip_masq_snats_only_traffic_leaving_the_pod_network(cluster: KinnCluster) -> None:
    """flanneld --ip-masq (kube-flannel's default): pod → a non-pod address leaves with the node's IP."""
    client = cluster.pod("client-remote") if _exists(cluster, "client-remote") else \
        cluster.run_pod("client-remote", "worker-1", "sleep", "3600", image="busybox")
    cluster.kubectl("exec", "client-remote", "--", "ping", "-c", "1", "-W", "2", "10.240.0.1")
    flows = cluster.node_exec("worker-1", "conntrack", "-L", "-p", "icmp", "-d", "10.240.0.1")
    assert f"src={client['status']['podIP']} dst=10.240.0.1" in flows
    assert "src=10.240.0.1 dst=10.240.0.21" in flows  # the reply goes to the node: SNAT


def test_deployment_runs_on_both_workers(cluster: KinnCluster) -> None:
    cluster.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=4")
    def running() -> list[dict]:
        pods = json.loads(cluster.kubectl("get", "pods", "-l", "app=web", "-o", "json"))["items"]
        return pods if len(pods) == 4 and all(p["status"].get("phase") == "Running" for p in pods) else []
    pods = wait_until(running, timeout=90, what="4 nginx pods Running")
    assert {p["spec"]["nodeName"] for p in pods} == {"worker-1", "worker-2"}  # the control plane is tainted


def _exists(cluster: KinnCluster, pod: str) -> bool:
    return "client-remote" in cluster.kubectl("get", "pods", "-o", "name")


def test_down_leaves_nothing(tmp_path: Path) -> None:
    """A separate one-worker cluster with the host-gw backend: pod→pod across the nodes' routes without
    NAT, the underlay router has the pod routes; then `kinn down`: no namespace, cgroup, mount, state
    or kubeconfig entry remains."""
    config = tmp_path / "cluster.yaml"
    config.write_text(yaml.safe_dump({"kind": "Cluster", "apiVersion": "kinn.dev/v1alpha1",
                                      "networking": {"backend": "host-gw", "podSubnet": "10.200.0.0/16"},
                                      "nodes": [{"role": "control-plane"}, {"role": "worker"}]}))
    c = KinnCluster(f"kd{uuid.uuid4().hex[:6]}", tmp_path / "home", tmp_path / "kubeconfig")
    try:
        c.kinn("up", "--name", c.name, "--config", str(config))
        underlay = subprocess.run(["ip", "-n", f"kinn-{c.name}-net", "route"], capture_output=True, text=True).stdout
        assert "10.200." in underlay and "via 10.240.0.21 dev kinn0" in underlay
        worker_routes = c.node_exec("worker-1", "ip", "route")
        assert "via 10.240.0.10 dev eth0" in worker_routes and "flannel.1" not in worker_routes
        # Across host-gw routes too, the receiver sees the sender's pod IP (pods pinned by nodeName).
        server = c.run_pod("echo-server", "control-plane", "python3", "-c", PEER_ECHO)
        client = c.run_pod("client", "worker-1", "sleep", "3600", image="busybox")
        assert peer_seen_by(c, client, server["status"]["podIP"]) == client["status"]["podIP"]
    finally:
        down = c.kinn("down", "--name", c.name, check=False)
    assert down.returncode == 0, down.stderr
    assert cluster_traces(c.name) == {"netns": [], "cgroup": False, "v1 cgroups": [], "mounts": []}
    assert not (c.home / "clusters" / c.name).exists()
    assert f"kinn-{c.name}" not in c.kubeconfig.read_text()
    assert c.kinn("down", "--name", c.name).stdout.startswith(f'No cluster "{c.name}"')  # repeatable


def lose_state(state: Path) -> None:
    """Remove a running cluster's state dir, as a crash that lost it would. Its processes still write
    there (a CNI ADD for an add-on pod creates files under var/lib/cni), so rmtree can meet a directory
    that filled up after it was emptied: it is tried again until nothing is left."""
    for _ in range(50):
        shutil.rmtree(state, ignore_errors=True)
        if not state.exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{state} kept being written to")


def test_down_finds_a_cluster_whose_state_is_gone(tmp_path: Path) -> None:
    """After a crash that lost the state dir, the cluster's namespaces and processes are still found
    by name (what `kinn down --all` lists) and `kinn down --name` removes them."""
    c = KinnCluster(f"kl{uuid.uuid4().hex[:6]}", tmp_path / "home", tmp_path / "kubeconfig")
    try:
        c.kinn("up", "--name", c.name, "--workers", "1")
        lose_state(c.home / "clusters" / c.name)
        listed = subprocess.run([sys.executable, "-c", "from kinn.cluster.down import leftover_names; "
                                 "print(' '.join(leftover_names()))"], env=c.env, capture_output=True, text=True)
        assert c.name in listed.stdout.split()
    finally:
        down = c.kinn("down", "--name", c.name, check=False)
    assert down.returncode == 0, down.stderr
    assert cluster_traces(c.name) == {"netns": [], "cgroup": False, "v1 cgroups": [], "mounts": []}


def test_seed_003_pause_owns_the_pod_netns(cluster: KinnCluster) -> None:
    """Seed 003's look at a pod from its node: `ip netns` lists cni-…, the one whose eth0 holds the pod's
    IP is, per `lsns -t net`, owned by /pause. Only the pod's own netns is judged: pods of earlier tests
    may still be terminating, and a netns whose pause has already gone has no owner to show."""
    pod = cluster.run_pod("netns-lab", "worker-1", "sleep", "3600", image="busybox")
    netns_names = [line.split()[0] for line in cluster.node_exec("worker-1", "ip", "netns", "list").splitlines()
                   if line.startswith("cni-")]
    own = [name for name in netns_names if pod["status"]["podIP"] in cluster.node_exec(
        "worker-1", "ip", "-n", name, "-4", "-br", "addr", "show", "eth0")]
    assert len(own) == 1, f"no single cni- netns holds {pod['status']['podIP']}: {netns_names}"
    lsns = json.loads(cluster.node_exec("worker-1", "lsns", "-J", "-t", "net", "-o", "PID,NSFS,COMMAND"))
    owners = {ns["nsfs"]: ns["command"] for ns in lsns["namespaces"]}
    assert owners.get(f"/run/netns/{own[0]}") == "/pause", lsns


def test_seed_004_pod_eth0_pairs_with_a_node_veth_on_cni0(cluster: KinnCluster) -> None:
    """Seed 004: eth0@ifN in the pod is the peer of link N on the node, a vethXXXXXXXX enslaved to cni0;
    host-local's file for the pod IP names the sandbox."""
    pod = cluster.run_pod("veth-lab", "worker-2", "sleep", "3600", image="busybox")
    inside = cluster.kubectl("exec", "veth-lab", "--", "ip", "-o", "link", "show", "eth0")
    match = re.match(r"(\d+): eth0@if(\d+):", inside)
    assert match, inside
    peer = cluster.node_exec("worker-2", "ip", "-o", "link", "show")
    line = next(row for row in peer.splitlines() if row.startswith(f"{match.group(2)}: "))
    assert re.match(rf"{match.group(2)}: veth[0-9a-f]{{8}}@if{match.group(1)}: .* master cni0 ", line), line
    # The seed's other way: the pod's own /sys (the pod's netns) names the same peer; lo is up.
    assert cluster.kubectl("exec", "veth-lab", "--", "cat", "/sys/class/net/eth0/iflink").strip() == match.group(2)
    assert sorted(cluster.kubectl("exec", "veth-lab", "--", "ls", "/sys/class/net").split()) == ["eth0", "lo"]
    assert "UP" in cluster.kubectl("exec", "veth-lab", "--", "ip", "-o", "link", "show", "lo").split("<")[1]
    owner = cluster.node_exec("worker-2", "cat", f"/var/lib/cni/networks/cbr0/{pod['status']['podIP']}")
    assert re.fullmatch(r"[0-9a-f]{64}\s+eth0", owner.strip()), owner


def test_a_killed_container_is_restarted(cluster: KinnCluster) -> None:
    """SIGKILL the container's process (its PID from `kinn node crictl inspect`): the kubelet records
    exit code 137 and starts it again, restartCount 1, as seed 002 describes."""
    pod = cluster.run_pod("phoenix-app", "worker-1", "sleep", "3600", image="busybox")
    container_id = pod["status"]["containerStatuses"][0]["containerID"].split("://")[1]
    inspect = json.loads(cluster.kinn("node", "crictl", "--name", cluster.name, "worker-1", "inspect",
                                      container_id).stdout)
    os.kill(inspect["info"]["pid"], signal.SIGKILL)
    restarted = wait_until(lambda: (p := cluster.pod("phoenix-app"))["status"]["containerStatuses"][0][
        "restartCount"] == 1 and p["status"]["containerStatuses"][0]["state"].get("running") and p, timeout=30,
        what="the container running again")
    status = restarted["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["exitCode"] == 137
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["containerID"] != pod["status"]["containerStatuses"][0]["containerID"]
