#!/usr/bin/env python3
"""The kinn demo: start a fresh control plane and drive it with the real kubectl, step by step.

`kinn server` runs the API server, the scheduler and the controller manager; until kinn's real
nodes land, three *hollow* nodes (simulated kubelets, like KWOK's, labelled kinn.io/hollow=true)
stand in for machines, so Deployments converge exactly as seed 002 describes. Each step prints
the command and what it printed. Everything keeps running afterwards so you can go on exploring;
the last lines say how to use it and how to stop it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".kinn" / "demo"
KUBECONFIG = STATE / "kubeconfig"
PIDFILE = STATE / "pids"
PORT = os.environ.get("KINN_DEMO_PORT", "6443")

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


def kubectl_env() -> dict[str, str]:
    return {**os.environ, "KUBECONFIG": str(KUBECONFIG), "KUBECACHEDIR": str(STATE / "kubectl-cache")}


def run_quiet(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, env=kubectl_env()).stdout


def run(*args: str, input: str | None = None, show: str | None = None, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    print(f"\033[1m$ {show or ' '.join(args)}\033[0m", flush=True)
    result = subprocess.run(args, input=input, capture_output=True, text=True, env=kubectl_env())
    if not quiet:
        sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)
    sys.stdout.flush()
    return result


def stop_previous() -> None:
    """End the processes a previous demo started (by the PIDs it recorded)."""
    if not PIDFILE.exists():
        return
    for pid in (int(p) for p in PIDFILE.read_text().split()):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


def start(name: str, *args: str) -> subprocess.Popen[bytes]:
    log = (STATE / f"{name}.log").open("w")
    return subprocess.Popen([sys.executable, "-m", "kinn", *args], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(what: str, done: Callable[[], bool], process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + 60
    while not done():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"{what} failed:\n{(STATE / log).read_text()}")
        time.sleep(0.1)


def nodes_ready() -> bool:
    out = run_quiet("kubectl", "get", "nodes", "-o",
                    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{end}')
    return out.split() == ["True"] * 3


def start_cluster() -> list[int]:
    subprocess.run(["rm", "-rf", str(STATE)], check=True)
    STATE.mkdir(parents=True)
    server = start("server", "server", "--data-dir", str(STATE), "--secure-port", PORT,
                   "--kubeconfig-out", str(KUBECONFIG))
    wait_for("kinn server", KUBECONFIG.exists, server, "server.log")
    nodes = start("hollow-nodes", "hollow-nodes", "--kubeconfig", str(KUBECONFIG), "--count", "3")
    pids = [server.pid, nodes.pid]
    PIDFILE.write_text(" ".join(map(str, pids)))
    wait_for("hollow nodes", nodes_ready, nodes, "hollow-nodes.log")
    return pids


def main() -> None:
    stop_previous()
    banner(f"Starting kinn server (API server + scheduler + controller manager; state in {STATE.relative_to(ROOT)})")
    pids = start_cluster()
    print(f"kinn server and 3 hollow nodes running (pids {' '.join(map(str, pids))}), https://127.0.0.1:{PORT}")

    banner("The real kubectl sees a cluster: nodes (hollow = simulated kubelets), namespaces, the kubernetes Service")
    run("kubectl", "get", "nodes", "-o", "wide")
    run("kubectl", "get", "namespaces")
    run("kubectl", "get", "service,endpoints", "-o", "wide")

    banner("Seed 002: a Deployment → ReplicaSet → pods, scheduled onto nodes, IPs from each node's podCIDR")
    run("kubectl", "apply", "-f", "-", input=MANIFEST, show="kubectl apply -f guestbook-frontend.yaml")
    run("kubectl", "rollout", "status", "deployment/frontend", "--timeout=60s")
    run("kubectl", "get", "deployment,replicaset,pods", "-o", "wide")
    run("kubectl", "get", "endpoints", "frontend")
    run("kubectl", "get", "events", "--field-selector", "involvedObject.kind=Pod,reason=Scheduled",
        "-o", "custom-columns=REASON:.reason,MESSAGE:.message")

    banner("A rolling update: new ReplicaSet up, old one down, within maxSurge/maxUnavailable")
    run("kubectl", "set", "image", "deployment/frontend", "php-redis=nginx:1.27")
    run("kubectl", "rollout", "status", "deployment/frontend", "--timeout=60s")
    run("kubectl", "get", "replicasets", "-o", "wide")
    run("kubectl", "rollout", "history", "deployment/frontend")

    banner("High availability: the scheduler and the controller manager each hold a Lease")
    run("kubectl", "get", "leases", "-n", "kube-system")

    banner("Optimistic concurrency: an update from a stale resourceVersion is refused")
    stale = run("kubectl", "get", "deployment", "frontend", "-o", "json",
                show="kubectl get deployment frontend -o json > stale.json", quiet=True).stdout
    run("kubectl", "label", "deployment", "frontend", "release=canary")
    run("kubectl", "replace", "-f", "-", input=stale, show="kubectl replace -f stale.json")

    banner("Validation: errors name the field, as Kubernetes does")
    run("kubectl", "create", "deployment", "Bad_Name", "--image=nginx")
    run("kubectl", "create", "service", "nodeport", "clash", "--tcp=80:80", "--node-port=99999")

    banner("Behind the scenes: the store keeps etcd's key layout and one global revision")
    run("sqlite3", str(STATE / "state.db"),
        "select mod_revision, key from kv where key like '/registry/deployments/%' or key like '/registry/replicasets/%'",
        show="sqlite3 .kinn/demo/state.db \"select mod_revision, key from kv where key like '/registry/deployments/%' ...\"")

    banner("Try it yourself")
    print(textwrap.dedent(f"""\
        export KUBECONFIG={KUBECONFIG}
        kubectl get all -A
        kubectl get pods -w        # then, in another shell: kubectl scale deploy frontend --replicas=6

        kinn server and the hollow nodes keep running; stop them with:  kill {' '.join(map(str, pids))}
        """))


if __name__ == "__main__":
    main()
