"""What the cluster benchmarks share: a throw-away `kinn up` cluster and the memory of its processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from scratch import scratch_dir

from kinn.cluster import cgroups, config
from kinn.cluster.cluster import Cluster
from kinn.cluster.down import down
from kinn.cluster.up import up


@contextmanager
def isolated_home() -> Iterator[None]:
    """Clusters made inside get their own state dir and kubeconfig (~/.kube/config is left alone),
    removed at the end."""
    with scratch_dir("kinn-bench-home-") as home:
        os.environ["KINN_HOME"], os.environ["KUBECONFIG"] = str(home), str(home / "kubeconfig")
        yield


def bench_spec(prefix: str, workers: int = 2, proxy_mode: str = "iptables") -> config.ClusterSpec:
    """A default cluster with a unique name."""
    doc = config.default_document(f"{prefix}{uuid.uuid4().hex[:4]}", workers)
    return config.parse({**doc, "networking": {"kubeProxyMode": proxy_mode}})


@contextmanager
def bench_cluster(workers: int = 2, prefix: str = "bench", proxy_mode: str = "iptables") -> Iterator[Cluster]:
    """A fresh cluster in an isolated home, removed afterwards. It is handed over once its add-on
    pods (DNS, ingress controller) run: their start-up would otherwise be measured as the bench's."""
    with isolated_home():
        cluster = asyncio.run(up(bench_spec(prefix, workers, proxy_mode), echo=lambda line: None))
        try:
            subprocess.run(["kubectl", "wait", "--for=condition=Ready", "pods", "--all", "--all-namespaces",
                            "--timeout=60s"], check=True, capture_output=True)
            yield cluster
        finally:
            down(cluster.name)


def memory_mib(cluster: Cluster) -> tuple[float, float]:
    """(RSS, PSS) of every process of the cluster, in MiB. RSS counts shared pages once per process
    (an upper bound); PSS splits them among their sharers, so PSS sums to the cluster's real footprint."""
    rss = pss = 0
    for pid in cgroups.members(cluster.paths.cgroup):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return rss / 1024, pss / 1024
