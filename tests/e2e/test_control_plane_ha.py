"""High availability on real processes: two `kinn controller-manager` and two `kinn scheduler` against one
`kinn apiserver` with hollow nodes.

Only the holder of each Lease (`kube-system/kube-controller-manager`, `kube-system/kube-scheduler`) acts,
so a Deployment converges exactly once; when a leader is SIGKILLed the standby takes the Lease over
once it expires and carries on. Short `--leader-elect-*` timings keep the takeover to seconds.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from conftest import RunningAPIServer, start_apiserver, start_hollow_nodes
from kubectl_output import wait_until

LEASE_DURATION = 3.0
TIMINGS = ("--leader-elect-lease-duration", f"{LEASE_DURATION:g}s", "--leader-elect-renew-deadline", "2s",
           "--leader-elect-retry-period", "0.25s")
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ha}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.25"}]}
"""


@dataclass
class Component:
    """One `kinn scheduler` or `kinn controller-manager` process and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    def identity(self, lease: str) -> str | None:
        """The holder identity this process logged on becoming leader of `lease`, if it did."""
        found = re.search(rf"{lease}: (\S+) became leader", self.log.read_text())
        return found.group(1) if found else None


def start_component(server: RunningAPIServer, command: str, index: int) -> Component:
    log = server.data_dir / f"{command}-{index}.log"
    process = subprocess.Popen([sys.executable, "-m", "kinn", command, "--kubeconfig", str(server.kubeconfig),
                                *TIMINGS], stdout=log.open("ab"), stderr=subprocess.STDOUT)
    server.companions.append(process)
    return Component(process, log)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningAPIServer, dict[str, list[Component]]]]:
    server = start_apiserver(tmp_path_factory.mktemp("ha"))
    try:
        components = {command: [start_component(server, command, i) for i in range(2)]
                      for command in ("controller-manager", "scheduler")}
        start_hollow_nodes(server, 2)  # nodes get podCIDRs from the leading controller manager
    except BaseException:
        server.stop()
        raise
    yield server, components
    server.stop(signal.SIGKILL)


def holders(server: RunningAPIServer) -> dict[str, str]:
    """Holders of the Leases that exist so far (a component may not have created its Lease yet)."""
    out = server.kubectl("get", "lease", "-n", "kube-system", "kube-controller-manager", "kube-scheduler",
                         "-o", "json", check=False).stdout
    return {lease["metadata"]["name"]: lease["spec"].get("holderIdentity")
            for lease in json.loads(out or "{\"items\": []}")["items"]}


def leader_of(components: list[Component], lease: str) -> tuple[Component, Component]:
    """(leader, standby) by the identities the processes logged; exactly one may have led so far."""
    leading = [c for c in components if c.identity(lease)]
    assert len(leading) == 1, f"{len(leading)} instances became {lease} leader"
    return leading[0], next(c for c in components if c is not leading[0])


def pod_names(server: RunningAPIServer) -> set[str]:
    out = server.kubectl("get", "pods", "-n", "ha", "-o", "jsonpath={.items[*].metadata.name}").stdout
    return set(out.split())


def test_one_leader_each_converges_once_and_a_standby_takes_over(cluster):
    server, components = cluster
    leases = wait_until(lambda: (h := holders(server)) and len(h) == 2 and all(h.values()) and h,
                        what="both Leases to be held")
    cm_leader, cm_standby = leader_of(components["controller-manager"], "kube-controller-manager")
    sched_leader, sched_standby = leader_of(components["scheduler"], "kube-scheduler")
    assert leases == {"kube-controller-manager": cm_leader.identity("kube-controller-manager"),
                      "kube-scheduler": sched_leader.identity("kube-scheduler")}
    table = server.kubectl("get", "lease", "-n", "kube-system", "kube-controller-manager", "kube-scheduler").stdout
    assert table.split("\n")[0].split() == ["NAME", "HOLDER", "AGE"]

    server.kubectl("create", "namespace", "ha")
    with server.kubectl_stream("get", "pods", "-n", "ha", "-w", "-o", "jsonpath={.metadata.name}{\"\\n\"}") as watch:
        server.kubectl("apply", "-f", "-", input=DEPLOYMENT)
        server.kubectl("rollout", "status", "deployment/web", "-n", "ha", "--timeout=30s")
        ever_seen = set(watch.lines)
    assert len(pod_names(server)) == 4
    assert len(ever_seen) == 4, f"pods created beyond the 4 replicas: {sorted(ever_seen)}"
    assert len(server.kubectl("get", "rs", "-n", "ha", "-o", "name").stdout.split()) == 1
    scheduled = server.kubectl("get", "events", "-n", "ha", "--field-selector", "reason=Scheduled",
                               "-o", "jsonpath={range .items[*]}{.count}{\"\\n\"}{end}").stdout.split()
    assert scheduled == ["1"] * 4, "every pod is bound exactly once, by one scheduler"

    killed_at = time.monotonic()
    for leader in (cm_leader, sched_leader):
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(timeout=10)
    expected = {"kube-controller-manager": cm_standby.identity, "kube-scheduler": sched_standby.identity}
    # A standby waits one lease duration of silence, then a retry period; the margin absorbs a loaded CI host.
    wait_until(lambda: all(expected[name](name) for name in expected), timeout=LEASE_DURATION + 10,
               what="the standbys to take the Leases over")
    assert time.monotonic() - killed_at < LEASE_DURATION + 10
    assert holders(server) == {name: identity(name) for name, identity in expected.items()}

    server.kubectl("scale", "deployment/web", "-n", "ha", "--replicas=6")
    server.kubectl("rollout", "status", "deployment/web", "-n", "ha", "--timeout=30s")
    running = server.kubectl("get", "pods", "-n", "ha", "--field-selector", "status.phase=Running",
                             "-o", "name").stdout.split()
    assert len(running) == 6
