"""Exact DNS answers for the Kubernetes DNS spec, as CoreDNS's kubernetes plugin gives them.

The cluster below mirrors CoreDNS's own handler tests (plugin/kubernetes/handler_test.go): the same
names, addresses and expected records, with TTL 5 and serial 1499347823, so every expectation is
CoreDNS's answer (where kinn differs — no forwarding — the test says so).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from dnslib import CLASS, EDNS0, OPCODE, QTYPE, RCODE, DNSQuestion, DNSRecord

from kinn.dns.answer import Zone, answer, respond
from kinn.dns.records import ClusterRecords

SERIAL = 1499347823
SOA = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1499347823 7200 1800 86400 5"


def service(name: str, cluster_ips: list[str] | None = None, ports: list[dict] | None = None,
            external: str = "", namespace: str = "testns") -> dict:
    spec: dict = {"type": "ExternalName", "externalName": external} if external else {
        "type": "ClusterIP", "clusterIP": (cluster_ips or ["None"])[0], "clusterIPs": cluster_ips or ["None"]}
    spec["ports"] = ports if ports is not None else [{"name": "http", "protocol": "TCP", "port": 80}]
    return {"metadata": {"namespace": namespace, "name": name}, "spec": spec}


def endpoint_slice(service_name: str, endpoints: list[dict], ports: list[dict] | None = None,
                   address_type: str = "IPv4", suffix: str = "abcde", namespace: str = "testns") -> dict:
    return {"metadata": {"namespace": namespace, "name": f"{service_name}-{suffix}",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": address_type, "endpoints": endpoints,
            "ports": ports if ports is not None else [{"name": "http", "protocol": "TCP", "port": 80}]}


def ep(ip: str, hostname: str = "", ready: bool | None = True) -> dict:
    endpoint: dict = {"addresses": [ip], "conditions": {} if ready is None else {"ready": ready}}
    if hostname:
        endpoint["hostname"] = hostname
    return endpoint


def cluster() -> ClusterRecords:
    records = ClusterRecords(clock=lambda: SERIAL)
    for name in ("testns", "kube-system"):
        records.set_namespace({"metadata": {"name": name}})
    records.set_service(service("kube-dns", ["10.0.0.10"], [{"name": "dns", "protocol": "UDP", "port": 53}],
                                namespace="kube-system"))
    records.set_slice(endpoint_slice("kube-dns", [ep("172.0.0.100")], [{"name": "dns", "protocol": "UDP", "port": 53}],
                                     namespace="kube-system"))
    records.set_service(service("svc1", ["10.0.0.1"]))
    records.set_slice(endpoint_slice("svc1", [ep("172.0.0.1", "ep1a")]))
    records.set_service(service("svcempty", ["10.0.0.1"]))
    records.set_service(service("svc6", ["1234:abcd::1"]))
    records.set_service(service("svc-dual-stack", ["10.0.0.3", "10::3"]))
    records.set_service(service("hdls1"))
    records.set_slice(endpoint_slice("hdls1", [ep("172.0.0.2"), ep("172.0.0.3", ready=None),
                                               ep("172.0.0.4", "dup-name"), ep("172.0.0.5", "dup-name"),
                                               ep("172.0.0.6", ready=False)]))
    records.set_slice(endpoint_slice("hdls1", [ep("5678:abcd::1"), ep("5678:abcd::2")], address_type="IPv6",
                                     suffix="v6"))
    records.set_service(service("hdlsprtls", ports=[]))
    records.set_slice(endpoint_slice("hdlsprtls", [ep("172.0.0.20")], ports=[]))
    records.set_service(service("external", external="ext.interwebs.test"))
    records.set_service(service("external-to-service", external="svc1.testns.svc.cluster.local."))
    return records


RECORDS = cluster()
ZONE = Zone("cluster.local", ttl=5, local_ips=("172.0.0.100",))


def ask(name: str, qtype: str, records: ClusterRecords = RECORDS, zone: Zone = ZONE) -> DNSRecord:
    return answer(DNSRecord.question(name, qtype), records, zone)


def lines(rrs: list) -> list[str]:
    return [" ".join(rr.toZone().split()) for rr in rrs]


def check(response: DNSRecord, rcode: int = RCODE.NOERROR, answers: list[str] | None = None,
          authority: list[str] | None = None, extra: list[str] | None = None) -> None:
    assert RCODE[response.header.rcode] == RCODE[rcode]
    assert lines(response.rr) == (answers or [])
    assert lines(response.auth) == (authority or [])
    assert lines(response.ar) == (extra or [])


@pytest.mark.parametrize("name,qtype,answers,extra", [
    ("svc1.testns.svc.cluster.local.", "A", ["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"], []),
    # a ClusterIP Service without endpoints still has its address
    ("svcempty.testns.svc.cluster.local.", "A", ["svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1"], []),
    ("svc6.testns.svc.cluster.local.", "AAAA", ["svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1"], []),
    ("svc-dual-stack.testns.svc.cluster.local.", "A", ["svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3"], []),
    ("svc-dual-stack.testns.svc.cluster.local.", "AAAA", ["svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3"], []),
    # SRV without _port._proto lists every port
    ("svc1.testns.svc.cluster.local.", "SRV", ["svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local."],
     ["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"]),
    ("_http._tcp.svc1.testns.svc.cluster.local.", "SRV",
     ["_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local."],
     ["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"]),
    ("svc-dual-stack.testns.svc.cluster.local.", "SRV",
     ["svc-dual-stack.testns.svc.cluster.local. 5 IN SRV 0 50 80 svc-dual-stack.testns.svc.cluster.local."],
     ["svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3",
      "svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3"]),
    # headless: every ready endpoint (ready unset counts as ready; 172.0.0.6 is not ready)
    ("hdls1.testns.svc.cluster.local.", "A", [f"hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.{i}" for i in (2, 3, 4, 5)], []),
    ("hdls1.testns.svc.cluster.local.", "AAAA", ["hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1",
                                                  "hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2"], []),
    ("hdlsprtls.testns.svc.cluster.local.", "A", ["hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20"], []),
    # endpoints by dashed IP and by hostname (StatefulSet pods); one hostname, two addresses
    ("172-0-0-20.hdlsprtls.testns.svc.cluster.local.", "A",
     ["172-0-0-20.hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20"], []),
    ("172-0-0-2.hdls1.testns.svc.cluster.local.", "A", ["172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2"], []),
    ("dup-name.hdls1.testns.svc.cluster.local.", "A", ["dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4",
                                                        "dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5"], []),
    ("5678-abcd--1.hdls1.testns.svc.cluster.local.", "AAAA",
     ["5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1"], []),
    # endpoints of a ClusterIP Service are named too
    ("ep1a.svc1.testns.svc.cluster.local.", "A", ["ep1a.svc1.testns.svc.cluster.local. 5 IN A 172.0.0.1"], []),
    # headless SRV: one per endpoint hostname and port, weight ⌊100/6⌋ (dup-name's two addresses share a record)
    ("_http._tcp.hdls1.testns.svc.cluster.local.", "SRV",
     [f"_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 {host}.hdls1.testns.svc.cluster.local."
      for host in ("172-0-0-2", "172-0-0-3", "dup-name", "5678-abcd--1", "5678-abcd--2")],
     ["172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2",
      "172-0-0-3.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3",
      "dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4",
      "dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5",
      "5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1",
      "5678-abcd--2.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2"]),
    ("external.testns.svc.cluster.local.", "CNAME", ["external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test."], []),
    # CoreDNS would append the target's addresses from upstream; kinn forwards nothing, the client asks itself
    ("external.testns.svc.cluster.local.", "A", ["external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test."], []),
    ("external-to-service.testns.svc.cluster.local.", "A",
     ["external-to-service.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.",
      "svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"], []),
    ("dns-version.cluster.local.", "TXT", ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'], []),
    ("cluster.local.", "SOA", [SOA], []),
    # NS: the Service whose endpoint is this server's address
    ("cluster.local.", "NS", ["cluster.local. 5 IN NS kube-dns.kube-system.svc.cluster.local."],
     ["kube-dns.kube-system.svc.cluster.local. 5 IN A 10.0.0.10"]),
    ("ns.dns.cluster.local.", "A", ["ns.dns.cluster.local. 5 IN A 10.0.0.10"], []),
    ("10-244-1-5.testns.pod.cluster.local.", "A", ["10-244-1-5.testns.pod.cluster.local. 5 IN A 10.244.1.5"], []),
    ("fd00-10-244--5.testns.pod.cluster.local.", "AAAA", ["fd00-10-244--5.testns.pod.cluster.local. 5 IN AAAA fd00:10:244::5"], []),
    # the question's spelling is kept (resolvers randomise case)
    ("SVC1.TestNS.svc.Cluster.LOCAL.", "A", ["SVC1.TestNS.svc.Cluster.LOCAL. 5 IN A 10.0.0.1"], []),
])
def test_answers(name: str, qtype: str, answers: list[str], extra: list[str]) -> None:
    response = ask(name, qtype)
    check(response, RCODE.NOERROR, answers, [], extra)
    assert response.header.aa == 1 and response.header.ra == 0


@pytest.mark.parametrize("name,qtype", [
    ("svc1.testns.svc.cluster.local.", "AAAA"),  # IPv4 only: the name exists
    ("hdlsprtls.testns.svc.cluster.local.", "SRV"),  # no ports, no SRV
    ("external.testns.svc.cluster.local.", "SRV"),
    ("svc1.testns.svc.cluster.local.", "TXT"),
    ("svc1.testns.svc.cluster.local.", "SOA"),
    ("svc1.testns.svc.cluster.local.", "MX"),
    ("svc.cluster.local.", "A"),
    ("pod.cluster.local.", "A"),
    ("testns.svc.cluster.local.", "A"),
    ("testns.pod.cluster.local.", "A"),
    ("svc.cluster.local.", "NS"),
    ("testns.svc.cluster.local.", "NS"),
    ("cluster.local.", "A"),
    ("10-244-1-5.testns.pod.cluster.local.", "AAAA"),
    ("ns.dns.cluster.local.", "AAAA"),
])
def test_nodata(name: str, qtype: str) -> None:
    check(ask(name, qtype), RCODE.NOERROR, authority=[SOA])


@pytest.mark.parametrize("name,qtype", [
    ("svc0.testns.svc.cluster.local.", "A"),
    ("svc0.testns.svc.cluster.local.", "AAAA"),
    ("svc1.svc-nons.svc.cluster.local.", "A"),  # no such namespace
    ("svc-nons.svc.cluster.local.", "A"),
    ("bogusendpoint.hdls1.testns.svc.cluster.local.", "A"),
    ("bogusendpoint.svc0.testns.svc.cluster.local.", "A"),
    ("endpoint.external.testns.svc.cluster.local.", "CNAME"),  # an ExternalName has no endpoints
    ("_https._tcp.svc1.testns.svc.cluster.local.", "SRV"),  # no such port
    ("_http._udp.svc1.testns.svc.cluster.local.", "SRV"),
    ("a.b.c.svc1.testns.svc.cluster.local.", "A"),  # too long
    ("foo.cluster.local.", "NS"),
    ("foo.svc.cluster.local.", "NS"),
    ("dns-version.cluster.local.", "A"),
    ("not-an-ip.testns.pod.cluster.local.", "A"),
    ("10-244-1-5.svc-nons.pod.cluster.local.", "A"),
])
def test_nxdomain(name: str, qtype: str) -> None:
    check(ask(name, qtype), RCODE.NXDOMAIN, authority=[SOA])


def test_a_headless_service_without_ready_endpoints_does_not_exist() -> None:
    records = cluster()
    records.set_service(service("lonely"))
    records.set_slice(endpoint_slice("lonely", [ep("172.0.0.50", ready=False)]))
    check(ask("lonely.testns.svc.cluster.local.", "A", records), RCODE.NXDOMAIN, authority=[SOA])


@pytest.mark.parametrize("name,answers", [
    # two Services share 10.0.0.1: the first by name answers, as CoreDNS returns one
    ("1.0.0.10.in-addr.arpa.", ["1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.svc.cluster.local."]),
    ("4.0.0.172.in-addr.arpa.", ["4.0.0.172.in-addr.arpa. 5 IN PTR dup-name.hdls1.testns.svc.cluster.local."]),
    ("2.0.0.172.in-addr.arpa.", ["2.0.0.172.in-addr.arpa. 5 IN PTR 172-0-0-2.hdls1.testns.svc.cluster.local."]),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5.ip6.arpa.",
     ["1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.7.6.5.ip6.arpa. 5 IN PTR "
      "5678-abcd--1.hdls1.testns.svc.cluster.local."]),
])
def test_reverse(name: str, answers: list[str]) -> None:
    response = ask(name, "PTR")
    check(response, RCODE.NOERROR, answers)
    assert response.header.aa == 1


@pytest.mark.parametrize("name,qtype", [
    ("example.com.", "A"),
    ("kubernetes.default.svc.cluster.local.example.com.", "A"),
    ("cluster.localhost.", "A"),
    ("9.9.9.9.in-addr.arpa.", "PTR"),  # CoreDNS would forward it; kinn forwards nothing
    ("1.0.0.10.in-addr.arpa.", "A"),
    ("0.10.in-addr.arpa.", "PTR"),
])
def test_refused(name: str, qtype: str) -> None:
    response = ask(name, qtype)
    check(response, RCODE.REFUSED)
    assert response.header.aa == 0


def test_other_classes_are_refused() -> None:
    query = DNSRecord(q=DNSQuestion("version.bind", QTYPE.TXT, CLASS.CH))
    check(answer(query, RECORDS, ZONE), RCODE.REFUSED)


def test_header_echoes_the_query() -> None:
    query = DNSRecord.question("svc1.testns.svc.cluster.local", "A")
    query.header.id, query.header.rd = 4242, 0
    response = answer(query, RECORDS, ZONE)
    assert (response.header.id, response.header.qr, response.header.rd) == (4242, 1, 0)
    assert lines(response.questions) == lines(query.questions)


def test_only_queries_are_implemented() -> None:
    query = DNSRecord.question("svc1.testns.svc.cluster.local", "A")
    query.header.opcode = OPCODE.NOTIFY
    check(answer(query, RECORDS, ZONE), RCODE.NOTIMP)


def test_name_servers_fall_back_to_ns_dns_and_own_addresses() -> None:
    zone = Zone("cluster.local", ttl=5, local_ips=("192.0.2.53",))
    check(ask("cluster.local.", "NS", zone=zone), answers=["cluster.local. 5 IN NS ns.dns.cluster.local."],
          extra=["ns.dns.cluster.local. 5 IN A 192.0.2.53"])


def test_edns_is_echoed_with_the_clients_buffer_size() -> None:
    query = DNSRecord.question("svc1.testns.svc.cluster.local", "A")
    query.add_ar(EDNS0(udp_len=1232))
    response = answer(query, RECORDS, ZONE)
    assert [(rr.rtype, rr.rclass) for rr in response.ar] == [(QTYPE.OPT, 1232)]


def test_answers_follow_changes() -> None:
    clock = [SERIAL]
    records = ClusterRecords(clock=lambda: clock[0])
    records.set_namespace({"metadata": {"name": "testns"}})
    records.set_service(service("web"))
    records.set_slice(endpoint_slice("web", [ep("10.244.1.2")]))
    check(ask("web.testns.svc.cluster.local", "A", records), answers=["web.testns.svc.cluster.local. 5 IN A 10.244.1.2"])
    clock[0] += 60
    records.set_slice(endpoint_slice("web", [ep("10.244.1.2", ready=False), ep("10.244.2.7")]))
    check(ask("web.testns.svc.cluster.local", "A", records), answers=["web.testns.svc.cluster.local. 5 IN A 10.244.2.7"])
    records.delete_service(service("web"))
    check(ask("web.testns.svc.cluster.local", "A", records), RCODE.NXDOMAIN, authority=[SOA.replace(str(SERIAL), str(SERIAL + 60))])


def test_udp_answers_are_truncated_to_fit_and_tcp_ones_are_whole() -> None:
    records = cluster()
    records.set_service(service("big"))
    records.set_slice(endpoint_slice("big", [ep(f"10.244.{i // 250}.{i % 250 + 1}") for i in range(100)]))
    query = DNSRecord.question("big.testns.svc.cluster.local", "A")
    udp = DNSRecord.parse(respond(query.pack(), records, ZONE) or b"")
    assert udp.header.tc == 1 and 0 < len(udp.rr) < 100 and len(udp.pack()) <= 512
    tcp = DNSRecord.parse(respond(query.pack(), records, ZONE, tcp=True) or b"")
    assert tcp.header.tc == 0 and len(tcp.rr) == 100
    query.add_ar(EDNS0(udp_len=4096))
    edns = DNSRecord.parse(respond(query.pack(), records, ZONE) or b"")
    assert edns.header.tc == 0 and len(edns.rr) == 100


def test_additional_records_go_before_answers_are_truncated() -> None:
    records = cluster()
    records.set_service(service("wide"))
    records.set_slice(endpoint_slice("wide", [ep(f"10.244.0.{i}", f"web-{i}") for i in range(7)]))
    query = DNSRecord.question("_http._tcp.wide.testns.svc.cluster.local", "SRV").pack()
    whole = DNSRecord.parse(respond(query, records, ZONE, tcp=True) or b"")
    assert len(whole.pack()) > 512 and len(whole.rr) == len(whole.ar) == 7
    udp = DNSRecord.parse(respond(query, records, ZONE) or b"")
    assert udp.header.tc == 0 and lines(udp.rr) == lines(whole.rr) and udp.ar == []


def test_malformed_queries() -> None:
    query = DNSRecord.question("svc1.testns.svc.cluster.local", "A")
    query.header.id = 0xBEEF
    garbage = query.pack()[:20]  # the question is cut off
    formerr = DNSRecord.parse(respond(garbage, RECORDS, ZONE) or b"")
    assert (formerr.header.id, formerr.header.qr, formerr.header.rcode, formerr.questions) == (0xBEEF, 1, RCODE.FORMERR, [])
    assert respond(b"\x01\x02\x03", RECORDS, ZONE) is None
    reply = answer(query, RECORDS, ZONE)
    assert respond(reply.pack(), RECORDS, ZONE) is None  # never answer an answer


def test_the_dns_server_finds_its_addresses_without_pyroute2() -> None:
    """NS records need the server's own addresses; listing them must not load pyroute2 (~9 MB in the
    DNS pod, a fifth of its memory)."""
    probe = ("import sys; from kinn.dns.server import local_addresses; addresses = local_addresses('0.0.0.0'); "
             "assert addresses and '127.0.0.1' not in addresses, addresses; "
             "assert not [m for m in sys.modules if m.startswith('pyroute2')]")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
