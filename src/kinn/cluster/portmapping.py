"""Host port mappings (`kinn up --publish 8080:svc/frontend:80`): kind's extraPortMappings for a Service.

`HOSTPORT:svc/[NAMESPACE/]NAME:PORT` — a port on the host's 127.0.0.1 forwarded to a Service's
port (its number or name, as `kubectl port-forward svc/frontend:http` names it), reached from the
underlay as an outside client reaches it: at its LoadBalancer address, else at a node's NodePort.
Only loopback: the isolation rule keeps every cluster off the host's real interfaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAPPING = re.compile(r"^(?P<host_port>\d+):svc/(?:(?P<namespace>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/)?"
                     r"(?P<service>[a-z0-9]([-a-z0-9]*[a-z0-9])?):(?P<port>[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")
LISTEN_ADDRESS = "127.0.0.1"


class MappingError(ValueError):
    pass


@dataclass(frozen=True)
class PortMapping:
    host_port: int
    namespace: str
    service: str
    port: int | str  # the Service port's number, or its name

    @classmethod
    def parse(cls, text: str) -> PortMapping:
        match = MAPPING.match(str(text).strip())
        if not match:
            raise MappingError("must be HOSTPORT:svc/[NAMESPACE/]NAME:PORT, e.g. 8080:svc/frontend:80")
        host_port, port = int(match["host_port"]), match["port"]
        if not 1 <= host_port <= 65535:
            raise MappingError(f"host port {host_port} is not between 1 and 65535")
        return cls(host_port, match["namespace"] or "default", match["service"], int(port) if port.isdigit() else port)

    def matches(self, service_port: dict[str, object]) -> bool:
        """Is `service_port` (an entry of spec.ports) the TCP port this mapping names?"""
        return (service_port.get("port" if isinstance(self.port, int) else "name") == self.port
                and service_port.get("protocol", "TCP") == "TCP")

    def __str__(self) -> str:
        return f"{self.host_port}:svc/{self.namespace}/{self.service}:{self.port}"
