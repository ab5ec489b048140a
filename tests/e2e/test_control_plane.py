"""Seed 002's walkthrough on `kinn server` with hollow nodes: desired state converges.

The real kubectl creates a Deployment; the controller manager makes a ReplicaSet and pods, the
scheduler binds them, the (hollow) kubelets run them; updates roll out, roll back and scale; a
namespace deletion takes everything in it; a node that stops heart-beating loses its pods to the
other nodes.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import stat
from pathlib import Path

import yaml

from conftest import start_hollow_nodes
from kubectl_output import get_json, wait_until

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: %(ns)s}
spec:
  replicas: %(replicas)d
  selector: {matchLabels: {app: frontend}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers: [{name: php-redis, image: "nginx:1.25", ports: [{name: http, containerPort: 80}]}]
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 1}
"""


def apply_deployment(cluster, ns: str, replicas: int) -> None:
    cluster.kubectl("apply", "-f", "-", input=DEPLOYMENT % {"ns": ns, "replicas": replicas})


def live_pods(cluster, ns: str) -> list[dict]:
    pods = get_json(cluster, "pods", "-n", ns, "-l", "app=frontend")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def test_deployment_yields_replicaset_scheduled_running_pods_and_endpoints(control_plane):
    control_plane.kubectl("create", "namespace", "walkthrough")
    apply_deployment(control_plane, "walkthrough", 4)
    control_plane.kubectl("expose", "deployment", "frontend", "-n", "walkthrough", "--port=80",
                          "--target-port=http")
    out = control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "walkthrough", "--timeout=60s")
    assert 'deployment "frontend" successfully rolled out' in out.stdout
    rs = get_json(control_plane, "rs", "-n", "walkthrough")["items"]
    assert len(rs) == 1 and rs[0]["metadata"]["ownerReferences"][0]["name"] == "frontend"
    nodes = {n["metadata"]["name"]: n["spec"]["podCIDR"] for n in get_json(control_plane, "nodes")["items"]}
    pods = live_pods(control_plane, "walkthrough")
    assert len(pods) == 4
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        node = pod["spec"]["nodeName"]
        assert ipaddress.ip_address(pod["status"]["podIP"]) in ipaddress.ip_network(nodes[node])
    assert len({p["spec"]["nodeName"] for p in pods}) == 3  # spread over every node
    events = control_plane.kubectl("get", "events", "-n", "walkthrough", "--field-selector", "reason=Scheduled",
                                   "-o", "jsonpath={.items[*].message}").stdout
    assert "Successfully assigned walkthrough/frontend-" in events

    def endpoints_ready() -> bool:
        ep = get_json(control_plane, "endpoints", "frontend", "-n", "walkthrough")
        addresses = [a["ip"] for s in ep.get("subsets", []) for a in s.get("addresses", [])]
        return sorted(addresses) == sorted(p["status"]["podIP"] for p in live_pods(control_plane, "walkthrough"))

    wait_until(endpoints_ready, what="endpoints to list every pod")


def test_rolling_update_undo_and_scale(control_plane):
    control_plane.kubectl("create", "namespace", "rollout")
    apply_deployment(control_plane, "rollout", 3)
    control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "rollout", "--timeout=60s")
    control_plane.kubectl("set", "image", "deployment/frontend", "php-redis=nginx:1.27", "-n", "rollout")
    control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "rollout", "--timeout=60s")
    images = {p["spec"]["containers"][0]["image"] for p in live_pods(control_plane, "rollout")}
    assert images == {"nginx:1.27"}
    assert len(get_json(control_plane, "rs", "-n", "rollout")["items"]) == 2
    control_plane.kubectl("rollout", "undo", "deployment/frontend", "-n", "rollout")
    control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "rollout", "--timeout=60s")
    wait_until(lambda: {p["spec"]["containers"][0]["image"] for p in live_pods(control_plane, "rollout")}
               == {"nginx:1.25"}, what="rollback to nginx:1.25")
    control_plane.kubectl("scale", "deployment/frontend", "--replicas=5", "-n", "rollout")
    control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "rollout", "--timeout=60s")
    assert len(live_pods(control_plane, "rollout")) == 5


def test_deleting_a_namespace_removes_everything_in_it(control_plane):
    control_plane.kubectl("create", "namespace", "doomed")
    apply_deployment(control_plane, "doomed", 2)
    control_plane.kubectl("create", "configmap", "settings", "-n", "doomed", "--from-literal=a=b")
    control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "doomed", "--timeout=60s")
    control_plane.kubectl("delete", "namespace", "doomed", "--timeout=60s")
    out = control_plane.kubectl("get", "namespace", "doomed", check=False)
    assert out.returncode == 1 and 'namespaces "doomed" not found' in out.stderr


def test_a_silent_node_is_marked_unknown_tainted_and_its_pods_move(control_plane):
    start_hollow_nodes(control_plane, 1, prefix="lonely-")
    lonely = control_plane.companions[-1]
    control_plane.kubectl("create", "namespace", "failover")
    apply_deployment(control_plane, "failover", 8)
    control_plane.kubectl("rollout", "status", "deployment/frontend", "-n", "failover", "--timeout=60s")
    assert any(p["spec"]["nodeName"] == "lonely-0" for p in live_pods(control_plane, "failover"))

    lonely.terminate()  # its kubelet goes silent: no more Lease renewals
    lonely.wait(timeout=10)

    def marked_unknown() -> bool:
        node = get_json(control_plane, "node", "lonely-0")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        taints = {(t["key"], t["effect"]) for t in node["spec"].get("taints", [])}
        return ready["status"] == "Unknown" and ("node.kubernetes.io/unreachable", "NoExecute") in taints

    wait_until(marked_unknown, timeout=30, what="lonely-0 to become Unknown and tainted")

    def replaced_elsewhere() -> bool:
        pods = live_pods(control_plane, "failover")
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return len(running) == 8 and all(p["spec"]["nodeName"] != "lonely-0" for p in pods)

    wait_until(replaced_elsewhere, timeout=60, what="the ReplicaSet to replace the evicted pods on other nodes")


def test_scheduler_and_controller_manager_watch_over_the_loopback_socket(control_plane):
    """They run inside `kinn server`: their dozens of watches go over its private Unix socket, not
    TLS to its own port, and nobody else can authenticate there."""
    sock = control_plane.data_dir / "apiserver.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    with socket.socket(socket.AF_UNIX) as anonymous:
        anonymous.connect(str(sock))
        anonymous.sendall(b"GET /api/v1/pods HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        reply = b"".join(iter(lambda: anonymous.recv(65536), b""))
    assert reply.startswith(b"HTTP/1.1 401") and b'"reason":"Unauthorized"' in reply

    pid = control_plane.process.pid
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:["):-1] for fd in os.listdir(f"/proc/{pid}/fd")
              if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")}
    unix = [line.split() for line in Path("/proc/net/unix").read_text().splitlines()[1:]]
    on_loopback = [f for f in unix if len(f) == 8 and f[7] == str(sock) and f[5] == "03" and f[6] in inodes]
    assert len(on_loopback) >= 20  # the accepted ends of the informers' watches and the requests
    server = yaml.safe_load(control_plane.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    port = int(server.rsplit(":", 1)[1])
    tcp = [line.split() for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]]
    dialled_itself = [f for f in tcp if int(f[2].split(":")[1], 16) == port and f[9] in inodes]
    assert dialled_itself == []

    # The controller manager still publishes the cluster's CA, which pods verify the API server with.
    cluster_ca = base64.b64decode(yaml.safe_load(control_plane.kubeconfig.read_text())["clusters"][0]["cluster"][
        "certificate-authority-data"]).decode()
    published = wait_until(lambda: get_json(control_plane, "configmap", "kube-root-ca.crt", "-n", "default"),
                           what="kube-root-ca.crt")
    assert published["data"]["ca.crt"] == cluster_ca
