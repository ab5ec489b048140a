"""What the cluster benchmarks share: a throw-away `kinn up` cluster and the memory of its processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from array import array
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from scratch import scratch_dir

from kinn.cluster import cgroups, config
from kinn.cluster.cluster import Cluster
from kinn.cluster.down import down
from kinn.cluster.up import up

PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENT, FRAME = 1 << 63, (1 << 55) - 1  # /proc/PID/pagemap: page present, its frame number


@contextmanager
def isolated_home() -> Iterator[None]:
    """Clusters made inside get their own state dir, kubeconfig and kubectl cache (~/.kube is left
    alone), removed at the end."""
    with scratch_dir("kinn-bench-home-") as home:
        os.environ["KINN_HOME"], os.environ["KUBECONFIG"] = str(home), str(home / "kubeconfig")
        os.environ["KUBECACHEDIR"] = str(home / "kubecache")
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
    """(RSS, footprint) of every process of the cluster, in MiB. RSS counts a shared page once per
    process that maps it (an upper bound). The footprint counts each resident page once, however
    many of the cluster's processes map it, from their page tables (/proc/PID/pagemap, root only).
    PSS would split shared pages with every process on the machine that maps them, this benchmark
    included (it has imported kinn and its libraries), and so report less than the cluster holds."""
    rss, frames = 0, set()
    for pid in cgroups.members(cluster.paths.cgroup):
        try:
            rss += sum(int(line.split()[1]) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
                       if line.startswith("Rss:"))
            frames |= resident_frames(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
    if frames == {0}:
        raise PermissionError("/proc/PID/pagemap shows page frames to root only")
    return rss / 1024, len(frames) * PAGE / 2**20


def resident_frames(pid: int) -> set[int]:
    """The physical page frames a process has resident: one 64-bit pagemap entry per virtual page,
    bit 63 = present, bits 0–54 = frame number."""
    frames: set[int] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            start, end = (int(address, 16) for address in line.split(None, 1)[0].split("-"))
            pagemap.seek(start // PAGE * 8)
            entries = array("Q", pagemap.read((end - start) // PAGE * 8))
            frames.update(entry & FRAME for entry in entries if entry & PRESENT)
    return frames
