"""`kinn dns` against a real control plane (`kinn server` + hollow nodes): real UDP and TCP queries on
loopback, answers built from the cluster's own Services and the EndpointSlices its controllers write,
and following every change as the watch events arrive."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Iterator

import pytest
import yaml
from dnslib import QTYPE, RCODE, DNSRecord

from conftest import RunningAPIServer
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

NS = "dnstest"
ZONE = "cluster.local"
FOLLOW_SECONDS = 1.0  # the bound for answers to follow a change

WORKLOADS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "frontend", "namespace": NS},
     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "frontend"}},
              "template": {"metadata": {"labels": {"app": "frontend"}},
                           "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                                    "ports": [{"name": "http", "containerPort": 80}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "frontend", "namespace": NS},
     "spec": {"selector": {"app": "frontend"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NS},
     "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web", "namespace": NS},
     "spec": {"serviceName": "web", "replicas": 2, "podManagementPolicy": "Parallel",
              "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "nginx", "image": "nginx",
                                                    "ports": [{"name": "http", "containerPort": 80}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "docs", "namespace": NS},
     "spec": {"type": "ExternalName", "externalName": "kubernetes.io"}},
]


def free_port() -> int:
    """A port free for both UDP and TCP on loopback."""
    while True:
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            try:
                udp.bind(("127.0.0.1", tcp.getsockname()[1]))
            except OSError:
                continue
            return tcp.getsockname()[1]


class DNSServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int, ready_port: int) -> None:
        self.process, self.port, self.ready_port = process, port, ready_port

    def ask(self, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
        return DNSRecord.parse(DNSRecord.question(name, qtype).send("127.0.0.1", self.port, tcp=tcp, timeout=2))

    def addresses(self, name: str, qtype: str = "A") -> list[str]:
        return sorted(str(rr.rdata) for rr in self.ask(name, qtype).rr if rr.rtype == getattr(QTYPE, qtype))

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ready_port}/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False


@pytest.fixture(scope="module")
def dns(control_plane: RunningAPIServer) -> Iterator[DNSServer]:
    control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(WORKLOADS))
    port, ready_port = free_port(), free_port()
    log = control_plane.data_dir / "dns.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "kinn", "dns", "--kubeconfig", str(control_plane.kubeconfig), "--bind-address",
         "127.0.0.1", "--port", str(port), "--health-port", "0", "--ready-port", str(ready_port)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT)
    server = DNSServer(process, port, ready_port)
    try:
        wait_until(lambda: server.ready() or process.poll() is not None, timeout=30, what="kinn dns ready")
        assert process.poll() is None, log.read_text()
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


def pod_ips(control_plane: RunningAPIServer, selector: str) -> list[str]:
    pods = json.loads(control_plane.kubectl("get", "pods", "-n", NS, "-l", selector, "-o", "json").stdout)["items"]
    return sorted(p["status"]["podIP"] for p in pods if p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp"))


def cluster_ip(control_plane: RunningAPIServer, service: str) -> str:
    return control_plane.kubectl("get", "service", service, "-n", NS, "-o", "jsonpath={.spec.clusterIP}").stdout


def test_service_names_over_udp_and_tcp(dns: DNSServer, control_plane: RunningAPIServer) -> None:
    ip = cluster_ip(control_plane, "frontend")
    for tcp in (False, True):
        response = dns.ask(f"frontend.{NS}.svc.{ZONE}", tcp=tcp)
        assert (RCODE[response.header.rcode], response.header.aa, [str(rr.rdata) for rr in response.rr]) == \
            ("NOERROR", 1, [ip])
    assert dns.addresses(f"kubernetes.default.svc.{ZONE}") == ["10.96.0.1"]
    srv = dns.ask(f"_http._tcp.frontend.{NS}.svc.{ZONE}", "SRV")
    assert [str(rr.rdata) for rr in srv.rr] == [f"0 100 80 frontend.{NS}.svc.{ZONE}."]
    assert [str(rr.rdata) for rr in srv.ar] == [ip]
    ptr = dns.ask(".".join(reversed(ip.split("."))) + ".in-addr.arpa", "PTR")
    assert [str(rr.rdata) for rr in ptr.rr] == [f"frontend.{NS}.svc.{ZONE}."]
    nodata = dns.ask(f"frontend.{NS}.svc.{ZONE}", "AAAA")
    assert (RCODE[nodata.header.rcode], nodata.rr, [QTYPE[rr.rtype] for rr in nodata.auth]) == ("NOERROR", [], ["SOA"])
    assert RCODE[dns.ask(f"backend.{NS}.svc.{ZONE}").header.rcode] == "NXDOMAIN"
    assert [str(rr.rdata) for rr in dns.ask(f"docs.{NS}.svc.{ZONE}").rr] == ["kubernetes.io."]
    refused = dns.ask("kubernetes.io")
    assert (RCODE[refused.header.rcode], refused.rr) == ("REFUSED", [])


def test_headless_service_and_statefulset_pods(dns: DNSServer, control_plane: RunningAPIServer) -> None:
    ips = wait_until(lambda: len(found := pod_ips(control_plane, "app=web")) == 2 and found, what="web pods with IPs")
    wait_until(lambda: dns.addresses(f"web.{NS}.svc.{ZONE}") == ips, what="headless answer")
    by_host = {f"web-{i}": dns.addresses(f"web-{i}.web.{NS}.svc.{ZONE}") for i in range(2)}
    assert sorted(ip for found in by_host.values() for ip in found) == ips and all(len(v) == 1 for v in by_host.values())
    srv = dns.ask(f"_http._tcp.web.{NS}.svc.{ZONE}", "SRV", tcp=True)
    assert sorted(str(rr.rdata) for rr in srv.rr) == [f"0 50 80 web-{i}.web.{NS}.svc.{ZONE}." for i in range(2)]
    ptr = dns.ask(".".join(reversed(by_host["web-0"][0].split("."))) + ".in-addr.arpa", "PTR")
    assert [str(rr.rdata) for rr in ptr.rr] == [f"web-0.web.{NS}.svc.{ZONE}."]
    pod_ip = by_host["web-1"][0]
    assert dns.addresses(f"{pod_ip.replace('.', '-')}.{NS}.pod.{ZONE}") == [pod_ip]


def test_answers_follow_scaling_and_deletion(dns: DNSServer, control_plane: RunningAPIServer) -> None:
    control_plane.kubectl("scale", "statefulset", "web", "-n", NS, "--replicas", "4")
    ips = wait_until(lambda: len(found := pod_ips(control_plane, "app=web")) == 4 and found, what="4 web pods")
    started = time.monotonic()
    wait_until(lambda: dns.addresses(f"web.{NS}.svc.{ZONE}") == ips, timeout=FOLLOW_SECONDS + 5, what="4 addresses")
    assert time.monotonic() - started < FOLLOW_SECONDS

    control_plane.kubectl("delete", "service", "frontend", "-n", NS, "--wait=false")
    started = time.monotonic()
    wait_until(lambda: RCODE[dns.ask(f"frontend.{NS}.svc.{ZONE}").header.rcode] == "NXDOMAIN",
               timeout=FOLLOW_SECONDS + 5, what="NXDOMAIN after delete")
    assert time.monotonic() - started < FOLLOW_SECONDS


def test_large_answers_are_truncated_over_udp_and_whole_over_tcp(dns: DNSServer, control_plane: RunningAPIServer) -> None:
    control_plane.kubectl("scale", "statefulset", "web", "-n", NS, "--replicas", "40")
    wait_until(lambda: len(pod_ips(control_plane, "app=web")) == 40, timeout=60, what="40 web pods")
    whole = wait_until(lambda: len((r := dns.ask(f"web.{NS}.svc.{ZONE}", tcp=True)).rr) == 40 and r, what="40 answers")
    udp = dns.ask(f"web.{NS}.svc.{ZONE}")
    assert udp.header.tc == 1 and 0 < len(udp.rr) < 40 and whole.header.tc == 0
