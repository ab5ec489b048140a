"""The workload kinn trace's e2e modules trace through: a client pod on worker-1, the `web` Service
whose only pod serves on worker-2, and the `empty` Service without endpoints (its REJECT); and
`kinn trace` itself, run as a user runs it."""

from __future__ import annotations

import json

from kinn_cluster import KinnCluster

SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec: {selector: {app: nothing}, ports: [{port: 80, targetPort: 8080}]}
"""


def with_pods(cluster: KinnCluster) -> KinnCluster:
    """The cluster, once the Services exist and both pods are Running."""
    cluster.kubectl("apply", "-f", "-", input=SERVICES)
    cluster.run_pod("client", "worker-1", "sleep", "3600")
    cluster.run_pod("web", "worker-2", "python3", "-m", "http.server", "8080")
    return cluster


ANSWERED = ("connected", "answered", "echo reply")


def trace(cluster: KinnCluster, *args: str) -> str:
    """`kinn trace ARGS`'s output; its exit status must say what its first line (or JSON) says: 0 when the
    probe got an answer, 1 when it did not (refused, timed out, unreachable)."""
    result = cluster.kinn("trace", "--name", cluster.name, *args, check=False)
    if "--json" in args:
        answered = json.loads(result.stdout)["probe"]["ok"]
    else:
        answered = result.stdout.split("\n", 1)[0].rsplit(": ", 1)[-1] in ANSWERED
    assert result.returncode == (0 if answered else 1), (result.returncode, result.stdout, result.stderr)
    return result.stdout
