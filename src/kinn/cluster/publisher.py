"""The port publisher: host 127.0.0.1 ports forwarded to Services, as docker-proxy serves kind's extraPortMappings.

One process per cluster (`kinn publish`, started by `kinn up` in the cluster's cgroup so `kinn
down` ends it) listens on each mapping's host port. Every accepted connection is dialled anew
from inside the underlay netns — as the outside client would dial — to the Service's
LoadBalancer address, or, without one, to a node's InternalIP at the port's NodePort: a node
running a serving endpoint (the only kind that answers for `externalTrafficPolicy: Local`),
else any Ready node. Services, EndpointSlices and Nodes come from informers, so the choice
follows the cluster without an API call per connection.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from typing import Any

from kinn import netlink
from kinn.client.informer import SharedInformerFactory, strip_managed_fields
from kinn.client.rest import Client, resource
from kinn.cluster.portmapping import LISTEN_ADDRESS, PortMapping
from kinn.controllers.endpointslice_reconciler import SERVICE_NAME_LABEL
from kinn.controllers.nodehealth import ready_status
from kinn.loadbalancer.election import serving_endpoints
from kinn.loadbalancer.provider import ingress_ips

log = logging.getLogger("kinn.publish")

Obj = dict[str, Any]

SERVICES = resource("v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")
NODES = resource("v1", "nodes")
CONNECT_TIMEOUT = 5.0
CHUNK = 64 * 1024
CLUSTER_CHECK_PERIOD = 1.0


def _namespace_identity(netns: str) -> tuple[int, int] | None:
    """The (device, inode) of the namespace a netns name is bound to, None without one."""
    try:
        found = netlink.netns_path(netns).stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class NoBackend(LookupError):
    """The mapping's Service cannot be reached from outside the cluster right now; the message says why."""


class ListenError(RuntimeError):
    """A mapping's host port cannot be listened on: another program holds it, or an earlier mapping does."""


def internal_ip(node: Obj) -> str | None:
    return next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
                 if a.get("type") == "InternalIP"), None)


def backend(mapping: PortMapping, service: Obj | None, nodes: list[Obj], slices: list[Obj]) -> tuple[str, int]:
    """Where a connection for `mapping` goes from the underlay: LB address:port, else node IP:nodePort."""
    where = f"service {mapping.namespace}/{mapping.service}"
    if service is None:
        raise NoBackend(f"{where} not found")
    port = next((p for p in (service.get("spec") or {}).get("ports") or [] if mapping.matches(p)), None)
    if port is None:
        raise NoBackend(f"{where} has no TCP port {mapping.port}")
    if addresses := ingress_ips(service):
        return addresses[0], port["port"]
    if not port.get("nodePort"):
        raise NoBackend(f"{where} is {service['spec'].get('type', 'ClusterIP')}: no LoadBalancer address and no "
                        "NodePort to reach it from outside (make it type LoadBalancer or NodePort)")
    ready = {n["metadata"]["name"]: internal_ip(n) for n in nodes if ready_status(n) == "True" and internal_ip(n)}
    serving = {endpoint.get("nodeName") for endpoint in serving_endpoints(slices)}
    chosen = sorted(ready.keys() & serving) or sorted(ready)
    if not chosen:
        raise NoBackend(f"{where}: no Ready node to reach its NodePort {port['nodePort']} on")
    return ready[chosen[0]], port["nodePort"]


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One direction until EOF, then pass the half-close on (HTTP clients may close their side first)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


class Publisher:
    def __init__(self, client: Client, mappings: tuple[PortMapping, ...], underlay_netns: str) -> None:
        self.mappings, self.underlay_netns = mappings, underlay_netns
        self.factory = SharedInformerFactory(client, strip_managed_fields)
        self.services = self.factory.informer(SERVICES)
        self.slices = self.factory.informer(ENDPOINT_SLICES)
        self.nodes = self.factory.informer(NODES)

    async def run(self) -> None:
        """Listen first (so a taken port fails at once), then follow the cluster until cancelled or
        until the cluster is gone."""
        underlay = _namespace_identity(self.underlay_netns)
        servers = [await self._listen(mapping) for mapping in self.mappings]
        self.factory.start()
        for mapping in self.mappings:
            log.info("forwarding %s:%d to service %s/%s port %s", LISTEN_ADDRESS, mapping.host_port,
                     mapping.namespace, mapping.service, mapping.port)
        serving = [asyncio.ensure_future(server.serve_forever()) for server in servers]
        await self._check_backends()
        try:
            await asyncio.wait([*serving, asyncio.ensure_future(self._until_gone(underlay))],
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in serving:
                task.cancel()
            await self.factory.stop()

    async def _check_backends(self) -> None:
        """Say at once which mappings cannot be forwarded yet (no such Service, a ClusterIP one, no
        Ready node), rather than only when a connection comes. They are kept: the Service may come."""
        try:
            await self._synced()
        except asyncio.TimeoutError:
            return
        for mapping in self.mappings:
            try:
                self._backend(mapping)
            except NoBackend as error:
                log.warning("%s: not reachable yet: %s", mapping, error)

    async def _synced(self) -> None:
        """Wait for the informers' first lists (TimeoutError after CONNECT_TIMEOUT)."""
        await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in (self.services, self.slices, self.nodes))),
                               CONNECT_TIMEOUT)

    async def _until_gone(self, underlay: tuple[int, int] | None) -> None:
        """Return once the underlay netns this publisher dials from is gone or is another one (the
        cluster was taken down, perhaps made again): a `kinn publish` run by hand, outside the
        cluster's cgroup, would otherwise hold its host ports open after `kinn down`."""
        while _namespace_identity(self.underlay_netns) == underlay:
            await asyncio.sleep(CLUSTER_CHECK_PERIOD)
        log.info("the cluster's underlay netns %s is gone (kinn down): no longer forwarding", self.underlay_netns)

    async def _listen(self, mapping: PortMapping) -> asyncio.Server:
        try:
            return await asyncio.start_server(functools.partial(self._forward, mapping), LISTEN_ADDRESS,
                                              mapping.host_port)
        except OSError as error:  # the loop's strerror repeats the address: the errno's own words suffice
            raise ListenError(f"{mapping}: cannot listen on {LISTEN_ADDRESS}:{mapping.host_port}: "
                              f"{netlink.errno_words(error)}; "
                              "choose another host port") from error

    def _backend(self, mapping: PortMapping) -> tuple[str, int]:
        key = f"{mapping.namespace}/{mapping.service}"
        slices = [s for s in self.slices.indexer.list() if s["metadata"].get("namespace") == mapping.namespace
                  and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == mapping.service]
        return backend(mapping, self.services.indexer.get(key), self.nodes.indexer.list(), slices)

    async def _forward(self, mapping: PortMapping, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._synced()
            ip, port = self._backend(mapping)
            upstream = await asyncio.wait_for(self._dial(ip, port), CONNECT_TIMEOUT)
        except (NoBackend, OSError, asyncio.TimeoutError) as error:
            log.warning("%s: connection from 127.0.0.1:%d not forwarded: %s", mapping,
                        writer.get_extra_info("peername")[1], str(error) or "timed out")
            writer.close()
            return
        backend_reader, backend_writer = upstream
        await asyncio.gather(_copy(reader, backend_writer), _copy(backend_reader, writer))
        for side in (writer, backend_writer):
            side.close()

    async def _dial(self, ip: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection made in the underlay netns (a socket keeps the netns it was created in)."""
        sock = await asyncio.to_thread(netlink.socket_in, self.underlay_netns, socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, (ip, port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock)
