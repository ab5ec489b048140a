"""Ingress on a real kinn cluster, seen from the outside client: `kinn up`'s ingress-nginx add-on (kinn's
controller driving Debian's nginx) behind its LoadBalancer address; two hosts and two paths to an nginx
and a whoami that echoes the headers it gets (the client's address in X-Forwarded-For, Host kept), a TLS
host served with its Secret's certificate by SNI, Ingresses of another class ignored, the default class,
defaultBackend, and a configuration nginx rejects leaving the last good one serving."""

from __future__ import annotations

import base64
import datetime
import json
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from kinn_cluster import KinnCluster, kinn_up
from kubectl_output import wait_until

pytestmark = pytest.mark.e2e

CLIENT_IP = "10.240.0.254"
NAMESPACE = "ingress-nginx"
CONTROLLER = "ingress-nginx-controller"
FAKE_CERTIFICATE = "Kubernetes Ingress Controller Fake Certificate"
WHOAMI = """
import http.server, socket

class Whoami(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        lines = [f"Hostname: {socket.gethostname()}", f"RemoteAddr: {self.client_address[0]}", self.requestline,
                 *(f"{name}: {value}" for name, value in self.headers.items())]
        body = ("\\n".join(lines) + "\\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(("", 8080), Whoami).serve_forever()
"""
APPS = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"terminationGracePeriodSeconds": 1,
                                    "containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "whoami"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "whoami"}},
              "template": {"metadata": {"labels": {"app": "whoami"}},
                           "spec": {"terminationGracePeriodSeconds": 1,
                                    "containers": [{"name": "whoami", "image": "python:3",
                                                    "command": ["python3", "-c", WHOAMI],
                                                    "ports": [{"name": "web", "containerPort": 8080}]}]}}}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "whoami"},
     "spec": {"selector": {"app": "whoami"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}},
]
# Run in the outside client with this interpreter (the client shares the host's files): one HTTP or
# HTTPS request to the load balancer with a Host header (and SNI), printed as JSON with the certificate's CN.
FETCH = """
import json, socket, ssl, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
scheme, ip, host, path, cafile = sys.argv[1:6]
raw = socket.create_connection((ip, 443 if scheme == "https" else 80), timeout=5)
peer = ""
if scheme == "https":
    context = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    raw = context.wrap_socket(raw, server_hostname=host)
    certificate = x509.load_der_x509_certificate(raw.getpeercert(binary_form=True))
    peer = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
raw.sendall(f"GET {path} HTTP/1.1\\r\\nHost: {host}\\r\\nConnection: close\\r\\n\\r\\n".encode())
response = b""
while chunk := raw.recv(65536):
    response += chunk
head, _, body = response.decode(errors="replace").partition("\\r\\n\\r\\n")
status, *fields = head.split("\\r\\n")
headers = dict(field.split(": ", 1) for field in fields)
print(json.dumps({"status": int(status.split()[1]), "headers": headers, "body": body, "peer": peer}))
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KinnCluster]:
    home = tmp_path_factory.mktemp("kinn-home")
    (home / "kube").mkdir()
    c = KinnCluster(f"ing{uuid.uuid4().hex[:6]}", home, home / "kube" / "config")
    with kinn_up(c, "--workers", "2"):
        apply(c, *APPS)
        (home / "fetch.py").write_text(FETCH)
        yield c


def lb_ip(cluster: KinnCluster) -> str:
    def address() -> str:
        service = json.loads(cluster.kubectl("get", "svc", "-n", NAMESPACE, CONTROLLER, "-o", "json"))
        return ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress", [{}])[0].get("ip", "")
    return str(wait_until(address, timeout=20, what="the controller Service's LoadBalancer address"))


def wget(cluster: KinnCluster, host: str, path: str) -> str:
    """Plain HTTP from the outside client, as a user tries it (busybox's wget -T crashes: `timeout` instead)."""
    return cluster.kinn("client", "exec", "--name", cluster.name, "--", "timeout", "5", "wget", "-qO-", "--header",
                        f"Host: {host}", f"http://{lb_ip(cluster)}{path}", check=False).stdout


def fetch(cluster: KinnCluster, host: str, path: str, scheme: str = "http", ca: Path | None = None) -> dict:
    script = str(cluster.home / "fetch.py")
    result = cluster.kinn("client", "exec", "--name", cluster.name, "--", sys.executable, script, scheme,
                          lb_ip(cluster), host, path, str(ca or ""), check=False)
    return json.loads(result.stdout) if result.returncode == 0 else {"status": 0, "error": result.stderr}


def apply(cluster: KinnCluster, *objects: dict) -> None:
    cluster.kubectl("apply", "-f", "-", input="\n".join(map(json.dumps, objects)))


def ingress_object(name: str, rules: list[dict], **spec: object) -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
            "spec": {"rules": rules, **spec}}


def backend(service: str, port: int | str) -> dict:
    return {"service": {"name": service, "port": {"number": port} if isinstance(port, int) else {"name": port}}}


def rule(host: str, *paths: tuple[str, str, dict]) -> dict:
    return {"host": host, "http": {"paths": [{"path": p, "pathType": t, "backend": b} for p, t, b in paths]}}


def answered_by(cluster: KinnCluster, host: str, path: str, expected: str) -> str:
    return str(wait_until(lambda: expected in (text := wget(cluster, host, path)) and text, timeout=30,
                          what=f"{expected!r} from http://{host}{path}"))


def test_kinn_up_deploys_the_controller_behind_a_load_balancer(cluster: KinnCluster) -> None:
    ingress_class = json.loads(cluster.kubectl("get", "ingressclass", "nginx", "-o", "json"))
    assert ingress_class["spec"] == {"controller": "k8s.io/ingress-nginx"}
    assert ingress_class["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
    service = json.loads(cluster.kubectl("get", "svc", "-n", NAMESPACE, CONTROLLER, "-o", "json"))
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["externalTrafficPolicy"] == "Local"
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [("http", 80, "http"),
                                                                                           ("https", 443, "https")]
    assert lb_ip(cluster) == "10.240.0.250"  # the pool's last address: the first ones stay the user's
    cluster.kubectl("wait", "-n", NAMESPACE, "--for=condition=Available", f"deployment/{CONTROLLER}", "--timeout=60s")
    # No Ingress yet: the catch-all server answers 404 itself.
    assert wait_until(lambda: fetch(cluster, "nothing.example", "/")["status"] == 404, timeout=20,
                      what="404 from the default backend")


def test_two_hosts_and_two_paths_reach_two_services(cluster: KinnCluster) -> None:
    apply(cluster, ingress_object("demo", [
        rule("a.example", ("/", "Prefix", backend("web", 80)), ("/who", "Prefix", backend("whoami", "http"))),
        rule("b.example", ("/api", "Prefix", backend("whoami", 80)), ("/exact", "Exact", backend("whoami", "http")))],
        ingressClassName="nginx"))
    assert "Welcome to nginx!" in answered_by(cluster, "a.example", "/", "Welcome to nginx!")
    assert "GET /who HTTP/1.1" in answered_by(cluster, "a.example", "/who", "Hostname: whoami-")
    assert "GET /who/me HTTP/1.1" in wget(cluster, "a.example", "/who/me")
    assert "GET /exact HTTP/1.1" in wget(cluster, "b.example", "/exact")
    assert "GET /api/v1 HTTP/1.1" in wget(cluster, "b.example", "/api/v1")
    # Prefix matches whole path elements; Exact only itself; other hosts get the catch-all 404.
    not_whoami = fetch(cluster, "a.example", "/whoami")  # web's own 404 page, with its version (ours has none)
    assert not_whoami["status"] == 404 and "<center>nginx/" in not_whoami["body"]
    assert fetch(cluster, "b.example", "/apis")["status"] == 404
    assert fetch(cluster, "b.example", "/exact/more")["status"] == 404
    assert fetch(cluster, "c.example", "/who")["status"] == 404
    rows = wait_until(lambda: "10.240" in (out := cluster.kubectl("get", "ingress", "demo")) and out, timeout=20,
                      what="the Ingress's ADDRESS")
    assert lb_ip(cluster) in str(rows)


def test_backends_see_the_client_address_and_the_original_host(cluster: KinnCluster) -> None:
    echoed = answered_by(cluster, "a.example", "/who", "Hostname: whoami-")
    headers = dict(line.split(": ", 1) for line in echoed.splitlines() if ": " in line)
    assert headers["Host"] == "a.example"
    assert headers["X-Forwarded-For"] == CLIENT_IP and headers["X-Real-IP"] == CLIENT_IP
    assert headers["X-Forwarded-Proto"] == "http" and headers["X-Forwarded-Host"] == "a.example"
    # nginx itself dials the pods: the whoami sees the controller pod's address, not a node's or the ClusterIP's.
    controller = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json"))["items"][0]
    assert headers["RemoteAddr"] == controller["status"]["podIP"]


def controller_conf(cluster: KinnCluster) -> str:
    return cluster.kubectl("exec", "-n", NAMESPACE, f"deploy/{CONTROLLER}", "--", "cat",
                           "/run/ingress-nginx/nginx.conf")


def upstream_servers(cluster: KinnCluster, upstream: str) -> set[str]:
    """The addresses in nginx.conf's `upstream <name> { server <ip>:<port> …; }` block."""
    text = controller_conf(cluster)
    block = text[text.index(f"upstream {upstream} {{"):]
    return {line.split()[1].rsplit(":", 1)[0] for line in block[:block.index("}")].splitlines()
            if line.strip().startswith("server ")}


def ready_pod_ips(cluster: KinnCluster, app: str) -> set[str]:
    pods = json.loads(cluster.kubectl("get", "pods", "-l", f"app={app}", "-o", "json"))["items"]
    return {p["status"]["podIP"] for p in pods if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])}


def test_upstreams_are_the_ready_endpoints_and_follow_scaling(cluster: KinnCluster) -> None:
    def whoami_ips() -> set[str]:
        return ready_pod_ips(cluster, "whoami")

    def upstreams() -> set[str]:
        return upstream_servers(cluster, "default-whoami-http")

    wait_until(lambda: len(whoami_ips()) == 2 and upstreams() == whoami_ips(), timeout=30,
               what="the whoami pods as upstream servers")
    cluster_ip = json.loads(cluster.kubectl("get", "svc", "whoami", "-o", "json"))["spec"]["clusterIP"]
    assert cluster_ip not in controller_conf(cluster) and ":8080 max_fails=0;" in controller_conf(cluster)
    cluster.kubectl("scale", "deployment", "whoami", "--replicas", "3")
    wait_until(lambda: len(whoami_ips()) == 3 and upstreams() == whoami_ips(), timeout=60,
               what="three upstream servers after scaling up")
    cluster.kubectl("scale", "deployment", "whoami", "--replicas", "2")
    wait_until(lambda: len(upstreams()) == 2 and upstreams() == whoami_ips(), timeout=60,
               what="two upstream servers after scaling down")


def self_signed(host: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    return (certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def tls_secret(name: str, cert: bytes, key: bytes) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/tls",
            "data": {"tls.crt": base64.b64encode(cert).decode(), "tls.key": base64.b64encode(key).decode()}}


def test_a_tls_host_is_served_with_its_secret_by_sni(cluster: KinnCluster) -> None:
    cert, key = self_signed("secure.example", ec.generate_private_key(ec.SECP256R1()))
    ca = cluster.home / "secure.example.crt"
    ca.write_bytes(cert)
    apply(cluster, tls_secret("secure-tls", cert, key), ingress_object(
        "secure", [rule("secure.example", ("/", "Prefix", backend("whoami", 80)))],
        tls=[{"hosts": ["secure.example"], "secretName": "secure-tls"}]))
    response = wait_until(lambda: (r := fetch(cluster, "secure.example", "/tls", "https", ca))["status"] == 200 and r,
                          timeout=30, what="HTTPS from secure.example, verified against its own certificate")
    assert response["peer"] == "secure.example"
    assert "GET /tls HTTP/1.1" in response["body"] and "X-Forwarded-Proto: https" in response["body"]
    assert f"X-Forwarded-For: {CLIENT_IP}" in response["body"]
    redirect = fetch(cluster, "secure.example", "/tls?x=1")
    assert redirect["status"] == 308 and redirect["headers"]["Location"] == "https://secure.example/tls?x=1"
    # A host without TLS answers HTTPS with the controller's own certificate; an unknown one gets the catch-all.
    plain = fetch(cluster, "a.example", "/who", "https")
    assert (plain["status"], plain["peer"]) == (200, FAKE_CERTIFICATE) and "X-Forwarded-Proto: https" in plain["body"]
    other = fetch(cluster, "unknown.example", "/", "https")
    assert (other["status"], other["peer"]) == (404, FAKE_CERTIFICATE)


def test_ingresses_of_another_class_are_ignored_and_classless_ones_get_the_default(cluster: KinnCluster) -> None:
    apply(cluster,
          {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "other"},
           "spec": {"controller": "example.com/other"}},
          ingress_object("other", [rule("other.example", ("/", "Prefix", backend("web", 80)))],
                         ingressClassName="other"),
          {**ingress_object("legacy", [rule("legacy.example", ("/", "Prefix", backend("web", 80)))]),
           "metadata": {"name": "legacy", "annotations": {"kubernetes.io/ingress.class": "other"}}},
          ingress_object("classless", [rule("classless.example", ("/", "Prefix", backend("web", 80)))]))
    classless = json.loads(cluster.kubectl("get", "ingress", "classless", "-o", "json"))
    assert classless["spec"]["ingressClassName"] == "nginx"  # the DefaultIngressClass admission plugin
    answered_by(cluster, "classless.example", "/", "Welcome to nginx!")
    for host in ("other.example", "legacy.example"):
        assert fetch(cluster, host, "/")["status"] == 404
    for name in ("other", "legacy"):
        assert not json.loads(cluster.kubectl("get", "ingress", name, "-o", "json")).get("status", {}).get(
            "loadBalancer", {}).get("ingress")


def test_a_default_backend_takes_the_requests_no_rule_matches(cluster: KinnCluster) -> None:
    apply(cluster, ingress_object("fallback", [], defaultBackend=backend("whoami", "http")))
    assert "GET /anything HTTP/1.1" in answered_by(cluster, "nobody.example", "/anything", "Hostname: whoami-")
    cluster.kubectl("delete", "ingress", "fallback")
    wait_until(lambda: fetch(cluster, "nobody.example", "/")["status"] == 404, timeout=30, what="404 again")


def test_a_configuration_nginx_rejects_keeps_the_last_good_one(cluster: KinnCluster) -> None:
    """A 1024-bit RSA key parses, but Debian's OpenSSL (security level 2) refuses it: `nginx -t` fails,
    the controller records a Warning RELOAD event, and every host keeps being served as before."""
    cert, key = self_signed("weak.example", rsa.generate_private_key(65537, 1024))
    apply(cluster, tls_secret("weak-tls", cert, key), ingress_object(
        "weak", [rule("weak.example", ("/", "Prefix", backend("web", 80)))],
        tls=[{"hosts": ["weak.example"], "secretName": "weak-tls"}]))

    def warning() -> str:
        events = json.loads(cluster.kubectl("get", "events", "-n", NAMESPACE, "--field-selector",
                                            "reason=RELOAD,type=Warning", "-o", "json"))["items"]
        return next((e["message"] for e in events if "weak-tls" in e["message"]), "")
    message = str(wait_until(warning, timeout=30, what="a Warning RELOAD event"))
    assert message.startswith("Error reloading NGINX: \n" + "-" * 79 + "\nError: exit status 1\n")
    assert "ee key too small" in message and "test failed" in message
    assert "GET /who HTTP/1.1" in wget(cluster, "a.example", "/who")  # the running configuration serves on
    assert fetch(cluster, "weak.example", "/")["status"] == 404  # and the rejected one is not in it
    cluster.kubectl("delete", "ingress", "weak")
    cluster.kubectl("scale", "deployment", "web", "--replicas", "2")  # a new, valid configuration is applied again
    wait_until(lambda: len(ready_pod_ips(cluster, "web")) == 2 and upstream_servers(cluster, "default-web-80") ==
               ready_pod_ips(cluster, "web"), timeout=60, what="both web pods as upstream servers")
    assert "weak" not in controller_conf(cluster)
