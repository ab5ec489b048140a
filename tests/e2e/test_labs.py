"""The five seed labs, run as a user runs them: `kinn lab SEED --run` (a subprocess of the real kinn),
which brings the lab's cluster up, runs every step checking its observation, and tears it down.

Each test also asserts the seed's key observation on the printed output itself, so a lab.yaml whose
`expect` was weakened would not pass unnoticed. The labs run one after another (one cluster at a time).
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kinn_cluster import KinnCluster

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> KinnCluster:
    """KINN_HOME, kubeconfig and kubectl cache of this module's own, shared by the labs in turn."""
    base = tmp_path_factory.mktemp("labs")
    return KinnCluster(name="unused", home=base / "kinn", kubeconfig=base / "kubeconfig")


def run_lab(home: KinnCluster, seed: str) -> str:
    """`kinn lab SEED --run` on a cluster of a unique name; returns its output, failing with it."""
    name = f"lab{seed}-{uuid.uuid4().hex[:6]}"
    done = subprocess.run([sys.executable, "-m", "kinn", "lab", seed, "--run", "--name", name],
                          capture_output=True, text=True, env=home.env, timeout=300)
    assert done.returncode == 0, f"kinn lab {seed} failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert name not in subprocess.run([sys.executable, "-m", "kinn", "get", "clusters"], capture_output=True,
                                      text=True, env=home.env).stdout, "the lab's cluster was left behind"
    return done.stdout


def test_seed_000_userspace_proxy_connects_from_the_node_ip(home: KinnCluster) -> None:
    out = run_lab(home, "000")
    assert re.search(r'-A KUBE-PORTALS-CONTAINER -d 20\.1\.\d+\.\d+/32 .*"default/frontend:".* -j REDIRECT --to-ports',
                     out)
    assert re.search(r"-A KUBE-PORTALS-HOST -d 20\.1\.\d+\.\d+/32 .* -j DNAT --to-destination 192\.168\.1\.129:\d+", out)
    nic = out[out.index("== eth0 (node1's NIC)"):]
    # The article's docker0 subnets, from the nodes' podCIDRs in cluster.yaml: node1 10.1.10.0/24, node2 .20, node3 .30.
    backends = re.findall(r"IP 192\.168\.1\.129\.\d+ > 10\.1\.(\d+)\.\d+\.80: tcp 0", nic)
    assert sorted(backends) == ["20", "30"], nic  # kube-proxy's own connections, to the pods on node2 and node3
    assert re.search(r"IP 10\.1\.10\.\d+\.\d+ > 20\.1\.\d+\.\d+\.80: tcp 0", nic)  # the pod's, on its veth


def test_seed_001_conntrack_dnat_and_reply_un_nat(home: KinnCluster) -> None:
    out = run_lab(home, "001")
    flow = re.search(r"src=(10\.244\.\d+\.\d+) dst=(10\.\d+\.\d+\.\d+) sport=(\d+) dport=80 "
                     r"src=(10\.244\.\d+\.\d+) dst=\1 sport=80 dport=\3 ", out)
    assert flow and flow.group(2) != flow.group(4), out[-3000:]
    assert re.search(rf"IP {re.escape(flow.group(2))}\.80 > 10\.244\.\d+\.\d+\.\d+: Flags \[S\.\]", out)


def test_seed_002_probabilities_for_six_endpoints(home: KinnCluster) -> None:
    out = run_lab(home, "002")
    probabilities = re.findall(r'"default/frontend -> [\d.:]+" -m statistic --mode random --probability (\S+)', out)
    assert probabilities == ["0.16666666651", "0.20000000019", "0.25000000000", "0.33333333349", "0.50000000000"]
    assert "the object has been modified; please apply your changes to the latest version and try again" in out
    assert re.search(r"IP 10\.240\.0\.21\.\d+ > 10\.240\.0\.22\.8472: OTV, flags \[I\] \(0x08\), overlay 0, instance 1", out)


def test_seed_003_snat_with_ip_masq_and_none_without(home: KinnCluster) -> None:
    out = run_lab(home, "003")
    # The article's pod subnets, from the workers' podCIDRs in cluster.yaml; the controller gets the next free /24.
    assert re.search(r"^controller-0\s+10\.200\.2\.0/24\nworker-0\s+10\.200\.0\.0/24\nworker-1\s+10\.200\.1\.0/24$",
                     out, re.MULTILINE), out[:3000]
    assert "10.200.0.0/24 via 10.240.0.20 dev kinn0" in out and "10.200.1.0/24 via 10.240.0.21 dev kinn0" in out
    masq, plain = out.split("=== Step 10/")[0], out.split("=== Step 10/")[1]
    # With the bridge's ipMasq: the reply goes to worker-0's IP, and worker-1 sees the node as the source.
    assert re.search(r"icmp .* src=(10\.200\.0\.\d+) dst=(10\.200\.1\.\d+) type=8 .* src=\2 dst=10\.240\.0\.20 type=0", masq)
    assert re.search(r"icmp .* src=10\.240\.0\.20 dst=10\.200\.1\.\d+ type=8", masq)
    # Without: pod to pod on both workers, no translation.
    pod_to_pod = re.findall(r"icmp .* src=(10\.200\.0\.\d+) dst=(10\.200\.1\.\d+) type=8 code=0 id=\d+ src=\2 dst=\1 ", plain)
    assert len(pod_to_pod) == 2, plain[:3000]
    assert "-m tcp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4" in plain and "-m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU" in plain
    assert re.search(r"-p udp -m comment --comment \"kube-system/kube-dns:dns\" -m udp -j DNAT --to-destination "
                     r"10\.200\.\d+\.\d+:53", plain)
    node_port = re.search(r"src=10\.240\.0\.254 dst=10\.240\.0\.20 sport=\d+ dport=31088 src=(10\.200\.1\.\d+) "
                          r"dst=10\.240\.0\.20 sport=80 dport=(\d+)", plain)
    assert node_port, plain[-3000:]
    assert f"src=10.240.0.20 dst={node_port.group(1)} sport={node_port.group(2)} dport=80" in plain


def test_seed_004_two_containers_one_network(home: KinnCluster) -> None:
    out = run_lab(home, "004")
    assert re.search(r"test-pod-\S+\s+1/2\s+(Error|CrashLoopBackOff)\s+[1-9]", out)
    assert "nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)" in out
    assert re.search(r"test-pod-\S+\s+2/2\s+Running", out)
    assert re.search(r"(?s)Directory listing for /.*<title>Welcome to nginx!</title>", out)
    sandbox = re.search(r"^([0-9a-f]{64})$", out, re.MULTILINE)  # cat /var/lib/cni/networks/dindnet/<ip>
    assert sandbox and re.search(rf"^{sandbox.group(1)[:13]}\s+.*\s+test-pod-", out, re.MULTILINE)


def test_the_labs_are_all_here() -> None:
    listed = subprocess.run([sys.executable, "-m", "kinn", "lab", "--list"], capture_output=True, text=True,
                            check=True).stdout
    assert [line.split()[0] for line in listed.splitlines()] == ["000", "001", "002", "003", "004"]
    assert Path(__file__).resolve().parents[2].joinpath("examples", "seed-003-behind-the-scenes", "README.md").exists()
