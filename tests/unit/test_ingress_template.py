"""nginx.conf as the ingress controller renders it (exact text), and real `nginx -t` on the result."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from kinn.ingress.configuration import ClusterObjects, build
from kinn.ingress.model import (DEFAULT_UPSTREAM, Certificate, Configuration, Endpoint, Location, Server,
                                Upstream)
from kinn.ingress.nginx import Nginx, NginxError
from kinn.ingress.template import render

FIXTURE = Path(__file__).parent / "fixtures" / "ingress" / "nginx.conf"
DIRECTORY = Path("/run/ingress-nginx")
TLS = Certificate("default-a-tls", "PEM\n", "a" * 40, ("a.example",))
FAKE = Certificate("default-fake-certificate", "FAKE\n", "f" * 40, ("ingress.local",))


def demo() -> Configuration:
    who = ("default-whoami-http", "default/demo", "whoami", "http")
    return Configuration(
        servers=(Server("_", (Location("/", False, DEFAULT_UPSTREAM),)),
                 Server("a.example", (Location("/who/", False, *who), Location("/who", True, *who),
                                      Location("/", False, "default-web-80", "default/demo", "web", "80")), TLS)),
        upstreams=(Upstream("default-web-80", ()),
                   Upstream("default-whoami-http", (Endpoint("10.244.1.4", 5000), Endpoint("10.244.2.4", 5000)))),
        default_certificate=FAKE)


def test_the_whole_configuration():
    """Upstreams with endpoints only; the catch-all server first with the default certificate and 404; a
    TLS host with its own certificate, redirecting HTTP with 308; a Service without endpoints answered
    503; the health server."""
    assert render(demo(), DIRECTORY) == FIXTURE.read_text()


def server_block(text: str, host: str) -> str:
    start = text.index(f"    ## start server {host}\n")
    return text[start:text.index(f"    ## end server {host}\n", start)]


def test_a_host_without_tls_answers_https_with_the_default_certificate_and_does_not_redirect():
    config = Configuration((Server("b.example", (Location("/", False, "shop-cart-80", "shop/cart", "cart", "80"),)),),
                           (Upstream("shop-cart-80", (Endpoint("10.244.1.7", 80),)),), FAKE)
    assert server_block(render(config, DIRECTORY), "b.example") == """    ## start server b.example
    server {
        server_name b.example;
        listen 80;
        listen 443 ssl http2;
        # PEM sha: ffffffffffffffffffffffffffffffffffffffff
        ssl_certificate /run/ingress-nginx/ssl/default-fake-certificate.pem;
        ssl_certificate_key /run/ingress-nginx/ssl/default-fake-certificate.pem;
        set $proxy_upstream_name "-";

        location / {
            set $namespace "shop";
            set $ingress_name "cart";
            set $service_name "cart";
            set $service_port "80";
            set $proxy_upstream_name "shop-cart-80";
            proxy_pass http://shop-cart-80;
        }
    }
"""


def test_wildcard_hosts_match_one_label_and_odd_paths_are_quoted():
    config = Configuration((Server("*.example.com", (Location('/a b;{}"\\$x', True, DEFAULT_UPSTREAM),
                                                     Location("/v1.0/~user@x:y/", False, DEFAULT_UPSTREAM))),), (),
                           FAKE)
    block = server_block(render(config, DIRECTORY), "*.example.com")
    assert "        server_name ~^(?<subdomain>[\\w-]+)\\.example\\.com$;\n" in block
    assert '        location = "/a b;{}\\"\\\\$x" {\n' in block
    assert "        location /v1.0/~user@x:y/ {\n" in block


def test_long_hostnames_grow_the_server_names_hash():
    host = "a" * 60 + ".example"
    text = render(Configuration((Server(host, (Location("/", False, DEFAULT_UPSTREAM),)),), (), FAKE), DIRECTORY)
    assert "    server_names_hash_bucket_size 128;\n" in text


needs_nginx = pytest.mark.skipif(shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
                                 reason="nginx-light is not installed (hack/setup.sh)")


@needs_nginx
def test_nginx_accepts_what_is_rendered_and_rejects_a_broken_text(tmp_path: Path):
    """`nginx -t` (no sockets are opened) on a configuration with every kind of location and a real
    certificate; a broken text fails with nginx's own message in ingress-nginx's frame."""
    from test_ingress_configuration import certificate, ingress, path, rule, secret
    from kinn.ingress.certificates import fake_certificate, from_secret

    tls = from_secret(secret("a-tls", certificate("a.example")))
    site = ingress("site", [rule("a.example", path("/", "web"), path("/p", "web"), path("/e", "web", path_type="Exact"),
                                 path('/odd path;{}"', "web", path_type="Exact")),
                            rule("*.wild.example", path("/", "gone"))],
                   tls=[{"hosts": ["a.example"], "secretName": "a-tls"}])
    services = {"default/web": {"spec": {"ports": [{"port": 80, "targetPort": 80}]}}}
    slices = {"default/web": [{"endpoints": [{"addresses": ["10.244.1.2"]}]}]}
    config = build(ClusterObjects([site], services, slices, {"default/a-tls": tls}), fake_certificate())
    nginx = Nginx(tmp_path)
    nginx.write_certificates(config.certificates())
    asyncio.run(nginx.test(render(config, tmp_path)))
    with pytest.raises(NginxError) as failed:
        asyncio.run(nginx.test(render(config, tmp_path).replace("proxy_pass", "proxy_passs", 1)))
    message = str(failed.value)
    assert message.startswith("\n" + "-" * 79 + "\nError: exit status 1\n")
    assert 'unknown directive "proxy_passs"' in message and message.endswith("test failed\n" + "-" * 79 + "\n")
    assert not (tmp_path / "nginx.conf").exists()  # a test never touches the running configuration
