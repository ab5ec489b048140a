"""What the nginx configuration is made of (ingress-nginx's pkg/apis/ingress: Server, Location, Backend).

Frozen values: configuration.py builds them from the cluster's objects, template.py renders them,
and two configurations compare equal exactly when they render the same text.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SERVER = "_"  # the catch-all server's name (defServerName)
DEFAULT_UPSTREAM = "upstream-default-backend"  # defUpstreamName: answered 404 by nginx itself


@dataclass(frozen=True, order=True)
class Endpoint:
    """One upstream server: a ready endpoint's address and its target port."""

    address: str
    port: int


@dataclass(frozen=True)
class Upstream:
    """A Service port's endpoints, named `<namespace>-<service>-<port>` as ingress-nginx names them."""

    name: str
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class Location:
    """One nginx `location`: `= path` when exact, else a prefix that nginx matches literally (so a
    Prefix path arrives here as `/foo/`, plus an exact `/foo`).

    `upstream` is an Upstream's name or DEFAULT_UPSTREAM; `ingress` (namespace/name), `service` and
    `port` say where it came from (nginx's $ingress_name, $service_name, $service_port)."""

    path: str
    exact: bool
    upstream: str
    ingress: str = ""
    service: str = ""
    port: str = ""


@dataclass(frozen=True)
class Certificate:
    """A TLS certificate and its key as one PEM file (`<namespace>-<secret>.pem`, as ingress-nginx
    writes them); `sha` (sha1 of the PEM) goes into the configuration so a renewed certificate
    changes the text and reloads nginx; `hosts` are the names it is valid for."""

    name: str
    pem: str
    sha: str
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Server:
    """A virtual host: `hostname` (or DEFAULT_SERVER), its locations (in ingress-nginx's order, paths
    descending), and the certificate an Ingress's `tls` section gave it (None: it answers HTTPS with
    the default certificate and does not redirect HTTP)."""

    hostname: str
    locations: tuple[Location, ...]
    certificate: Certificate | None = None


@dataclass(frozen=True)
class Configuration:
    """Everything nginx.conf says: the servers (the catch-all first, then by hostname), the upstreams
    they use (by name), and the default certificate (the catch-all's and every server's without one)."""

    servers: tuple[Server, ...]
    upstreams: tuple[Upstream, ...]
    default_certificate: Certificate

    def certificates(self) -> set[Certificate]:
        return {self.default_certificate} | {s.certificate for s in self.servers if s.certificate is not None}
