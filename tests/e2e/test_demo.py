"""The README's first command: `hack/demo.py`, on a cluster of its own. The demo stops by itself only
when `kinn up` or the first rollout fails; this checks that every later step showed what it is
there to show."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kinn_cluster import KinnCluster, keep_logs

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_demo_shows_every_step(tmp_path: Path) -> None:
    cluster = KinnCluster(f"kdemo{uuid.uuid4().hex[:4]}", tmp_path, tmp_path / "kubeconfig")
    try:
        result = subprocess.run([sys.executable, str(ROOT / "hack" / "demo.py")], capture_output=True, text=True,
                                env={**cluster.env, "KINN_DEMO_CLUSTER": cluster.name}, timeout=300)
    finally:
        keep_logs(cluster)
        cluster.kinn("down", "--name", cluster.name, check=False)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f'Cluster "{cluster.name}" is ready' in out
    assert out.count('deployment "frontend" successfully rolled out') == 2, out
    assert re.search(r"^cni-[0-9a-f-]{36} \(id: \d+\)$", out, re.M), out
    assert re.search(r"^10\.244\.\d+\.0/24 via 10\.244\.\d+\.0 dev flannel\.1 onlink", out, re.M), out
    assert "FLANNEL_NETWORK=10.244.0.0/16" in out
    sender_ip = re.search(r"^\(the sender is \S+ with IP (\S+)\)$", out, re.M)
    assert sender_ip and f"\n{sender_ip[1]} - - [" in out, out  # the receiving nginx logged the pod IP: no NAT
    assert re.search(r"KUBE-SVC-\w+ -m comment --comment \"default/frontend -> [\d.:]+\" -m statistic --mode random "
                     r"--probability 0\.33333333349", out), out
    assert "  HTTP/1.1 200 OK" in out and "<title>Welcome to nginx!</title>" in out
    assert re.search(r"to service default/frontend [\d.]+:80: connected", out), out
    request = out.split("→ request:")[1].split("← reply:")[0]  # whichever pod it picked, itself included
    assert re.search(r"delivered to pod default/frontend-\S+ on eth0", request), out
    assert re.search(r"^frontend-\w+ +3 +3 +3 .* nginx:1\.27 ", out, re.M), out
    assert 'metadata.name: Invalid value: "Bad_Name"' in out
