"""Ingresses → servers, locations and upstreams as ingress-nginx builds them (kinn.ingress.configuration),
which Ingresses a controller serves, and the ready endpoints an upstream gets."""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import pytest

from kinn.ingress import backends, status
from kinn.ingress.certificates import CertificateError, covers, fake_certificate, from_secret
from kinn.ingress.configuration import ClusterObjects, build
from kinn.ingress.ingressclass import ClassConfiguration, is_ours
from kinn.ingress.model import DEFAULT_UPSTREAM, Certificate, Endpoint, Location, Upstream

FAKE = Certificate("default-fake-certificate", "FAKE PEM\n", "f" * 40, ("ingress.local",))


def path(value: str, service: str, port: int | str = 80, path_type: str = "Prefix") -> dict:
    ref = {"number": port} if isinstance(port, int) else {"name": port}
    return {"path": value, "pathType": path_type, "backend": {"service": {"name": service, "port": ref}}}


def ingress(name: str, rules: list[dict], created: str = "2024-01-01T00:00:00Z", namespace: str = "default",
            **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": {"rules": rules, **spec}}


def rule(host: str, *paths: dict) -> dict:
    return {"host": host, "http": {"paths": list(paths)}} if paths else {"host": host}


def locations(config, host: str) -> list[tuple[str, bool, str]]:
    server = next(s for s in config.servers if s.hostname == host)
    return [(loc.path, loc.exact, loc.upstream) for loc in server.locations]


def test_prefix_paths_match_by_element_and_exact_paths_stay_exact():
    config = build(ClusterObjects([ingress("web", [rule("a.example", path("/", "web"), path("/who", "whoami"),
                                                        path("/api/", "api"), path("/exact", "web", path_type="Exact"),
                                                        path("/is", "api", path_type="ImplementationSpecific"))])]),
                   FAKE)
    assert locations(config, "a.example") == [
        ("/who/", False, "default-whoami-80"), ("/who", True, "default-whoami-80"),
        ("/is/", False, "default-api-80"), ("/is", True, "default-api-80"),
        ("/exact", True, "default-web-80"),
        ("/api/", False, "default-api-80"), ("/api", True, "default-api-80"),
        ("/", False, "default-web-80")]


def test_an_exact_rule_wins_over_the_exact_half_of_a_prefix_rule():
    config = build(ClusterObjects([ingress("web", [rule("a.example", path("/foo", "prefix"),
                                                        path("/foo", "exact", path_type="Exact"))])]), FAKE)
    assert locations(config, "a.example") == [("/foo/", False, "default-prefix-80"), ("/foo", True, "default-exact-80"),
                                              ("/", False, DEFAULT_UPSTREAM)]


def test_the_oldest_ingress_keeps_a_contested_path_and_a_rule_replaces_the_default_root():
    old = ingress("old", [rule("a.example", path("/app", "old-svc"))], created="2024-01-01T00:00:00Z")
    new = ingress("new", [rule("a.example", path("/app/", "new-svc"), path("/", "root"))],
                  created="2024-02-01T00:00:00Z")
    config = build(ClusterObjects([new, old]), FAKE)
    assert locations(config, "a.example") == [("/app/", False, "default-old-svc-80"),
                                              ("/app", True, "default-old-svc-80"), ("/", False, "default-root-80")]


def test_default_backends():
    catch_all = ingress("catch-all", [], defaultBackend={"service": {"name": "fallback", "port": {"number": 8080}}})
    with_rules = ingress("site", [rule("b.example", path("/x", "x"))],
                         defaultBackend={"service": {"name": "site-default", "port": {"name": "http"}}})
    config = build(ClusterObjects([catch_all, with_rules]), FAKE)
    assert [s.hostname for s in config.servers] == ["_", "b.example"]
    assert locations(config, "_") == [("/", False, "default-fallback-8080")]
    assert locations(config, "b.example")[-1] == ("/", False, "default-site-default-http")
    assert build(ClusterObjects([]), FAKE).servers[0].locations == (Location("/", False, DEFAULT_UPSTREAM),)


def test_rules_without_a_host_go_to_the_catch_all_server():
    config = build(ClusterObjects([ingress("any", [rule("", path("/api", "api"))])]), FAKE)
    assert [s.hostname for s in config.servers] == ["_"]
    assert locations(config, "_") == [("/api/", False, "default-api-80"), ("/api", True, "default-api-80"),
                                      ("/", False, DEFAULT_UPSTREAM)]


SERVICES = {
    "default/web": {"metadata": {"name": "web", "namespace": "default"},
                    "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}},
    "default/whoami": {"metadata": {"name": "whoami", "namespace": "default"},
                       "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
                                          {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}},
}


def slice_(*endpoints: tuple[str, bool], ports: list[dict] | None = None) -> dict:
    return {"ports": ports,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}} for ip, ready in endpoints]}


def test_upstreams_are_the_ready_endpoints_at_the_target_port_not_the_cluster_ip():
    slices = {"default/web": [slice_(("10.244.2.3", True), ("10.244.1.3", True), ("10.244.1.9", False),
                                     ports=[{"name": "", "port": 8080, "protocol": "TCP"}])],
              "default/whoami": [slice_(("10.244.1.4", True), ports=[{"name": "http", "port": 5000, "protocol": "TCP"},
                                                                     {"name": "metrics", "port": 9090,
                                                                      "protocol": "TCP"}])]}
    config = build(ClusterObjects([ingress("web", [rule("a.example", path("/", "web"), path("/who", "whoami", "http"),
                                                        path("/gone", "missing"))])], SERVICES, slices), FAKE)
    assert config.upstreams == (
        Upstream("default-missing-80", ()),
        Upstream("default-web-80", (Endpoint("10.244.1.3", 8080), Endpoint("10.244.2.3", 8080))),
        Upstream("default-whoami-http", (Endpoint("10.244.1.4", 5000),)))


def test_endpoint_ports_by_name_by_number_and_without_slice_ports():
    whoami = SERVICES["default/whoami"]
    named = [slice_(("10.0.0.1", True), ports=[{"name": "http", "port": 5000, "protocol": "TCP"}])]
    assert backends.endpoints(whoami, "http", named) == (Endpoint("10.0.0.1", 5000),)
    assert backends.endpoints(whoami, "80", named) == (Endpoint("10.0.0.1", 5000),)  # the Service port number
    assert backends.endpoints(whoami, "9090", named) == (Endpoint("10.0.0.1", 9090),)  # numeric targetPort fallback
    assert backends.endpoints(whoami, "8443", named) == ()  # no such Service port
    portless = [slice_(("10.0.0.2", True))]
    assert backends.endpoints(SERVICES["default/web"], "80", portless) == (Endpoint("10.0.0.2", 8080),)
    assert backends.endpoints(None, "80", named) == ()
    udp = [slice_(("10.0.0.1", True), ports=[{"name": "http", "port": 5000, "protocol": "UDP"}])]
    named_target = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}
    assert backends.endpoints(named_target, "http", udp) == ()


def test_upstream_names():
    assert backends.upstream_name("shop", {"name": "cart", "port": {"number": 8080}}) == "shop-cart-8080"
    assert backends.upstream_name("shop", {"name": "cart", "port": {"name": "http"}}) == "shop-cart-http"


def certificate(*names: str, common_name: str = "ignored") -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return {"tls.crt": base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode(),
            "tls.key": base64.b64encode(key_pem).decode()}


def secret(name: str, data: dict) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "type": "kubernetes.io/tls", "data": data}


def test_tls_secrets_become_certificates_only_when_valid():
    cert = from_secret(secret("a-tls", certificate("a.example", "*.wild.example")))
    assert cert.name == "default-a-tls" and cert.hosts == ("a.example", "*.wild.example")
    assert "BEGIN CERTIFICATE" in cert.pem and "BEGIN PRIVATE KEY" in cert.pem and len(cert.sha) == 40
    assert covers(cert, "a.example") and covers(cert, "x.wild.example")
    assert not covers(cert, "wild.example") and not covers(cert, "y.x.wild.example") and not covers(cert, "b.example")
    assert from_secret(secret("cn", certificate(common_name="cn.example"))).hosts == ("cn.example",)
    mismatched = {"tls.crt": certificate("a.example")["tls.crt"], "tls.key": certificate("a.example")["tls.key"]}
    with pytest.raises(CertificateError, match="private key does not match public key"):
        from_secret(secret("mixed", mismatched))
    with pytest.raises(CertificateError, match="has no tls.key"):
        from_secret(secret("half", {"tls.crt": mismatched["tls.crt"]}))
    fake = fake_certificate()
    assert fake.name == "default-fake-certificate" and fake.hosts == ("ingress.local",)


def test_each_tls_host_gets_its_secret_if_it_covers_the_host_else_the_fake_certificate():
    a = from_secret(secret("a-tls", certificate("a.example")))
    wild = from_secret(secret("wild-tls", certificate("*.example")))
    tls = [{"hosts": ["a.example"], "secretName": "a-tls"}, {"hosts": ["c.example"], "secretName": "missing"},
           {"hosts": ["d.example"], "secretName": "a-tls"}, {"secretName": "wild-tls"}]
    site = ingress("site", [rule(h) for h in ("a.example", "b.example", "c.example", "d.example")], tls=tls)
    plain = ingress("plain", [rule("plain.example")])
    config = build(ClusterObjects([site, plain], certificates={"default/a-tls": a, "default/wild-tls": wild}), FAKE)
    assert {s.hostname: s.certificate for s in config.servers} == {
        "_": None, "a.example": a, "b.example": wild, "c.example": FAKE, "d.example": FAKE, "plain.example": None}
    assert config.default_certificate == FAKE and config.certificates() == {FAKE, a, wild}


CLASSES = {"nginx": {"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}},
           "other": {"metadata": {"name": "other"}, "spec": {"controller": "example.com/other"}}}


@pytest.mark.parametrize(("class_name", "annotation", "without_class", "ours"), [
    ("nginx", None, False, True),
    ("other", None, False, False),
    ("absent", None, False, False),
    ("other", "nginx", False, False),  # the field wins over the annotation
    (None, "nginx", False, True),
    (None, "other", False, False),
    (None, None, False, False),
    (None, None, True, True),
])
def test_which_ingresses_are_ours(class_name, annotation, without_class, ours):
    obj = ingress("x", [])
    if class_name:
        obj["spec"]["ingressClassName"] = class_name
    if annotation:
        obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": annotation}
    assert is_ours(obj, CLASSES, ClassConfiguration(watch_without_class=without_class)) is ours


def test_status_publishes_the_controller_service_address():
    service = {"status": {"loadBalancer": {"ingress": [{"ip": "10.240.0.201", "ipMode": "VIP"},
                                                       {"hostname": "lb.example"},
                                                       {"ip": "10.240.0.200", "ipMode": "VIP"}]}}}
    addresses = status.published_addresses(service)
    assert addresses == [{"ip": "10.240.0.200"}, {"ip": "10.240.0.201"}, {"hostname": "lb.example"}]
    assert status.published_addresses(None) == []
    current = {"status": {"loadBalancer": {"ingress": [{"ip": "10.240.0.200"}, {"ip": "10.240.0.201"},
                                                       {"hostname": "lb.example"}]}}}
    assert not status.needs_update(current, addresses) and status.needs_update({}, addresses)
    assert status.status_patch(addresses) == {"status": {"loadBalancer": {"ingress": addresses}}}
