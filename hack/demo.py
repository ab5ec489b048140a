#!/usr/bin/env python3
"""The kinn demo: `kinn up` a 3-node cluster, drive it with the real kubectl, then look behind the scenes.

Each step prints the command and what it printed, as seeds 002 and 003 do by hand: a Deployment
spread over two worker nodes, the pods' network namespaces, the flannel VXLAN routes, FDB and
neighbour entries on a node, pod-to-pod traffic across nodes without NAT (the receiving nginx logs
the sender's pod IP), the Service's kube-proxy rules and conntrack entries, a NodePort, a rolling update. The cluster keeps running afterwards; the last lines say
how to use it and how to remove it (`kinn down`).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap

CLUSTER = os.environ.get("KINN_DEMO_CLUSTER", "kinn")
KINN = [sys.executable, "-m", "kinn"]

MANIFEST = textwrap.dedent("""\
    apiVersion: v1
    kind: Service
    metadata:
      name: frontend
      labels: {app: guestbook, tier: frontend}
    spec:
      type: NodePort
      selector: {app: guestbook, tier: frontend}
      ports:
      - port: 80
        targetPort: 80
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: frontend
      labels: {app: guestbook, tier: frontend}
    spec:
      replicas: 3
      selector:
        matchLabels: {app: guestbook, tier: frontend}
      template:
        metadata:
          labels: {app: guestbook, tier: frontend}
        spec:
          containers:
          - name: php-redis
            image: nginx:1.25
            ports:
            - containerPort: 80
    """)


def banner(text: str) -> None:
    print(f"\n\033[1;34m== {text}\033[0m", flush=True)


def run(*args: str, input: str | None = None, show: str | None = None, check: bool = False) -> str:
    """Run a command as the user would type it, print it and its output; return the output."""
    print(f"\033[1m$ {show or shlex.join(args)}\033[0m", flush=True)
    result = subprocess.run(args, input=input, capture_output=True, text=True)
    sys.stdout.write(result.stdout + result.stderr)
    sys.stdout.flush()
    if check and result.returncode != 0:
        sys.exit(f"{show or args[0]} failed")
    return result.stdout


def kinn(*args: str, check: bool = False) -> str:
    return run(*KINN, *args, show="kinn " + shlex.join(args), check=check)


def node(name: str, *command: str) -> str:
    return kinn("node", "exec", "--name", CLUSTER, name, "--", *command)


def pods() -> list[dict]:
    out = subprocess.run(["kubectl", "get", "pods", "-l", "tier=frontend", "-o", "json"], capture_output=True,
                         text=True, check=True).stdout
    return sorted(json.loads(out)["items"], key=lambda pod: pod["spec"]["nodeName"])


def main() -> None:
    banner("kinn up: an underlay network, 3 nodes of namespaces, the control plane and one agent per node")
    subprocess.run([*KINN, "down", "--name", CLUSTER], capture_output=True)  # a previous demo's cluster
    kinn("up", "--name", CLUSTER, check=True)
    run("kubectl", "get", "nodes", "-o", "wide")
    run("ip", "netns", "list", show="ip netns list          # on the host: the underlay and one netns per node")

    banner("Seed 002: a Deployment → ReplicaSet → pods, scheduled onto the workers, IPs from each node's podCIDR")
    run("kubectl", "apply", "-f", "-", input=MANIFEST, show="kubectl apply -f guestbook-frontend.yaml")
    run("kubectl", "rollout", "status", "deployment/frontend", "--timeout=120s", check=True)
    run("kubectl", "get", "pods", "-o", "wide")
    run("kubectl", "get", "endpoints", "frontend")

    banner("Behind the scenes on worker-1 (seeds 002/003): pod netns, the cni0 bridge, flannel's VXLAN overlay")
    node("worker-1", "ip", "netns", "list")
    node("worker-1", "ip", "-br", "addr")
    node("worker-1", "ip", "route")
    node("worker-1", "bridge", "fdb", "show", "dev", "flannel.1")
    node("worker-1", "ip", "neigh", "show", "dev", "flannel.1")
    node("worker-1", "cat", "/run/flannel/subnet.env")
    node("worker-1", "ls", "/var/lib/cni/networks/cbr0")

    banner("Pod to pod across nodes, without NAT: the nginx on the other node logs the sender's pod IP")
    frontend = pods()
    sender, receiver = frontend[0], frontend[-1]
    target = receiver["status"]["podIP"]
    run("kubectl", "exec", sender["metadata"]["name"], "--", "wget", "-qO-", f"http://{target}/",
        show=f"kubectl exec {sender['metadata']['name']} -- wget -qO- http://{target}/   "
             f"# {sender['spec']['nodeName']} → {receiver['spec']['nodeName']}")
    run("kubectl", "logs", receiver["metadata"]["name"], "--tail=1")
    print(f"(the sender is {sender['metadata']['name']} with IP {sender['status']['podIP']})")
    node(sender["spec"]["nodeName"], "conntrack", "-L", "-p", "tcp", "--dport", "80")

    banner("Seeds 002/003: the frontend Service, as kube-proxy's iptables rules on every node")
    service = json.loads(subprocess.run(["kubectl", "get", "service", "frontend", "-o", "json"], capture_output=True,
                                        text=True, check=True).stdout)["spec"]
    vip, node_port = service["clusterIP"], service["ports"][0]["nodePort"]
    run("kubectl", "get", "service", "frontend")
    node("worker-1", "sh", "-c", "iptables-save -t nat | grep -e default/frontend -e 'KUBE-SERVICES.*nodeports'")
    run("kubectl", "exec", sender["metadata"]["name"], "--", "wget", "-qO", "/dev/null", "-S", f"http://{vip}/",
        show=f"kubectl exec {sender['metadata']['name']} -- wget -qO /dev/null -S http://{vip}/   # the ClusterIP")
    node(sender["spec"]["nodeName"], "conntrack", "-L", "-d", vip)
    print("(conntrack: the request to the ClusterIP and, DNATed, the reply tuple from the pod chosen; had the pod\n"
          " picked itself, the reply goes to cni0's address: KUBE-SEP's hairpin masquerade)")
    node("control-plane", "sh", "-c", f"wget -qO- http://10.240.0.21:{node_port}/ | grep title")
    print(f"(the NodePort {node_port} answers on every node's IP, with or without a frontend pod on it)")

    banner("Where did the packet go: kinn trace follows one real SYN through every namespace, hook and rule")
    kinn("trace", "--name", CLUSTER, f"pod/{sender['metadata']['name']}", "svc/frontend")

    banner("A rolling update: new ReplicaSet up, old one down, within maxSurge/maxUnavailable")
    run("kubectl", "set", "image", "deployment/frontend", "php-redis=nginx:1.27")
    run("kubectl", "rollout", "status", "deployment/frontend", "--timeout=120s")
    run("kubectl", "get", "replicasets", "-o", "wide")

    banner("Validation: errors name the field, as Kubernetes does")
    run("kubectl", "create", "deployment", "Bad_Name", "--image=nginx")

    banner("Try it yourself")
    print(textwrap.dedent(f"""\
        export PATH=$PWD/.venv/bin:$PATH     # the kinn command
        kubectl get pods -o wide -w          # kubectl's context is kinn-{CLUSTER}
        kinn node exec --name {CLUSTER} worker-2 -- ip route
        kinn node exec --name {CLUSTER} worker-2 -- tcpdump -ni flannel.1
        kinn explain --name {CLUSTER} svc/frontend          # the objects and, per node, the kernel state behind them
        kinn topology --name {CLUSTER} --format png -o topology.png
        kinn lab 003 --run                   # seed 003's experiments, on a cluster of its own
        kinn down --name {CLUSTER}                 # removes every namespace, process and file of the cluster
        """))


if __name__ == "__main__":
    main()
