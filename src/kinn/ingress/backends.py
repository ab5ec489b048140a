"""A Service port's upstream servers: its ready endpoints' addresses with the target port, read from
EndpointSlices as ingress-nginx's getEndpointsFromSlices reads them.

nginx connects to the pods directly, not to the ClusterIP: kube-proxy is not on the path, and nginx
balances (round-robin) and retries across the endpoints itself.
"""

from __future__ import annotations

from typing import Any, Iterable

from kinn.ingress.model import Endpoint

Obj = dict[str, Any]


def upstream_name(namespace: str, backend_service: Obj) -> str:
    """`<namespace>-<service>-<port number or name>` (ingress-nginx's upstreamName)."""
    port = backend_service.get("port") or {}
    if port.get("number"):
        return f"{namespace}-{backend_service['name']}-{port['number']}"
    if port.get("name"):
        return f"{namespace}-{backend_service['name']}-{port['name']}"
    return f"{namespace}-INVALID"


def backend_port(backend_service: Obj) -> str:
    """The Ingress backend's port as text: its number, else its name."""
    port = backend_service.get("port") or {}
    return str(port["number"]) if port.get("number") else port.get("name", "")


def service_port(service: Obj, port: str) -> Obj | None:
    """The Service port an Ingress backend names: by port number, by targetPort, or by name, the
    first that matches (serviceEndpoints)."""
    for candidate in (service.get("spec") or {}).get("ports") or []:
        if port in (str(candidate.get("port")), str(candidate.get("targetPort", "")), candidate.get("name", "")):
            return candidate
    return None


def endpoints(service: Obj | None, port: str, slices: Iterable[Obj]) -> tuple[Endpoint, ...]:
    """The ready endpoints behind `port` of `service`, each address:targetPort once, sorted.

    ExternalName Services have no endpoints here: nginx would have to resolve the name, and a kinn
    cluster resolves no names outside it."""
    if service is None or (service.get("spec") or {}).get("type") == "ExternalName":
        return ()
    matched = service_port(service, port)
    if matched is None:
        return ()
    found: set[Endpoint] = set()
    for eps in slices:
        for target in _target_ports(matched, eps.get("ports")):
            for endpoint in eps.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue  # nil means ready
                found.update(Endpoint(address, target) for address in endpoint.get("addresses") or [])
    return tuple(sorted(found))


def _target_ports(port: Obj, slice_ports: list[Obj] | None) -> list[int]:
    """The slice's port numbers for the Service port: the one with its name (any, when the Service port
    has no name), else a numeric targetPort; a slice without ports means the numeric targetPort."""
    target = port.get("targetPort", port.get("port"))
    numeric = target if isinstance(target, int) else 0
    if not slice_ports:
        return [numeric] if numeric else []
    found = []
    for candidate in slice_ports:
        if candidate.get("protocol", "TCP") != "TCP":
            continue
        name_matches = not port.get("name") or port["name"] == candidate.get("name")
        number = (candidate.get("port") or 0) if name_matches else 0
        if number := number or numeric:  # a numeric targetPort when no name matched (ingress-nginx#7390)
            found.append(number)
    return found
