"""The DNS tables: what a Service and an EndpointSlice contribute, and the indexes through updates."""

from __future__ import annotations

from dnslib import DNSRecord

from kinn.dns.answer import Zone
from kinn.dns.records import PORTLESS, ClusterRecords, Endpoint, Port, Service, ready_endpoints, service_from
from kinn.dns.server import AnswerCache, Resolver


def slice_of(service: str, endpoints: list[dict], name: str = "s1", address_type: str = "IPv4",
             ports: list[dict] | None = None) -> dict:
    return {"metadata": {"namespace": "ns", "name": name, "labels": {"kubernetes.io/service-name": service}},
            "addressType": address_type, "endpoints": endpoints, "ports": ports}


def test_services() -> None:
    assert service_from({"metadata": {"namespace": "ns", "name": "web"},
                         "spec": {"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5", "fd00::5"],
                                  "ports": [{"name": "http", "port": 80}, {"port": 53, "protocol": "UDP"}]}}) == \
        Service("ns", "web", ("10.96.0.5", "fd00::5"), "", (Port("http", "TCP", 80), Port("", "UDP", 53)))
    headless = service_from({"metadata": {"namespace": "ns", "name": "db"}, "spec": {"clusterIP": "None"}})
    assert headless.headless and headless.cluster_ips == () and headless.ports == ()
    external = service_from({"metadata": {"namespace": "ns", "name": "ext"},
                             "spec": {"type": "ExternalName", "externalName": "example.org"}})
    assert external.external_name == "example.org" and not external.headless


def test_ready_endpoints() -> None:
    ports = [{"name": "http", "protocol": "TCP", "port": 8080}]
    found = ready_endpoints(slice_of("web", [
        {"addresses": ["10.244.1.2"], "conditions": {"ready": True}, "hostname": "web-0"},
        {"addresses": ["10.244.1.3"]},  # no conditions: ready
        {"addresses": ["10.244.1.4"], "conditions": {"ready": False, "serving": True}},
    ], ports=ports))
    assert found == (Endpoint("10.244.1.2", "web-0", (Port("http", "TCP", 8080),)),
                     Endpoint("10.244.1.3", "10-244-1-3", (Port("http", "TCP", 8080),)))
    assert ready_endpoints(slice_of("web", [{"addresses": ["10.244.1.2"]}]))[0].ports == PORTLESS
    assert ready_endpoints(slice_of("web", [{"addresses": ["example.org"]}], address_type="FQDN")) == ()


def test_indexes_follow_updates_and_deletes() -> None:
    records = ClusterRecords(clock=lambda: 1000)
    service = {"metadata": {"namespace": "ns", "name": "web"}, "spec": {"clusterIP": "10.96.0.5"}}
    records.set_service(service)
    records.set_slice(slice_of("web", [{"addresses": ["10.244.1.2"]}], name="web-a"))
    records.set_slice(slice_of("web", [{"addresses": ["10.244.1.2"]}, {"addresses": ["10.244.2.9"]}], name="web-b"))
    assert [e.ip for e in records.endpoints("ns", "web")] == ["10.244.1.2", "10.244.1.2", "10.244.2.9"]
    assert records.endpoints_by_ip("10.244.1.2") == [(("ns", "web"), "10-244-1-2")]
    records.delete_slice(slice_of("web", [], name="web-a"))  # the address is still in web-b
    assert records.endpoints_by_ip("10.244.1.2") == [(("ns", "web"), "10-244-1-2")]
    records.set_slice(slice_of("web", [{"addresses": ["10.244.2.9"]}], name="web-b"))
    assert records.endpoints_by_ip("10.244.1.2") == [] and [e.ip for e in records.endpoints("ns", "web")] == ["10.244.2.9"]
    assert [s.name for s in records.services_by_ip("10.96.0.5")] == ["web"]
    records.set_service({"metadata": {"namespace": "ns", "name": "web"}, "spec": {"clusterIP": "10.96.0.6"}})
    assert records.services_by_ip("10.96.0.5") == [] and records.service("ns", "web").cluster_ips == ("10.96.0.6",)
    records.delete_service(service)
    assert records.service("ns", "web") is None and records.services_by_ip("10.96.0.6") == []


def test_a_slice_without_a_service_label_names_nothing() -> None:
    records = ClusterRecords()
    orphan = slice_of("web", [{"addresses": ["10.244.1.2"]}])
    del orphan["metadata"]["labels"]
    records.set_slice(orphan)
    assert records.endpoints_by_ip("10.244.1.2") == []


def test_serial_is_the_time_of_the_last_change_and_never_goes_back() -> None:
    now = [2000.0]
    records = ClusterRecords(clock=lambda: now[0])
    records.set_namespace({"metadata": {"name": "ns"}})
    now[0] = 1500.0  # the clock stepped back
    records.delete_namespace({"metadata": {"name": "ns"}})
    assert records.serial == 2000 and not records.has_namespace("ns")


def test_cached_answers_carry_each_querys_id_and_are_dropped_on_changes() -> None:
    records = ClusterRecords()
    records.set_namespace({"metadata": {"name": "ns"}})
    records.set_service({"metadata": {"namespace": "ns", "name": "web"}, "spec": {"clusterIP": "10.96.0.5", "ports": [
        {"port": 80}]}})
    resolver = Resolver(records, Zone())
    first, second = DNSRecord.question("web.ns.svc.cluster.local"), DNSRecord.question("web.ns.svc.cluster.local")
    first.header.id, second.header.id = 1, 2
    answers = [DNSRecord.parse(resolver.resolve(bytes(q.pack()), tcp=False) or b"") for q in (first, second)]
    assert [a.header.id for a in answers] == [1, 2] and all(str(a.a.rdata) == "10.96.0.5" for a in answers)
    records.set_service({"metadata": {"namespace": "ns", "name": "web"}, "spec": {"clusterIP": "10.96.0.6", "ports": [
        {"port": 80}]}})
    assert str(DNSRecord.parse(resolver.resolve(bytes(first.pack()), tcp=False) or b"").a.rdata) == "10.96.0.5"  # cached
    resolver.invalidate()
    assert str(DNSRecord.parse(resolver.resolve(bytes(first.pack()), tcp=False) or b"").a.rdata) == "10.96.0.6"


def test_the_answer_cache_evicts_its_oldest_entry() -> None:
    cache = AnswerCache(capacity=2)
    for key in (b"a", b"b", b"c"):
        cache.put(key, key.upper())
    assert (cache.get(b"a"), cache.get(b"b"), cache.get(b"c")) == (None, b"B", b"C")
