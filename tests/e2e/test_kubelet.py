"""`kinn kubelet` against a real API server, with pods as real processes in a node netns.

The kubelet runs in the host netns (the API server listens on 127.0.0.1 there) with
--node-netns, so its bridge, veths and pod sandboxes live in a `kt-kl-…` node namespace. Pods are
bound by setting spec.nodeName (no scheduler needed), as the kubelet only watches its node's pods.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from kinn import netlink
from kinn.cni import install
from kinn.kubelet import nsutil
from conftest import RunningAPIServer, start_apiserver

pytestmark = pytest.mark.e2e

SUBNET = "10.250.7.0/24"
NODE_IP = "10.240.0.21"


@dataclass
class Node:
    name: str
    netns: str
    tmp: Path
    process: subprocess.Popen[bytes]
    server: RunningAPIServer

    @property
    def netns_dir(self) -> Path:
        return self.tmp / "netns"

    def log(self) -> str:
        return (self.tmp / "kubelet.log").read_text()

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.netns, *args], capture_output=True, text=True,
                              check=check, timeout=30)


def wait_until(what: str, predicate: Callable[[], Any], node: Node, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline or node.process.poll() is not None:
            raise AssertionError(f"{what} not reached within {timeout}s\n--- kubelet log:\n{node.log()[-4000:]}")
        time.sleep(0.1)


def conflist(tmp: Path, bridge: str) -> dict[str, Any]:
    return {"cniVersion": "1.0.0", "name": "kt-kubelet", "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True, "isDefaultGateway": True, "ipMasq": False,
         "ipam": {"type": "host-local", "dataDir": str(tmp / "networks"), "ranges": [[{"subnet": SUBNET}]]}},
        {"type": "loopback"}]}


def processes_in(netns_file: Path) -> list[int]:
    """PIDs whose network namespace is the one bind-mounted at `netns_file`."""
    target = os.stat(netns_file).st_ino
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns" / "net").st_ino == target:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def clean_up_sandboxes(netns_dir: Path) -> None:
    """After a failed test: end what the kubelet left (by PID, found through the netns) and unmount."""
    if not netns_dir.is_dir():
        return
    for netns_file in netns_dir.iterdir():
        for pid in processes_in(netns_file):
            os.kill(pid, signal.SIGKILL)
        nsutil.umount(netns_file)
        netns_file.unlink()


@pytest.fixture(scope="module")
def apiserver(node_netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAPIServer]:
    """An API server that dials kubelets from the node's netns (pods/log, exec, attach), as
    `kinn up` runs it with the cluster's netns."""
    server = start_apiserver(tmp_path_factory.mktemp("apiserver"),
                             ("--cluster-netns", node_netns, "--advertise-address", NODE_IP))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def node(apiserver: RunningAPIServer, node_netns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("kubelet")
    suffix = uuid.uuid4().hex[:6]
    netns, name = node_netns, f"kt-node-{suffix}"
    with netlink.iproute(netns) as ipr:  # the node IP, where the API server reaches the kubelet
        netlink.set_up(ipr, "lo")
        netlink.add_address(ipr, "lo", f"{NODE_IP}/32", exist_ok=True)
    (tmp / "net.d").mkdir()
    (tmp / "net.d" / "10-kt.conflist").write_text(json.dumps(conflist(tmp, f"kt-br{suffix}")))
    install(tmp / "bin")
    args = ["--kubeconfig", str(apiserver.kubeconfig), "--hostname-override", name, "--node-ip", NODE_IP,
            "--node-netns", netns, "--root-dir", str(tmp / "kubelet"), "--pod-log-dir", str(tmp / "pods"),
            "--netns-dir", str(tmp / "netns"), "--cni-conf-dir", str(tmp / "net.d"), "--cni-bin-dir",
            str(tmp / "bin"), "--cni-cache-dir", str(tmp / "cache"), "--cluster-dns", "10.96.0.10",
            "--crash-loop-backoff", "1s", "--crash-loop-backoff-max", "4s", "--lease-renew-interval", "1s",
            "--pod-manifest-path", str(tmp / "manifests"), "--container-runtime-endpoint", f"unix://{tmp}/runtime.sock"]
    process = subprocess.Popen([sys.executable, "-c", "from kinn.cli.kubelet import kubelet; kubelet()", *args],
                               stdout=(tmp / "kubelet.log").open("ab"), stderr=subprocess.STDOUT)
    created = Node(name, netns, tmp, process, apiserver)
    try:
        yield created
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        clean_up_sandboxes(created.netns_dir)


@pytest.fixture(autouse=True)
def no_pods_left(node: Node) -> Iterator[None]:
    """A failed test's pod must not leak into the next test's leak checks."""
    yield
    node.server.kubectl("delete", "pods", "--all", "--wait=false")
    wait_until("all pods gone", lambda: not node.server.kubectl("get", "pods", "-o", "name").stdout, node)


def get(node: Node, kind: str, name: str, namespace: str = "default") -> dict[str, Any] | None:
    result = node.server.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def create_pod(node: Node, name: str, containers: list[dict[str, Any]], **spec: Any) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
           "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 2, "containers": containers, **spec}}
    node.server.kubectl("create", "-f", "-", input=json.dumps(pod))


def container_status(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pod["status"].get("containerStatuses", []) if s["name"] == name)


def running(node: Node, name: str) -> dict[str, Any] | None:
    pod = get(node, "pod", name)
    return pod if pod and pod.get("status", {}).get("phase") == "Running" and pod["status"].get("podIP") else None


def delete_and_check_nothing_leaked(node: Node, name: str) -> None:
    node.server.kubectl("delete", "pod", name, "--wait=false")
    wait_until(f"pod {name} gone", lambda: get(node, "pod", name) is None, node)
    with netlink.iproute(node.netns) as ipr:
        assert [link.name for link in netlink.list_links(ipr) if link.kind == "veth"] == []
    networks = node.tmp / "networks" / "kt-kubelet"
    assert [p.name for p in networks.glob("*") if p.name[0].isdigit()] == []  # (a dir not made yet is empty)
    assert list(node.netns_dir.glob("*")) == []
    assert not list((node.tmp / "kubelet" / "pods").iterdir())


def test_node_registers_ready_with_lease(node: Node) -> None:
    def ready() -> dict[str, Any] | None:
        found = get(node, "node", node.name)
        conditions = {c["type"]: c["status"] for c in (found or {}).get("status", {}).get("conditions", [])}
        return found if conditions.get("Ready") == "True" else None

    found = wait_until("node Ready", ready, node)
    assert found["metadata"]["labels"]["kubernetes.io/hostname"] == node.name
    assert {"type": "InternalIP", "address": NODE_IP} in found["status"]["addresses"]
    assert found["status"]["capacity"]["pods"] == "110"
    lease = wait_until("lease", lambda: get(node, "lease", node.name, "kube-node-lease"), node)
    assert lease["spec"]["holderIdentity"] == node.name
    assert lease["metadata"]["ownerReferences"][0]["uid"] == found["metadata"]["uid"]


def test_the_kubelets_iptables_chains_are_in_its_node_only(node: Node) -> None:
    """KUBE-IPTABLES-HINT, KUBE-FIREWALL and the kubelet's canaries, as `iptables-save` shows them on a
    real node: written in the node's netns (never the host's)."""
    def written() -> str | None:
        text = subprocess.run(["ip", "netns", "exec", node.netns, "iptables-save"], capture_output=True, text=True,
                              check=True).stdout
        return text if ":KUBE-KUBELET-CANARY" in text else None

    text = wait_until("kubelet chains", written, node)
    assert ":KUBE-IPTABLES-HINT - [0:0]" in text.split("*mangle")[1].split("COMMIT")[0]
    assert text.count(":KUBE-KUBELET-CANARY - [0:0]") == 3
    assert "-A INPUT -j KUBE-FIREWALL" in text and "-A OUTPUT -j KUBE-FIREWALL" in text
    assert '--comment "block incoming localnet connections"' in text


def test_python_pod_serves_http_from_the_node_netns(node: Node) -> None:
    node.server.kubectl("create", "service", "clusterip", "kt-backend", "--tcp=6379:6379")
    create_pod(node, "web", [{
        "name": "web", "image": "python:3.11", "command": ["python3", "-u", "-m", "http.server", "8080"],
        "workingDir": "/etc", "env": [
            {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "GREETING", "value": "hello $(MY_POD)"}]}])
    pod = wait_until("pod web Running", lambda: running(node, "web"), node)
    ip, status = pod["status"]["podIP"], container_status(pod, "web")
    assert ip.startswith("10.250.7.") and pod["status"]["hostIP"] == NODE_IP
    assert status["ready"] and status["state"]["running"] and status["containerID"].startswith("kinn://")
    assert status["image"] == "docker.io/library/python:3.11" and status["restartCount"] == 0
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions == {"PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True",
                          "ContainersReady": "True", "PodScheduled": "True"}  # bound by nodeName, as upstream
    url = f"http://{ip}:8080/"
    fetch = f"import urllib.request; print(urllib.request.urlopen({url + 'hostname'!r}, timeout=5).read().decode())"
    reply = wait_until("HTTP reply", lambda: node.exec(sys.executable, "-c", fetch, check=False).stdout, node)
    assert reply.strip() == "web"  # /etc/hostname, served from workingDir /etc
    resolv = node.exec(sys.executable, "-c", fetch.replace("hostname", "resolv.conf")).stdout
    assert resolv.strip().splitlines() == ["search default.svc.cluster.local svc.cluster.local cluster.local",
                                   "nameserver 10.96.0.10", "options ndots:5"]
    hosts = node.exec(sys.executable, "-c", fetch.replace("hostname", "hosts")).stdout
    assert f"{ip}\tweb" in hosts and "127.0.0.1\tlocalhost" in hosts
    uid = pod["metadata"]["uid"]
    log = (node.tmp / "pods" / f"default_web_{uid}" / "web" / "0.log").read_text()
    assert "stdout F Serving HTTP on 0.0.0.0 port 8080" in log and '"GET /hostname HTTP/1.1" 200' in log
    environ = Path(f"/proc/{pid_of(node, status)}/environ").read_bytes().split(b"\0")
    assert b"MY_POD=web" in environ and f"MY_IP={ip}".encode() in environ and b"GREETING=hello web" in environ
    backend = get(node, "service", "kt-backend")
    assert f"KT_BACKEND_SERVICE_HOST={backend['spec']['clusterIP']}".encode() in environ
    assert b"KT_BACKEND_SERVICE_PORT=6379" in environ
    delete_and_check_nothing_leaked(node, "web")


def test_host_network_pod_runs_in_the_nodes_network(node: Node) -> None:
    """hostNetwork: no pod netns, no CNI (no veth, no IP from the range): the containers are in the
    node's network namespace, the pod's IP is the node's, and its server answers on the node's IP."""
    create_pod(node, "hostnet", [{"name": "web", "image": "python:3.11", "workingDir": "/etc",
                                  "command": ["python3", "-u", "-m", "http.server", "18080"],
                                  "ports": [{"containerPort": 18080}]}], hostNetwork=True)
    pod = wait_until("pod hostnet Running", lambda: running(node, "hostnet"), node)
    assert (pod["status"]["podIP"], pod["status"]["podIPs"]) == (NODE_IP, [{"ip": NODE_IP}])
    assert pod["spec"]["containers"][0]["ports"][0]["hostPort"] == 18080  # defaulted, as upstream
    assert list(node.netns_dir.glob("*")) == []
    with netlink.iproute(node.netns) as ipr:
        assert [link.name for link in netlink.list_links(ipr) if link.kind == "veth"] == []
    assert wait_until("the server on the node's IP", lambda: wget(node, f"http://{NODE_IP}:18080/hostname"), node) \
        == f"{node.name}\n"  # the node's name is the pod's hostname
    node_netns = os.stat(netlink.netns_path(node.netns)).st_ino
    servers = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
               if b"18080" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert servers and all(os.stat(f"/proc/{pid}/ns/net").st_ino == node_netns for pid in servers)
    delete_and_check_nothing_leaked(node, "hostnet")


def pid_of(node: Node, status: dict[str, Any]) -> int:
    """A container's PID: the process in the pod netns whose argv is the container's."""
    netns_file = next(node.netns_dir.iterdir())
    return next(pid for pid in processes_in(netns_file)
                if b"http.server" in Path(f"/proc/{pid}/cmdline").read_bytes())


def test_two_containers_on_one_port_crash_loop(node: Node) -> None:
    server = ["python3", "-u", "-m", "http.server", "8080"]
    create_pod(node, "ports", [{"name": "first", "image": "python", "command": server},
                               {"name": "second", "image": "python", "command": server}])

    def crash_looping() -> dict[str, Any] | None:
        pod = get(node, "pod", "ports")
        statuses = (pod or {}).get("status", {}).get("containerStatuses", [])
        looping = [s for s in statuses if s.get("restartCount", 0) >= 1
                   and (s["state"].get("waiting") or {}).get("reason") == "CrashLoopBackOff"]
        return pod if looping else None

    pod = wait_until("a container in CrashLoopBackOff with restarts", crash_looping, node, timeout=30)
    assert pod["status"]["phase"] == "Running"
    statuses = {s["name"]: s for s in pod["status"]["containerStatuses"]}
    loser = next(s for s in statuses.values() if s["state"].get("waiting"))
    winner = statuses[({"first", "second"} - {loser["name"]}).pop()]
    assert winner["state"].get("running") and winner["ready"] and not loser["ready"]
    assert loser["lastState"]["terminated"]["exitCode"] == 1 and loser["lastState"]["terminated"]["reason"] == "Error"
    assert re.match(rf"back-off [124]s restarting failed container={loser['name']} pod=ports_default\(",
                    loser["state"]["waiting"]["message"])
    conditions = {c["type"]: c for c in pod["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["reason"] == "ContainersNotReady"
    uid = pod["metadata"]["uid"]
    log = (node.tmp / "pods" / f"default_ports_{uid}" / loser["name"] / "0.log").read_text()
    assert "Address already in use" in log
    delete_and_check_nothing_leaked(node, "ports")


def test_unknown_image_fails_as_kubernetes_shows(node: Node) -> None:
    create_pod(node, "noimage", [{"name": "app", "image": "example.com/nothing:1.0"}])

    def waiting_reason(reason: str) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            pod = get(node, "pod", "noimage")
            statuses = (pod or {}).get("status", {}).get("containerStatuses", [])
            state = statuses[0]["state"].get("waiting", {}) if statuses else {}
            return state if state.get("reason") == reason else None
        return check

    backoff = wait_until("ImagePullBackOff", waiting_reason("ImagePullBackOff"), node)
    assert backoff["message"].startswith('Back-off pulling image "example.com/nothing:1.0": ErrImagePull: ')
    assert "kinn resolves images locally" in backoff["message"]
    # ErrImagePull is the state between a failed pull and the back-off; the events keep it.
    def pull_events() -> list[tuple[str, str]] | None:
        """The pod's events once the back-off's is written (events are sent in the background).
        They are named <pod>.<creation in hex nanoseconds>, so listed in the order they were made."""
        listed = node.server.kubectl("get", "events", "--field-selector", "involvedObject.name=noimage",
                                     "-o", "json").stdout
        events = [(event["reason"], event["message"]) for event in json.loads(listed)["items"]
                  if event["reason"] != "Scheduled"]
        return events if ("Failed", "Error: ImagePullBackOff") in events else None

    events = wait_until("the ImagePullBackOff event", pull_events, node)
    assert [reason for reason, _ in events][:4] == ["Pulling", "Failed", "Failed", "BackOff"], events
    assert events[0][1] == 'Pulling image "example.com/nothing:1.0"'  # as the kubelet's image manager says
    assert events[1][1].startswith('Failed to pull image "example.com/nothing:1.0": ')
    assert events[2][1] == "Error: ErrImagePull" and events[3][1] == 'Back-off pulling image "example.com/nothing:1.0"'
    assert get(node, "pod", "noimage")["status"]["phase"] == "Pending"
    delete_and_check_nothing_leaked(node, "noimage")


def test_a_command_that_cannot_start_is_a_failed_run(node: Node) -> None:
    """runc's StartError: the run ends at once with exit code 128 and the runtime's message. With
    restartPolicy Never the pod fails (a Job with a mistyped command fails); with Always the
    container backs off and restarts, as any crashed one."""
    missing = [{"name": "app", "image": "busybox", "command": ["kinn-no-such-command"]}]
    create_pod(node, "never", missing, restartPolicy="Never")
    create_pod(node, "always", missing)
    failed = wait_until("pod never Failed", lambda: (pod := get(node, "pod", "never"))
                        and pod["status"].get("phase") == "Failed" and pod, node)
    terminated = container_status(failed, "app")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["startedAt"]) == \
        (128, "StartError", "1970-01-01T00:00:00Z"), terminated
    assert terminated["message"].endswith('exec: "kinn-no-such-command": executable file not found in $PATH')

    def backing_off() -> dict[str, Any] | None:
        statuses = ((get(node, "pod", "always") or {}).get("status") or {}).get("containerStatuses") or [{}]
        waiting = statuses[0].get("state", {}).get("waiting", {})
        return statuses[0] if waiting.get("reason") == "CrashLoopBackOff" and statuses[0]["restartCount"] else None

    status = wait_until("pod always in CrashLoopBackOff after a restart", backing_off, node, timeout=30)
    assert status["lastState"]["terminated"]["reason"] == "StartError"
    assert get(node, "pod", "always")["status"]["phase"] == "Running"  # waiting to be restarted, as upstream
    node.server.kubectl("delete", "pod", "always", "--wait=false")
    wait_until("pod always gone", lambda: get(node, "pod", "always") is None, node)
    delete_and_check_nothing_leaked(node, "never")


def rejected(node: Node, name: str) -> dict[str, Any]:
    return wait_until(f"pod {name} rejected", lambda: (pod := get(node, "pod", name))
                      and pod["status"].get("phase") == "Failed" and pod, node)


def test_a_pod_bound_to_a_node_that_cannot_fit_it_is_rejected_and_never_started(node: Node) -> None:
    """Pods bound with spec.nodeName skip the scheduler: the kubelet's admission refuses what its
    node (2 CPUs) cannot hold beside the pods it runs, as upstream's OutOfcpu, and starts nothing."""
    sleeper = [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                "resources": {"requests": {"cpu": "1500m"}}}]
    create_pod(node, "fits", sleeper)
    wait_until("pod fits Running", lambda: running(node, "fits"), node)
    create_pod(node, "more", sleeper)
    status = rejected(node, "more")["status"]
    assert (status["reason"], status["message"]) == (
        "OutOfcpu", "Pod was rejected: Node didn't have enough resource: cpu, requested: 1500, used: 1500, "
                    "capacity: 2000")
    assert "containerStatuses" not in status and "podIP" not in status
    assert re.search(r"^more\s+0/1\s+OutOfcpu\s+0\s", node.server.kubectl("get", "pod", "more").stdout, re.M)
    events = json.loads(node.server.kubectl("get", "events", "--field-selector", "involvedObject.name=more",
                                            "-o", "json").stdout)["items"]
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "OutOfcpu")], events
    assert len(list(node.netns_dir.glob("*"))) == 1  # only the admitted pod's sandbox exists
    # A pod the node's labels do not match is refused by the same checks the scheduler runs.
    create_pod(node, "elsewhere", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}],
               nodeSelector={"disktype": "ssd"})
    assert rejected(node, "elsewhere")["status"]["reason"] == "NodeAffinity"
    # The kubelet still finalizes the deletion of pods it rejected; what it freed admits a new pod.
    node.server.kubectl("delete", "pod", "more", "elsewhere", "--wait=true", timeout=30)
    delete_and_check_nothing_leaked(node, "fits")
    create_pod(node, "after", sleeper)
    wait_until("pod after Running", lambda: running(node, "after"), node)
    delete_and_check_nothing_leaked(node, "after")


def test_oom_score_adj_follows_the_qos_class_and_pause_is_last(node: Node) -> None:
    """What the OOM killer reads: BestEffort 1000, Burstable by its memory request (1Gi of the
    node's 4Gi: 750), Guaranteed -997, and every pause -998, as the kubelet and containerd set them.
    Without CAP_SYS_RESOURCE (root in a container) nothing may go below the kubelet's own score:
    Guaranteed pods and pause get that, as with containerd's restrict_oom_score_adj."""
    cap_eff = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("CapEff"))
    kubelet_score = Path(f"/proc/{node.process.pid}/oom_score_adj").read_text().strip()
    may_lower = int(cap_eff.split()[1], 16) >> 24 & 1  # CAP_SYS_RESOURCE
    resources = {"besteffort": {}, "burstable": {"requests": {"memory": "1Gi"}},
                 "guaranteed": {"limits": {"cpu": "100m", "memory": "64Mi"}}}
    for name, wanted in resources.items():
        create_pod(node, name, [{"name": "app", "image": "busybox", "resources": wanted,
                                 "command": ["sh", "-c", "cat /proc/self/oom_score_adj; exec sleep 3600"]}])
    for name in resources:
        wait_until(f"pod {name} Running", lambda: running(node, name), node)
    scores = {name: wait_until(f"{name}'s log", lambda: node.server.kubectl("logs", name).stdout.strip(), node)
              for name in resources}
    assert scores == {"besteffort": "1000", "burstable": "750", "guaranteed": "-997" if may_lower else kubelet_score}
    # What `kubectl exec` runs in a container has the container's score, as with runc exec.
    assert node.server.kubectl("exec", "burstable", "--", "cat", "/proc/self/oom_score_adj").stdout.strip() == "750"
    pauses = [pid for netns_file in node.netns_dir.iterdir() for pid in processes_in(netns_file)
              if Path(f"/proc/{pid}/cmdline").read_bytes() == b"/pause\0"]
    assert len(pauses) == 3
    assert {Path(f"/proc/{pid}/oom_score_adj").read_text().strip() for pid in pauses} == \
        {"-998" if may_lower else kubelet_score}
    node.server.kubectl("delete", "pod", "besteffort", "burstable", "--wait=true", timeout=30)
    delete_and_check_nothing_leaked(node, "guaranteed")


def test_dead_pause_recreates_the_sandbox(node: Node) -> None:
    create_pod(node, "phoenix", [{"name": "app", "image": "busybox", "command": ["sh", "-c", "echo hi; sleep 1000"]}],
               restartPolicy="Always")
    pod = wait_until("pod phoenix Running", lambda: running(node, "phoenix"), node)
    netns_file = next(node.netns_dir.iterdir())
    pause = next(pid for pid in processes_in(netns_file) if Path(f"/proc/{pid}/comm").read_text() == "pause\n")
    os.kill(pause, signal.SIGKILL)

    def restarted() -> dict[str, Any] | None:
        found = get(node, "pod", "phoenix")
        ok = found and found["status"]["phase"] == "Running" and container_status(found, "app")["restartCount"] == 1 \
            and container_status(found, "app")["ready"]
        return found if ok else None

    again = wait_until("sandbox recreated and container restarted", restarted, node)
    assert again["status"]["podIP"].startswith("10.250.7.")
    uid = pod["metadata"]["uid"]
    assert "stdout F hi" in (node.tmp / "pods" / f"default_phoenix_{uid}" / "app" / "1.log").read_text()
    assert len(list(node.netns_dir.iterdir())) == 1
    delete_and_check_nothing_leaked(node, "phoenix")


def wget(node: Node, url: str) -> str:
    """An HTTP GET from the node netns (busybox wget, as from a node's shell); "" until it answers.
    Debian 12's busybox wget is built without -T (it crashes on it), hence `timeout`."""
    return node.exec("timeout", "5", "/bin/busybox", "wget", "-qO-", url, check=False).stdout


def container_log(node: Node, pod: dict[str, Any], container: str, restart: int = 0) -> str:
    meta = pod["metadata"]
    return (node.tmp / "pods" / f"default_{meta['name']}_{meta['uid']}" / container / f"{restart}.log").read_text()


def all_container_logs(node: Node, pod: dict[str, Any], container: str) -> str:
    """Every instance's log of a container (0.log, 1.log … after restarts), concatenated."""
    meta = pod["metadata"]
    directory = node.tmp / "pods" / f"default_{meta['name']}_{meta['uid']}" / container
    return "".join(log.read_text() for log in sorted(directory.glob("*.log")))


def test_nginx_pod_serves_its_welcome_page(node: Node) -> None:
    create_pod(node, "web", [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}])
    pod = wait_until("pod web Running", lambda: running(node, "web"), node)
    page = wait_until("welcome page", lambda: wget(node, f"http://{pod['status']['podIP']}/"), node)
    assert "<title>Welcome to nginx!</title>" in page
    status = container_status(pod, "nginx")
    assert status["image"] == "docker.io/library/nginx:1.25"
    assert re.fullmatch(r"docker\.io/library/nginx@sha256:[0-9a-f]{64}", status["imageID"])
    # The access log is the container's stdout, as the image links it; the request came from the node.
    log = wait_until("access log", lambda: "GET / HTTP/1.1" in container_log(node, pod, "nginx"), node) and \
        container_log(node, pod, "nginx")
    assert re.search(r' stdout F 10\.250\.7\.1 - - \[.*\] "GET / HTTP/1\.1" 200 \d+ "-" "Wget"', log), log
    delete_and_check_nothing_leaked(node, "web")


def test_each_container_has_its_own_empty_tmp(node: Node) -> None:
    """As in an image's writable layer: what a container writes to /tmp is seen neither by the host
    nor by the pod's other containers, and a restarted container starts with an empty /tmp. What the
    node has in /tmp stays readable (kinn itself may be installed there) but is not changed. A
    volume mounted under /tmp gets its mount point there, not on the host."""
    mark = f"kinn-private-{uuid.uuid4().hex[:8]}"
    node_file = Path("/tmp") / f"{mark}-node"
    node_file.write_text("from the node\n")
    try:
        _check_private_tmp(node, mark, node_file)
    finally:
        node_file.unlink()


def _check_private_tmp(node: Node, mark: str, node_file: Path) -> None:
    writes = (f"echo hi > /tmp/{mark}; ls -ld /tmp; cat /tmp/{mark}; "
              f"echo v > /tmp/{mark}-cache/v; cat /tmp/{mark}-cache/v; sleep 3600")
    create_pod(node, "scratch", [
        {"name": "writer", "image": "busybox", "command": ["sh", "-c", writes],
         "volumeMounts": [{"name": "cache", "mountPath": f"/tmp/{mark}-cache"}]},
        {"name": "reader", "image": "busybox", "command": ["sh", "-c", f"sleep 1; ls -a /tmp; [ ! -e /tmp/{mark} ]; "
                                                                         f"cat {node_file}; echo x > {node_file}; "
                                                                         "sleep 3600"]},
        {"name": "again", "image": "busybox", "command": ["sh", "-c", "echo run >> /tmp/runs; wc -l < /tmp/runs; "
                                                                        "exit 1"]}],
        volumes=[{"name": "cache", "emptyDir": {}}])

    def restarted() -> dict[str, Any] | None:
        pod = get(node, "pod", "scratch")
        statuses = (pod or {}).get("status", {}).get("containerStatuses", [])
        return pod if any(s["name"] == "again" and s["restartCount"] >= 2 for s in statuses) else None

    pod = wait_until("container `again` restarted twice", restarted, node, timeout=30)
    assert not (Path("/tmp") / mark).exists() and not (Path("/tmp") / f"{mark}-cache").exists()
    writer = container_log(node, pod, "writer")
    assert re.search(r" stdout F drwxrwxrwt .* /tmp\n", writer) and " stdout F hi\n" in writer, writer
    assert " stdout F v\n" in writer, writer
    reader = wait_until("the reader's output", lambda: "from the node" in container_log(node, pod, "reader") and
                        container_log(node, pod, "reader"), node)
    assert f"{mark}\n" not in reader and container_status(pod, "reader")["restartCount"] == 0, reader
    assert " stdout F from the node\n" in reader and node_file.read_text() == "from the node\n", reader
    runs = [line.rsplit(" ", 1)[1] for line in all_container_logs(node, pod, "again").splitlines()]
    assert runs[:3] == ["1", "1", "1"], runs
    delete_and_check_nothing_leaked(node, "scratch")


def test_busybox_pods_reach_each_other_with_ping_wget_and_nc(node: Node) -> None:
    create_pod(node, "bb-server", [
        {"name": "httpd", "image": "busybox:1.36", "command": ["httpd", "-f", "-p", "8080", "-h", "/etc"]},
        # nc's stdin is a pipe that stays open: on a container's /dev/null, busybox's `nc -l` closes the
        # connection it accepts as soon as it reads that EOF, racing the client's data (seen in CI).
        {"name": "nc", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600 | nc -l -p 9000"]}])
    server = wait_until("pod bb-server Running", lambda: running(node, "bb-server"), node)
    ip = server["status"]["podIP"]
    script = (f"ping -c 1 -W 5 {ip} && wget -qO- http://{ip}:8080/hostname && "
              f"until echo hello-from-client | nc {ip} 9000; do sleep 0.2; done")
    create_pod(node, "bb-client", [{"name": "client", "image": "busybox", "command": ["sh", "-c", script]}],
               restartPolicy="Never")

    def succeeded() -> dict[str, Any] | None:
        pod = get(node, "pod", "bb-client")
        phase = (pod or {}).get("status", {}).get("phase")
        assert phase != "Failed", container_log(node, pod, "client")  # type: ignore[arg-type]
        return pod if phase == "Succeeded" else None

    client = wait_until("pod bb-client Succeeded", succeeded, node)
    log = container_log(node, client, "client")
    assert "1 packets transmitted, 1 packets received" in log and "stdout F bb-server" in log
    # `nc -l` exits after one connection (its container stays up, for the sleep); any instance will do.
    wait_until("nc received", lambda: "stdout F hello-from-client" in all_container_logs(node, server, "nc"), node)
    assert container_status(client, "client")["image"] == "docker.io/library/busybox:latest"
    assert container_status(server, "httpd")["image"] == "docker.io/library/busybox:1.36"
    node.server.kubectl("delete", "pod", "bb-server", "--wait=false")
    wait_until("pod bb-server gone", lambda: get(node, "pod", "bb-server") is None, node)
    delete_and_check_nothing_leaked(node, "bb-client")


def test_seed_004_two_nginx_on_port_80_one_crash_loops(node: Node) -> None:
    create_pod(node, "lab-web", [
        {"name": "lab-web", "image": "nginx", "ports": [{"containerPort": 80, "name": "web-port"}]},
        {"name": "lab-web-2", "image": "nginx", "ports": [{"containerPort": 80, "name": "web-2-port"}]}])

    def crash_looping() -> dict[str, Any] | None:
        pod = get(node, "pod", "lab-web")
        statuses = (pod or {}).get("status", {}).get("containerStatuses", [])
        return pod if any(s.get("restartCount", 0) >= 1 and s.get("lastState", {}).get("terminated")
                          for s in statuses) else None

    pod = wait_until("a container restarted", crash_looping, node, timeout=30)
    loser = next(s for s in pod["status"]["containerStatuses"] if s["lastState"].get("terminated"))
    assert loser["lastState"]["terminated"]["reason"] == "Error"
    log = container_log(node, pod, loser["name"])
    assert re.search(r"stderr F \d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[emerg\] \d+#\d+: "
                     r"bind\(\) to 0\.0\.0\.0:80 failed \(98: Address already in use\)", log), log
    assert "stderr F nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)" in log
    assert "stderr F nginx: [emerg] still could not bind()" in log

    def one_of_two_ready() -> list[str] | None:  # nginx retries bind() for ~2.5 s before it gives up
        row = node.server.kubectl("get", "pod", "lab-web", "--no-headers").stdout.split()
        return row if row[1] == "1/2" and row[2] in ("Error", "CrashLoopBackOff") else None

    wait_until("kubectl get shows 1/2 and Error or CrashLoopBackOff", one_of_two_ready, node)
    delete_and_check_nothing_leaked(node, "lab-web")


def test_seed_004_nginx_on_8080_by_a_config_map_beside_one_on_80(node: Node) -> None:
    conf = "server {\n    listen 8080;\n    listen [::]:8080;\n    root /usr/share/nginx/html;\n}\n"
    node.server.kubectl("create", "configmap", "lab-web-2-conf", f"--from-literal=default.conf={conf}")
    create_pod(node, "lab-web", [
        {"name": "lab-web", "image": "nginx", "ports": [{"containerPort": 80}]},
        {"name": "lab-web-2", "image": "nginx", "ports": [{"containerPort": 8080}],
         "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/conf.d"}]},
        # A neighbour fetches both over localhost: the pod's containers share one network stack.
        {"name": "neighbour", "image": "busybox", "command": [
            "sh", "-c", "until wget -q -O /dev/null localhost:8080 && wget -q -O /dev/null localhost; do sleep 0.2; "
                        "done; wget -qO- http://localhost:8080/ http://localhost/; exec sleep 3600"]}],
        volumes=[{"name": "conf", "configMap": {"name": "lab-web-2-conf"}}])
    pod = wait_until("pod lab-web Running", lambda: running(node, "lab-web"), node)
    ip = pod["status"]["podIP"]
    for port in (80, 8080):
        assert "Welcome to nginx!" in wait_until(f"nginx on {port}", lambda: wget(node, f"http://{ip}:{port}/"), node)
    neighbour = wait_until("the neighbour's two fetches", lambda: container_log(node, pod, "neighbour").count(
        "<title>Welcome to nginx!</title>") == 2, node)
    assert neighbour
    statuses = get(node, "pod", "lab-web")["status"]["containerStatuses"]  # type: ignore[index]
    assert all(s["restartCount"] == 0 and s["ready"] for s in statuses), statuses
    delete_and_check_nothing_leaked(node, "lab-web")
    node.server.kubectl("delete", "configmap", "lab-web-2-conf")


def static_pod_manifest(command: list[str]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "static-web"}, "spec": {
        "terminationGracePeriodSeconds": 2, "containers": [{"name": "web", "image": "busybox", "command": command}]}})


def test_static_pod_from_a_manifest_with_its_mirror_pod(node: Node) -> None:
    manifests = node.tmp / "manifests"
    manifests.mkdir(exist_ok=True)
    manifest = manifests / "static-web.json"
    name = f"static-web-{node.name}"
    try:
        manifest.write_text(static_pod_manifest(["httpd", "-f", "-p", "8080", "-h", "/etc"]))
        mirror = wait_until("mirror pod Running", lambda: running(node, name), node)
        annotations = mirror["metadata"]["annotations"]
        assert annotations["kubernetes.io/config.source"] == "file"
        assert re.fullmatch(r"[0-9a-f]{32}", annotations["kubernetes.io/config.hash"])
        assert annotations["kubernetes.io/config.mirror"] == annotations["kubernetes.io/config.hash"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", annotations["kubernetes.io/config.seen"])
        node_uid = get(node, "node", node.name)["metadata"]["uid"]  # type: ignore[index]
        assert mirror["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": node.name, "uid": node_uid, "controller": True}]
        assert {"operator": "Exists", "effect": "NoExecute"} in mirror["spec"]["tolerations"]
        conditions = {c["type"]: c["status"] for c in mirror["status"]["conditions"]}
        assert conditions["Ready"] == "True" and conditions["PodScheduled"] == "True"
        ip = mirror["status"]["podIP"]
        served = wait_until("the static pod serves", lambda: wget(node, f"http://{ip}:8080/hostname"), node)
        assert served == name + "\n"  # its hostname

        # The mirror is a reflection: deleted, it comes back (with the status), the pod runs on.
        node.server.kubectl("delete", "pod", name, "--wait=false")

        def new_mirror() -> dict[str, Any] | None:
            found = running(node, name)
            return found if found and found["metadata"]["uid"] != mirror["metadata"]["uid"] else None

        again = wait_until("mirror pod recreated", new_mirror, node)
        assert again["status"]["podIP"] == ip and container_status(again, "web")["restartCount"] == 0

        # An edited manifest is a new pod (new hash): the old one stops, the new one and its mirror run.
        netns_file = next(node.netns_dir.iterdir())
        old_pids = processes_in(netns_file)
        manifest.write_text(static_pod_manifest(["httpd", "-f", "-p", "8081", "-h", "/etc"]))

        def updated() -> dict[str, Any] | None:
            found = running(node, name)
            hash_ = (found or {}).get("metadata", {}).get("annotations", {}).get("kubernetes.io/config.mirror")
            return found if hash_ and hash_ != annotations["kubernetes.io/config.hash"] else None

        mirror = wait_until("mirror pod of the edited manifest Running", updated, node)
        assert all(not Path(f"/proc/{pid}").exists() for pid in old_pids)
        ip = mirror["status"]["podIP"]
        assert wait_until("the new pod serves", lambda: wget(node, f"http://{ip}:8081/hostname"), node) == name + "\n"
        netns_file = next(node.netns_dir.iterdir())
        pids = processes_in(netns_file)
        assert pids
    finally:
        manifest.unlink(missing_ok=True)

    # The manifest removed: the pod stops, its processes end, its mirror goes, nothing is left.
    wait_until("mirror pod gone", lambda: get(node, "pod", name) is None, node)
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)
    assert list(node.netns_dir.iterdir()) == []
    with netlink.iproute(node.netns) as ipr:
        assert [link.name for link in netlink.list_links(ipr) if link.kind == "veth"] == []
    assert not list((node.tmp / "kubelet" / "pods").iterdir())
