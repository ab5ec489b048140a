#!/usr/bin/env python3
"""The kinn demo: start a fresh API server and drive it with the real kubectl, step by step.

Each step prints the command and what it printed, as a walkthrough. The server keeps running
afterwards so you can go on exploring; the last lines say how to use it and how to stop it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".kinn" / "demo"
KUBECONFIG = STATE / "kubeconfig"
PIDFILE = STATE / "apiserver.pid"
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
            image: nginx:1.27
            ports:
            - containerPort: 80
    """)


def banner(text: str) -> None:
    print(f"\n\033[1;34m== {text}\033[0m", flush=True)


def run(*args: str, input: str | None = None, show: str | None = None, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(KUBECONFIG), "KUBECACHEDIR": str(STATE / "kubectl-cache")}
    print(f"\033[1m$ {show or ' '.join(args)}\033[0m", flush=True)
    result = subprocess.run(args, input=input, capture_output=True, text=True, env=env)
    if not quiet:
        sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)
    sys.stdout.flush()
    return result


def stop_previous() -> None:
    if not PIDFILE.exists():
        return
    pid = int(PIDFILE.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def start_apiserver() -> int:
    subprocess.run(["rm", "-rf", str(STATE)], check=True)
    STATE.mkdir(parents=True)
    log = (STATE / "apiserver.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "kinn", "apiserver", "--data-dir", str(STATE), "--secure-port", PORT,
         "--kubeconfig-out", str(KUBECONFIG)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not KUBECONFIG.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"kinn apiserver failed to start:\n{(STATE / 'apiserver.log').read_text()}")
        time.sleep(0.05)
    PIDFILE.write_text(str(process.pid))
    return process.pid


def main() -> None:
    stop_previous()
    banner(f"Starting kinn apiserver (SQLite store and PKI in {STATE.relative_to(ROOT)})")
    pid = start_apiserver()
    print(f"kinn apiserver running, pid {pid}, https://127.0.0.1:{PORT}")

    banner("The real kubectl talks to it: version, namespaces, the kubernetes Service")
    run("kubectl", "version")
    run("kubectl", "get", "namespaces")
    run("kubectl", "get", "service,endpoints", "-o", "wide")

    banner("Typed create (kubectl sends protobuf), apply of a multi-document manifest")
    run("kubectl", "create", "deployment", "redis-leader", "--image=redis:6.0.5", "--port=6379")
    run("kubectl", "apply", "-f", "-", input=MANIFEST, show="kubectl apply -f guestbook-frontend.yaml")
    run("kubectl", "get", "deployments,services", "-o", "wide")

    banner("Desired state only: no scheduler or kubelet yet, so replicas stay at 0 (seed 002)")
    run("kubectl", "scale", "deployment", "frontend", "--replicas=5")
    run("kubectl", "get", "deployment", "frontend", "-o",
        "jsonpath={.spec.replicas} replicas wanted, generation {.metadata.generation}{\"\\n\"}")

    banner("Optimistic concurrency: an update from a stale resourceVersion is refused")
    stale = run("kubectl", "get", "deployment", "frontend", "-o", "json", show="kubectl get deployment frontend -o json > stale.json", quiet=True).stdout
    run("kubectl", "label", "deployment", "frontend", "release=canary")
    run("kubectl", "replace", "-f", "-", input=stale, show="kubectl replace -f stale.json")

    banner("Validation: errors name the field, as Kubernetes does")
    run("kubectl", "create", "deployment", "Bad_Name", "--image=nginx")
    run("kubectl", "create", "service", "nodeport", "clash", "--tcp=80:80", "--node-port=99999")

    banner("Behind the scenes: the store keeps etcd's key layout and one global revision")
    run("sqlite3", str(STATE / "state.db"),
        "select mod_revision, key from kv where key like '/registry/deployments/%' or key like '/registry/services/%'",
        show="sqlite3 .kinn/demo/state.db \"select mod_revision, key from kv where key like '/registry/deployments/%' ...\"")

    banner("Try it yourself")
    print(textwrap.dedent(f"""\
        export KUBECONFIG={KUBECONFIG}
        kubectl get all -A
        kubectl get deployments -w        # then, in another shell: kubectl scale deploy frontend --replicas=2

        The API server keeps running (pid {pid}); stop it with:  kill {pid}
        """))


if __name__ == "__main__":
    main()
