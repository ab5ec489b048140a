"""The cluster's DNS data as lookup tables, kept current from Namespace, Service and EndpointSlice events.

CoreDNS's kubernetes plugin answers from client-go indexers: services by namespace/name, endpoints
by service, both also by IP for reverse lookups. These are the same tables, reduced to what DNS
needs, so answering never walks the whole cluster: a Service becomes its cluster IPs and ports, an
EndpointSlice its *ready* addresses (the DNS spec's definition; the EndpointSlice controller
already marks every address ready for a Service with publishNotReadyAddresses).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator

Obj = dict[str, Any]
ServiceKey = tuple[str, str]  # (namespace, name)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Port:
    name: str
    protocol: str
    port: int


# An endpoint slice without ports stands for "all ports" (a headless Service without ports): CoreDNS
# gives its addresses one pseudo-port -1, which resolves A queries and yields no SRV record.
PORTLESS = (Port("", "", -1),)


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName Services
    external_name: str  # set only for type ExternalName
    ports: tuple[Port, ...]

    @property
    def headless(self) -> bool:
        return not self.cluster_ips and not self.external_name


@dataclass(frozen=True)
class Endpoint:
    ip: str
    hostname: str  # the endpoint's hostname, else its IP with dashes (CoreDNS's endpointHostname)
    ports: tuple[Port, ...]


def dashed(ip: str) -> str:
    """10.244.1.5 → 10-244-1-5, fd00::5 → fd00--5: an IP as one DNS label."""
    return ip.replace(".", "-").replace(":", "-")


def service_from(obj: Obj) -> Service:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    external = spec.get("externalName", "") if spec.get("type") == "ExternalName" else ""
    ips = spec.get("clusterIPs") or [spec.get("clusterIP", "")]
    ports = tuple(Port(p.get("name", ""), p.get("protocol", "TCP"), p["port"]) for p in spec.get("ports") or ())
    return Service(meta["namespace"], meta["name"], () if external else tuple(ip for ip in ips if ip not in ("", "None")),
                   external, ports)


def ready_endpoints(endpoint_slice: Obj) -> tuple[Endpoint, ...]:
    """The slice's ready addresses; `ready` unset means ready (EndpointConditions' contract)."""
    if endpoint_slice.get("addressType") not in ("IPv4", "IPv6"):
        return ()  # FQDN slices name hosts, not addresses
    ports = tuple(Port(p.get("name", ""), p.get("protocol", "TCP"), p["port"])
                  for p in endpoint_slice.get("ports") or () if p.get("port") is not None) or PORTLESS
    found = []
    for endpoint in endpoint_slice.get("endpoints") or ():
        if (endpoint.get("conditions") or {}).get("ready") is False:
            continue
        for ip in endpoint.get("addresses") or ():
            found.append(Endpoint(ip, endpoint.get("hostname") or dashed(ip), ports))
    return tuple(found)


def _key(obj: Obj) -> ServiceKey:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


class ClusterRecords:
    """Namespaces, Services and ready endpoints, indexed for DNS, with the zone's SOA serial.

    The serial is the Unix time of the last change, as CoreDNS's: it only ever grows, and tells a
    secondary (or a curious user) when the data last moved.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.serial = int(clock())
        self._namespaces: set[str] = set()
        self._services: dict[ServiceKey, Service] = {}
        self._service_ips: dict[str, set[ServiceKey]] = {}
        # slice (namespace, name) → the Service it belongs to and its ready endpoints
        self._slices: dict[ServiceKey, tuple[ServiceKey, tuple[Endpoint, ...]]] = {}
        self._slices_by_service: dict[ServiceKey, set[ServiceKey]] = {}
        self._endpoint_ips: dict[str, Counter[tuple[ServiceKey, str]]] = {}

    def _changed(self) -> None:
        self.serial = max(self.serial, int(self._clock()))

    # -- updates (informer events) -----------------------------------------------------------

    def set_namespace(self, obj: Obj) -> None:
        self._namespaces.add(obj["metadata"]["name"])
        self._changed()

    def delete_namespace(self, obj: Obj) -> None:
        self._namespaces.discard(obj["metadata"]["name"])
        self._changed()

    def set_service(self, obj: Obj) -> None:
        self.delete_service(obj)
        service = service_from(obj)
        key = (service.namespace, service.name)
        self._services[key] = service
        for ip in service.cluster_ips:
            self._service_ips.setdefault(ip, set()).add(key)

    def delete_service(self, obj: Obj) -> None:
        key = _key(obj)
        old = self._services.pop(key, None)
        for ip in old.cluster_ips if old else ():
            self._service_ips[ip].discard(key)
            if not self._service_ips[ip]:
                del self._service_ips[ip]
        self._changed()

    def set_slice(self, obj: Obj) -> None:
        self.delete_slice(obj)
        service_name = (obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service_name:
            return  # a slice no Service owns names nothing
        key, service = _key(obj), (obj["metadata"]["namespace"], service_name)
        endpoints = ready_endpoints(obj)
        self._slices[key] = (service, endpoints)
        self._slices_by_service.setdefault(service, set()).add(key)
        for endpoint in endpoints:
            self._endpoint_ips.setdefault(endpoint.ip, Counter())[(service, endpoint.hostname)] += 1

    def delete_slice(self, obj: Obj) -> None:
        key = _key(obj)
        service, endpoints = self._slices.pop(key, (("", ""), ()))
        if service in self._slices_by_service:
            self._slices_by_service[service].discard(key)
            if not self._slices_by_service[service]:
                del self._slices_by_service[service]
        for endpoint in endpoints:
            counts = self._endpoint_ips[endpoint.ip]
            counts[(service, endpoint.hostname)] -= 1
            if counts[(service, endpoint.hostname)] <= 0:
                del counts[(service, endpoint.hostname)]
            if not counts:
                del self._endpoint_ips[endpoint.ip]
        self._changed()

    # -- lookups -------------------------------------------------------------------------------

    def has_namespace(self, namespace: str) -> bool:
        return namespace in self._namespaces

    def service(self, namespace: str, name: str) -> Service | None:
        return self._services.get((namespace, name))

    def endpoints(self, namespace: str, service: str) -> Iterator[Endpoint]:
        """The Service's ready endpoints, slice by slice in name order (answers are deterministic)."""
        for key in sorted(self._slices_by_service.get((namespace, service), ())):
            yield from self._slices[key][1]

    def services_by_ip(self, ip: str) -> list[Service]:
        return [self._services[key] for key in sorted(self._service_ips.get(ip, ()))]

    def endpoints_by_ip(self, ip: str) -> list[tuple[ServiceKey, str]]:
        """(Service, endpoint hostname) for every ready endpoint with this address."""
        return sorted(self._endpoint_ips.get(ip, ()))
