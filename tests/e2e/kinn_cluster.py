"""A kinn cluster driven from the host as its user drives it: `kinn` and `kubectl` in subprocesses,
with the cluster's own KINN_HOME, kubeconfig and kubectl cache, so modules' clusters coexist."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kubectl_output import wait_until


@dataclass
class KinnCluster:
    name: str
    home: Path
    kubeconfig: Path

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KINN_HOME": str(self.home), "KUBECONFIG": str(self.kubeconfig),
                "KUBECACHEDIR": str(self.home / "kubecache")}

    def kinn(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "kinn", *args], capture_output=True, text=True,
                                env=self.env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kinn {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result

    def node_exec(self, node: str, *command: str) -> str:
        return self.kinn("node", "exec", "--name", self.name, node, "--", *command).stdout

    def kubectl(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env, input=input,
                                timeout=60)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def pod(self, name: str) -> dict:
        return json.loads(self.kubectl("get", "pod", name, "-o", "json"))

    def run_pod(self, name: str, node: str, *command: str, image: str = "python") -> dict:
        """A pod pinned to `node`; returns it once Running with an IP."""
        manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
                    "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                             "containers": [{"name": "main", "image": image, "command": list(command)}]}}
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        return wait_until(lambda: (pod := self.pod(name))["status"].get("phase") == "Running" and pod,
                          timeout=60, what=f"pod {name} Running")


@contextlib.contextmanager
def kinn_up(cluster: KinnCluster, *up_args: str) -> Iterator[KinnCluster]:
    """`kinn up` the cluster for the block, and `kinn down` it whatever happens."""
    cluster.kinn("up", "--name", cluster.name, *up_args)
    try:
        yield cluster
    finally:
        keep_logs(cluster)
        cluster.kinn("down", "--name", cluster.name, check=False)


def keep_logs(cluster: KinnCluster) -> None:
    """Copy the components' logs out of the state dir `kinn down` removes, to read after a failure
    (in pytest's tmp dir, which keeps the last three runs)."""
    state = cluster.home / "clusters" / cluster.name
    for log in [state / "server.log", *state.glob("nodes/*/var/log/kinn-*.log")]:
        if log.exists():
            target = cluster.home / "logs" / log.relative_to(state)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log, target)
