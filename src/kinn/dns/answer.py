"""One DNS query → one response, from the cluster's records: pure, no sockets and no clock.

The answers are CoreDNS's kubernetes plugin's, configured as kubeadm deploys it (`kubernetes
cluster.local in-addr.arpa ip6.arpa { pods insecure; ttl 30 }`), for the records of the Kubernetes
DNS-Based Service Discovery spec:

- `<svc>.<ns>.svc.<zone>` A/AAAA: the cluster IPs; for a headless Service its ready endpoints' IPs
  (NXDOMAIN when it has none); for an ExternalName Service a CNAME.
- `<hostname>.<svc>.<ns>.svc.<zone>`: an endpoint by its hostname (StatefulSet pods) or dashed IP.
- `_<port>._<proto>.<svc>.<ns>.svc.<zone>` SRV: one per named port (and, for headless Services, per
  endpoint), priority 0, weights splitting 100, the targets' addresses as additional records.
- `<a-b-c-d>.<ns>.pod.<zone>` A: the address itself, if the namespace exists ("pods insecure").
- PTR for cluster IPs and endpoint IPs; `dns-version.<zone>` TXT; SOA and NS at the apex.

A name that exists without records of the asked type gets NODATA (NOERROR, the SOA in the
authority section), a name that does not exist NXDOMAIN, so resolvers cache each correctly.
Where CoreDNS would hand a query to its `forward` plugin (names outside the zone, reverse names it
has no record for), kinn answers REFUSED: nothing is forwarded off the host. An ExternalName's
CNAME is returned without the target's addresses for the same reason.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from functools import cached_property

from dnslib import (AAAA, CLASS, CNAME, NS, OPCODE, PTR, QTYPE, RCODE, RR, SOA, SRV, TXT, A, DNSHeader,
                    DNSLabel, DNSQuestion, DNSRecord, EDNS0)

from kinn.dns.records import ClusterRecords

DNS_SCHEMA_VERSION = "1.1.0"  # the spec version CoreDNS serves at dns-version.<zone>
SCHEMA_TTL = 28800
SVC, POD = "svc", "pod"
NAME_SERVER = ("ns", "dns")  # ns.dns.<zone>: the SOA's primary name server
SOA_TIMES = (7200, 1800, 86400)  # refresh, retry, expire: CoreDNS's
MAX_CNAME_CHAIN = 8
MIN_UDP_SIZE = 512
MAX_TCP_SIZE = 65535


@dataclass(frozen=True)
class Zone:
    """What the server is authoritative for, and how it sees itself."""

    domain: str = "cluster.local"
    ttl: int = 30
    local_ips: tuple[str, ...] = ()  # the server's own addresses: NS records point at its Service

    @cached_property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.domain.lower().strip(".").split("."))

    def soa(self, serial: int) -> RR:
        """CoreDNS's SOA: TTL and negative-caching TTL both the record TTL (capped at 300 s)."""
        return RR(f"{self.domain}.", QTYPE.SOA, ttl=min(300, self.ttl),
                  rdata=SOA(f"ns.dns.{self.domain}.", f"hostmaster.{self.domain}.", (serial, *SOA_TIMES, self.ttl)))


class NoSuchName(Exception):
    """The name does not exist: NXDOMAIN."""


@dataclass(frozen=True)
class Target:
    """What a name resolves to before it becomes records (CoreDNS's msg.Service)."""

    host: str  # an IP address, or the DNS name of an ExternalName Service
    port: int = -1
    name: str = ""  # the address's own DNS name: the SRV target and additional record owner


def respond(data: bytes, records: ClusterRecords, zone: Zone, tcp: bool = False) -> bytes | None:
    """The packed response to a packed query; None for what deserves no answer (a response, or
    fewer bytes than a header)."""
    try:
        query = DNSRecord.parse(data)
    except Exception:  # dnslib raises assorted errors on malformed input; a server must survive all
        return format_error(data)
    if query.header.qr:
        return None
    return pack(answer(query, records, zone), size_limit(query, tcp))


def format_error(data: bytes) -> bytes | None:
    """FORMERR with the query's ID, opcode and RD, and nothing else (the question could not be read)."""
    if len(data) < 12 or data[2] & 0x80:
        return None
    return data[:2] + bytes((0x80 | (data[2] & 0x79), RCODE.FORMERR)) + bytes(8)


def size_limit(query: DNSRecord, tcp: bool) -> int:
    """UDP answers fit 512 bytes, or the client's EDNS buffer size; TCP ones a 16-bit length."""
    if tcp:
        return MAX_TCP_SIZE
    opt = _opt(query)
    return max(MIN_UDP_SIZE, opt.rclass) if opt else MIN_UDP_SIZE


def _opt(query: DNSRecord) -> RR | None:
    return next((rr for rr in query.ar if rr.rtype == QTYPE.OPT), None)


def answer(query: DNSRecord, records: ClusterRecords, zone: Zone) -> DNSRecord:
    """The response to `query`. Authoritative (AA) inside the zone; recursion is never available."""
    header = query.header
    reply = DNSRecord(DNSHeader(id=header.id, qr=1, opcode=header.opcode, rd=header.rd), questions=list(query.questions))
    if header.opcode != OPCODE.QUERY:
        reply.header.rcode = RCODE.NOTIMP
    elif len(query.questions) != 1:
        reply.header.rcode = RCODE.FORMERR
    else:
        _answer_question(reply, query.q, records, zone)
    opt = _opt(query)
    if opt is not None:
        reply.add_ar(EDNS0(udp_len=max(MIN_UDP_SIZE, opt.rclass)))
    return reply


def _answer_question(reply: DNSRecord, question: DNSQuestion, records: ClusterRecords, zone: Zone) -> None:
    labels = tuple(label.lower().decode("ascii", "replace") for label in question.qname.label)
    relative = _within(labels, zone.labels)
    if question.qclass != CLASS.IN:
        reply.header.rcode = RCODE.REFUSED
    elif relative is not None:
        _answer_zone(reply, question, relative, records, zone)
    elif labels[-2:] in (("in-addr", "arpa"), ("ip6", "arpa")):
        _answer_reverse(reply, question, labels, records, zone)
    else:
        reply.header.rcode = RCODE.REFUSED  # not ours, and nothing is forwarded


def _within(labels: tuple[str, ...], zone: tuple[str, ...]) -> tuple[str, ...] | None:
    """The labels left of the zone, or None when the name is outside it."""
    if labels[len(labels) - len(zone):] != zone:
        return None
    return labels[:len(labels) - len(zone)]


def _answer_zone(reply: DNSRecord, question: DNSQuestion, relative: tuple[str, ...], records: ClusterRecords,
                 zone: Zone) -> None:
    reply.header.aa = 1
    try:
        answers, extra = _lookup(question.qname, question.qtype, relative, records, zone)
    except NoSuchName:
        reply.header.rcode = RCODE.NXDOMAIN
        answers, extra = [], []
    if not answers:
        reply.add_auth(zone.soa(records.serial))
    for rr in answers:
        reply.add_answer(rr)
    for rr in extra:
        reply.add_ar(rr)


def _lookup(qname: DNSLabel, qtype: int, relative: tuple[str, ...], records: ClusterRecords,
            zone: Zone) -> tuple[list[RR], list[RR]]:
    """(answers, additional records); no answers is NODATA, NoSuchName is NXDOMAIN."""
    if not relative and qtype == QTYPE.SOA:
        return [zone.soa(records.serial)], []
    if not relative and qtype == QTYPE.NS:
        return _name_server_records(qname, records, zone)
    if relative == ("dns-version",) and qtype == QTYPE.TXT:
        return [RR(qname, QTYPE.TXT, ttl=SCHEMA_TTL, rdata=TXT(DNS_SCHEMA_VERSION))], []
    if qtype in (QTYPE.A, QTYPE.AAAA):
        return _addresses(qname, qtype, relative, records, zone, 0), []
    if qtype == QTYPE.SRV:
        return _srv(qname, relative, records, zone)
    targets = _targets(relative, records, zone)  # raises for a name that does not exist
    if qtype == QTYPE.CNAME and targets and _ip(targets[0].host) is None:
        return [RR(qname, QTYPE.CNAME, ttl=zone.ttl, rdata=CNAME(_fqdn(targets[0].host)))], []
    return [], []


def _targets(relative: tuple[str, ...], records: ClusterRecords, zone: Zone) -> list[Target]:
    """What the name stands for, whatever the query type (CoreDNS's parseRequest and Records)."""
    if relative == NAME_SERVER:
        return [Target(ip) for _, ip in _name_servers(records, zone)]
    if relative in ((), (SVC,), (POD,)):
        return []  # the apex and the svc/pod branches exist, with no records of their own
    if relative[-1] not in (SVC, POD) or not records.has_namespace(relative[-2]):
        raise NoSuchName
    if len(relative) == 2:
        return []  # <ns>.svc.<zone> exists when the namespace does
    *rest, name, namespace, kind = relative
    if kind == POD:
        return _pod_targets(name, rest)
    return _service_targets(namespace, name, rest, records, zone)


def _pod_targets(name: str, rest: list[str]) -> list[Target]:
    """`a-b-c-d.<ns>.pod.<zone>` (or the IPv6 address with dashes) is that address."""
    ip = _ip(name.replace("-", ".") if name.count("-") == 3 and "--" not in name else name.replace("-", ":"))
    if rest or ip is None:
        raise NoSuchName
    return [Target(str(ip))]


def _service_targets(namespace: str, name: str, rest: list[str], records: ClusterRecords, zone: Zone) -> list[Target]:
    service = records.service(namespace, name)
    if service is None or len(rest) > 2:
        raise NoSuchName
    endpoint = rest[0] if len(rest) == 1 else ""
    port, protocol = (rest[0].removeprefix("_"), rest[1].removeprefix("_")) if len(rest) == 2 else ("", "")
    if service.external_name:
        if endpoint or _ip(service.external_name) is not None:
            raise NoSuchName  # an ExternalName has no endpoints, and an IP is no CNAME target
        return [Target(service.external_name)]
    fqdn = f"{name}.{namespace}.{SVC}.{zone.domain}"
    if service.headless or endpoint:
        targets = [Target(ep.ip, p.port, f"{ep.hostname}.{fqdn}") for ep in records.endpoints(namespace, name)
                   if not endpoint or ep.hostname.lower() == endpoint
                   for p in ep.ports if _port_matches(p.name, p.protocol, port, protocol)]
    else:
        targets = [Target(ip, p.port, fqdn) for p in service.ports if _port_matches(p.name, p.protocol, port, protocol)
                   for ip in service.cluster_ips]
    if not targets:
        raise NoSuchName
    return targets


def _port_matches(name: str, protocol: str, wanted_name: str, wanted_protocol: str) -> bool:
    """A query without `_port._proto` matches every port."""
    return (not wanted_name or wanted_name == name.lower()) and (not wanted_protocol or wanted_protocol == protocol.lower())


def _addresses(qname: DNSLabel, qtype: int, relative: tuple[str, ...], records: ClusterRecords, zone: Zone,
               chain: int) -> list[RR]:
    """A or AAAA records of the name's addresses, deduplicated; CNAMEs for ExternalName targets."""
    version = 4 if qtype == QTYPE.A else 6
    found: list[RR] = []
    seen: set[str] = set()
    for target in _targets(relative, records, zone):
        ip = _ip(target.host)
        if ip is None:
            found += _follow_cname(qname, qtype, target.host, records, zone, chain)
        elif ip.version == version and target.host not in seen:
            seen.add(target.host)
            found.append(_address_record(qname, target.host, zone.ttl))
    return found


def _follow_cname(qname: DNSLabel, qtype: int, host: str, records: ClusterRecords, zone: Zone, chain: int) -> list[RR]:
    """The CNAME, followed inside the zone (CoreDNS keeps it only if the chain ends in addresses);
    a target outside the zone is left to the client, which will find it REFUSED here."""
    target = host.rstrip(".").lower()
    if target == str(qname).rstrip(".").lower():
        return []  # x CNAME x
    cname = RR(qname, QTYPE.CNAME, ttl=zone.ttl, rdata=CNAME(_fqdn(host)))
    inner = _within(tuple(target.split(".")), zone.labels)
    if inner is None:
        return [cname]
    if chain >= MAX_CNAME_CHAIN:
        return []
    try:
        more = _addresses(DNSLabel(target), qtype, inner, records, zone, chain + 1)
    except NoSuchName:
        return []
    return [cname, *more] if more else []


def _srv(qname: DNSLabel, relative: tuple[str, ...], records: ClusterRecords, zone: Zone) -> tuple[list[RR], list[RR]]:
    """SRV records, priority 0, weight ⌊100/n⌋ as CoreDNS splits it; targets' addresses as additional."""
    targets = [t for t in _targets(relative, records, zone) if _ip(t.host) is not None]  # ExternalNames have no SRV
    if not targets:
        return [], []
    weight = max(1, math.floor(100.0 / (100 * len(targets)) * 100))
    answers, extra = [], []
    ports: set[tuple[str, int]] = set()
    addresses: set[tuple[str, str]] = set()
    for target in targets:
        if target.port == -1:
            continue  # a Service without ports
        if (target.name, target.port) not in ports:
            ports.add((target.name, target.port))
            answers.append(RR(qname, QTYPE.SRV, ttl=zone.ttl, rdata=SRV(0, weight, target.port, f"{target.name}.")))
        if (target.name, target.host) not in addresses:
            addresses.add((target.name, target.host))
            extra.append(_address_record(f"{target.name}.", target.host, zone.ttl))
    return answers, extra


def _name_servers(records: ClusterRecords, zone: Zone) -> list[tuple[str, str]]:
    """(name, address) of this server as the cluster knows it: the Services whose endpoints carry
    one of its addresses (kube-dns.kube-system.svc → 10.96.0.10), else ns.dns.<zone> → its addresses."""
    found: list[tuple[str, str]] = []
    for local in zone.local_ips:
        for (namespace, name), hostname in records.endpoints_by_ip(local):
            service = records.service(namespace, name)
            fqdn = f"{name}.{namespace}.{SVC}.{zone.domain}"
            if service is not None and service.headless:
                found.append((f"{hostname}.{fqdn}", local))
            elif service is not None:
                found += [(fqdn, ip) for ip in service.cluster_ips]
    return list(dict.fromkeys(found)) or [(f"ns.dns.{zone.domain}", ip) for ip in zone.local_ips]


def _name_server_records(qname: DNSLabel, records: ClusterRecords, zone: Zone) -> tuple[list[RR], list[RR]]:
    servers = _name_servers(records, zone)
    names = dict.fromkeys(name for name, _ in servers)
    return ([RR(qname, QTYPE.NS, ttl=zone.ttl, rdata=NS(f"{name}.")) for name in names],
            [_address_record(f"{name}.", ip, zone.ttl) for name, ip in servers])


def _answer_reverse(reply: DNSRecord, question: DNSQuestion, labels: tuple[str, ...], records: ClusterRecords,
                    zone: Zone) -> None:
    """PTR for a Service's cluster IP (its name) or an endpoint's IP (hostname.service); anything
    else in the reverse zones CoreDNS would forward, so it is REFUSED."""
    ip = _reverse_address(labels)
    names = _ptr_names(ip, records, zone) if ip and question.qtype == QTYPE.PTR else []
    if not names:
        reply.header.rcode = RCODE.REFUSED
        return
    reply.header.aa = 1
    for name in names:
        reply.add_answer(RR(question.qname, QTYPE.PTR, ttl=zone.ttl, rdata=PTR(f"{name}.")))


def _reverse_address(labels: tuple[str, ...]) -> str | None:
    """4.3.2.1.in-addr.arpa → 1.2.3.4; 32 nibbles .ip6.arpa → the IPv6 address (canonical text)."""
    digits = labels[:-2][::-1]
    if labels[-2] == "in-addr" and len(digits) == 4:
        ip = _ip(".".join(digits))
    elif labels[-2] == "ip6" and len(digits) == 32:
        ip = _ip(":".join("".join(digits[i:i + 4]) for i in range(0, 32, 4)))
    else:
        return None
    return str(ip) if ip is not None else None


def _ptr_names(ip: str, records: ClusterRecords, zone: Zone) -> list[str]:
    """A cluster IP names its Service (the first, as CoreDNS); otherwise every endpoint with the IP."""
    services = records.services_by_ip(ip)
    if services:
        return [f"{services[0].name}.{services[0].namespace}.{SVC}.{zone.domain}"]
    return list(dict.fromkeys(f"{hostname}.{name}.{namespace}.{SVC}.{zone.domain}"
                              for (namespace, name), hostname in records.endpoints_by_ip(ip)))


def _address_record(name: DNSLabel | str, ip: str, ttl: int) -> RR:
    if ":" in ip:
        return RR(name, QTYPE.AAAA, ttl=ttl, rdata=AAAA(ip))
    return RR(name, QTYPE.A, ttl=ttl, rdata=A(ip))


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else f"{name}."


def pack(response: DNSRecord, limit: int) -> bytes:
    """The wire form within `limit` bytes, trimmed as CoreDNS's Scrub trims: additional records go
    first (only EDNS's OPT stays), then answers from the end, and then TC tells the client to
    retry over TCP."""
    data = response.pack()
    if len(data) <= limit:
        return data
    response.ar = [rr for rr in response.ar if rr.rtype == QTYPE.OPT]
    data = response.pack()
    if len(data) <= limit:
        return data
    answers = response.rr
    fits, too_many = 0, len(answers)  # binary search: a headless Service may have thousands
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        response.rr = answers[:middle]
        if len(response.pack()) <= limit:
            fits = middle
        else:
            too_many = middle
    response.rr = answers[:fits]
    response.header.tc = 1
    return response.pack()
