"""The workload kinn trace's e2e modules trace through: a client pod on worker-1, the `web` Service
whose only pod serves on worker-2, and the `empty` Service without endpoints (its REJECT)."""

from __future__ import annotations

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
