"""The userspace proxy mode: its portal rules as exact iptables-restore text, its round-robin, and
its TCP/UDP forwarding over real loopback sockets (no namespaces needed)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
import uvloop

from kinn.proxy.serviceport import Endpoint, service_ports
from kinn.proxy.userspace import rules, tcp, udp
from kinn.proxy.userspace.roundrobin import MissingEndpoints, RoundRobin

NODE_IP = "10.240.0.21"


def service(name: str = "nginx", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80, "protocol": "TCP"}], **spec}}


def ep(ip: str, port: int = 80) -> Endpoint:
    return Endpoint(f"{ip}:{port}", ip, port)


# --- rules -----------------------------------------------------------------------------------------

def test_cluster_ip_portals_redirect_pods_and_dnat_the_host() -> None:
    [port] = service_ports(service())
    assert rules.render_restore([rules.Portal(port, 40000)], NODE_IP) == "\n".join([
        "*nat",
        ":KUBE-PORTALS-CONTAINER - [0:0]",
        ":KUBE-PORTALS-HOST - [0:0]",
        ":KUBE-NODEPORT-CONTAINER - [0:0]",
        ":KUBE-NODEPORT-HOST - [0:0]",
        '-A KUBE-PORTALS-CONTAINER -m comment --comment "default/nginx:" -p tcp -m tcp --dport 80 '
        "-d 10.96.0.50/32 -j REDIRECT --to-ports 40000",
        '-A KUBE-PORTALS-HOST -m comment --comment "default/nginx:" -p tcp -m tcp --dport 80 '
        "-d 10.96.0.50/32 -j DNAT --to-destination 10.240.0.21:40000",
        "COMMIT",
        ""])


def test_node_port_rules_only_once_claimed() -> None:
    [port] = service_ports(service(type="NodePort", ports=[{"name": "http", "port": 80, "protocol": "TCP",
                                                            "nodePort": 30080}]))
    assert rules.portal_rules(rules.Portal(port, 40000, node_port=30080), NODE_IP)[2:] == [
        '-A KUBE-NODEPORT-CONTAINER -m comment --comment "default/nginx:http" -p tcp -m tcp --dport 30080 '
        "-j REDIRECT --to-ports 40000",
        '-A KUBE-NODEPORT-HOST -m comment --comment "default/nginx:http" -p tcp -m tcp --dport 30080 '
        "-j DNAT --to-destination 10.240.0.21:40000"]
    assert len(rules.portal_rules(rules.Portal(port, 40000), NODE_IP)) == 2  # the port is taken on this node


def test_external_and_load_balancer_ips() -> None:
    svc = service(type="LoadBalancer", externalIPs=["192.0.2.7"],
                  ports=[{"port": 53, "protocol": "UDP", "nodePort": 31053}])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.4"}]}}
    [port] = service_ports(svc)
    head = '-m comment --comment "default/nginx:" -p udp -m udp --dport 53'
    assert rules.portal_rules(rules.Portal(port, 40001), NODE_IP)[2:] == [
        f"-A KUBE-PORTALS-CONTAINER {head} -d 198.51.100.4/32 -j REDIRECT --to-ports 40001",
        f"-A KUBE-PORTALS-HOST {head} -d 198.51.100.4/32 -j DNAT --to-destination 10.240.0.21:40001",
        f"-A KUBE-PORTALS-CONTAINER {head} -d 192.0.2.7/32 -m physdev ! --physdev-is-in -j REDIRECT --to-ports 40001",
        f"-A KUBE-PORTALS-CONTAINER {head} -d 192.0.2.7/32 -m addrtype --dst-type LOCAL -j REDIRECT --to-ports 40001",
        f"-A KUBE-PORTALS-HOST {head} -d 192.0.2.7/32 -m addrtype --dst-type LOCAL "
        "-j DNAT --to-destination 10.240.0.21:40001"]


# iptables-save's rendering of the jump rules, as a node's nat table shows them.
SAVED_JUMPS = """\
-A PREROUTING -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-CONTAINER
-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER
-A OUTPUT -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" -j KUBE-PORTALS-HOST
-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must be the last rule in the chain" -j KUBE-NODEPORT-HOST
"""


def test_missing_jumps_prepend_portals_and_append_node_ports() -> None:
    assert rules.missing_jumps(SAVED_JUMPS) == []
    missing = rules.missing_jumps("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n")
    assert rules.render_restore([], NODE_IP, missing).splitlines()[5:-1] == [
        '-I PREROUTING 1 -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" '
        "-j KUBE-PORTALS-CONTAINER",
        '-I OUTPUT 1 -m comment --comment "handle ClusterIPs; NOTE: this must be before the NodePort rules" '
        "-j KUBE-PORTALS-HOST",
        '-A PREROUTING -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must '
        'be the last rule in the chain" -j KUBE-NODEPORT-CONTAINER',
        '-A OUTPUT -m addrtype --dst-type LOCAL -m comment --comment "handle service NodePorts; NOTE: this must '
        'be the last rule in the chain" -j KUBE-NODEPORT-HOST']


# --- round-robin -----------------------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def no_shuffle(endpoints: list[Endpoint]) -> None:
    pass


def test_round_robin_takes_turns_and_restarts_on_a_new_set() -> None:
    lb = RoundRobin("default/nginx:", shuffle=no_shuffle)
    with pytest.raises(MissingEndpoints, match="missing endpoints"):
        lb.next_endpoint("10.244.1.5")
    lb.update([ep("10.244.1.2"), ep("10.244.2.2")])
    assert [lb.next_endpoint("10.244.1.5").ip for _ in range(3)] == ["10.244.1.2", "10.244.2.2", "10.244.1.2"]
    lb.update([ep("10.244.2.2"), ep("10.244.1.2")])  # the same set: the turn goes on
    assert lb.next_endpoint("10.244.1.5").ip == "10.244.2.2"
    lb.update([ep("10.244.1.2"), ep("10.244.2.2"), ep("10.244.2.3")])
    assert lb.index == 0 and lb.next_endpoint("10.244.1.5").ip == "10.244.1.2"


def test_a_new_set_is_shuffled() -> None:
    lb = RoundRobin("default/nginx:", shuffle=list.reverse)
    lb.update([ep("10.244.1.2"), ep("10.244.2.2")])
    assert lb.next_endpoint("10.244.1.5").ip == "10.244.2.2"


def test_client_ip_affinity_sticks_within_the_timeout_refreshed_on_use() -> None:
    clock = Clock()
    lb = RoundRobin("default/nginx:", sticky_seconds=10, clock=clock, shuffle=no_shuffle)
    lb.update([ep("10.244.1.2"), ep("10.244.2.2"), ep("10.244.2.3")])
    first = lb.next_endpoint("10.244.1.5")
    assert lb.next_endpoint("10.244.3.9") != first  # another client takes the next turn
    clock.now += 9
    assert lb.next_endpoint("10.244.1.5") == first
    clock.now += 9  # 18 s after the first use, 9 s after the last
    assert lb.next_endpoint("10.244.1.5") == first
    assert lb.next_endpoint("10.244.1.5", reset_affinity=True).ip == "10.244.2.3"  # its dial failed: next turn
    assert lb.next_endpoint("10.244.1.5").ip == "10.244.2.3"  # and that is its endpoint now
    clock.now += 10
    lb.cleanup_stale_sessions()
    assert lb._affinity == {}


def test_affinity_to_a_removed_endpoint_is_dropped() -> None:
    lb = RoundRobin("default/nginx:", sticky_seconds=10800, clock=Clock(), shuffle=no_shuffle)
    lb.update([ep("10.244.1.2"), ep("10.244.2.2")])
    assert lb.next_endpoint("10.244.1.5").ip == "10.244.1.2"
    lb.update([ep("10.244.2.2"), ep("10.244.2.3")])
    assert lb.next_endpoint("10.244.1.5").ip == "10.244.2.2"


# --- forwarding over loopback ----------------------------------------------------------------------
# Each scenario runs on both loops: the agent runs the proxy on uvloop, whose transports differ subtly.
LOOPS = pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop], scenario: Awaitable[None]) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(asyncio.wait_for(scenario, 20))


async def echo_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Says who connected, then echoes until the client half-closes."""
    writer.write(f"{writer.get_extra_info('peername')[1]}\n".encode())
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@contextlib.asynccontextmanager
async def backend() -> AsyncIterator[int]:
    server = await asyncio.start_server(echo_peer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@contextlib.asynccontextmanager
async def tcp_proxy(lb: RoundRobin) -> AsyncIterator[int]:
    sock = tcp.listen()
    server = await tcp.serve(sock, lb)
    yield sock.getsockname()[1]
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@LOOPS
def test_tcp_second_connection_copies_both_ways_with_half_close(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    async def scenario() -> None:
        async with backend() as port:
            lb = RoundRobin("default/echo:", shuffle=no_shuffle)
            lb.update([ep("127.0.0.1", port)])
            async with tcp_proxy(lb) as proxy_port:
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
                payload = bytes(range(256)) * 32768  # 8 MiB: more than any buffer, so flow control is exercised
                writer.write(payload)  # at once, as HTTP clients do, while the proxy still dials
                writer.write_eof()
                backend_saw = int((await reader.readline()).decode())
                assert backend_saw != writer.get_extra_info("sockname")[1]  # its client is the proxy's socket
                assert await reader.read() == payload  # all of it, then the backend's close
                writer.close()
    run(loop_factory, scenario())


@LOOPS
def test_tcp_dial_moves_on_to_the_next_endpoint(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    async def scenario() -> None:
        async with backend() as port:
            lb = RoundRobin("default/echo:", shuffle=no_shuffle)
            lb.update([ep("127.0.0.1", closed_port()), ep("127.0.0.1", port)])
            async with tcp_proxy(lb) as proxy_port:
                reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
                assert (await reader.readline()).strip().isdigit()
                writer.close()
    run(loop_factory, scenario())


@LOOPS
def test_tcp_without_endpoints_is_closed_at_once(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    async def scenario() -> None:
        async with tcp_proxy(RoundRobin("default/none:")) as proxy_port:
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
            started = time.monotonic()
            assert await reader.read() == b""
            assert time.monotonic() - started < 1
            writer.close()
    run(loop_factory, scenario())


class UDPEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data + f" from {addr[1]}".encode(), addr)  # type: ignore[attr-defined]


@LOOPS
def test_udp_per_client_socket_replies_from_the_service_socket_and_idles_out(
        loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        echo, _ = await loop.create_datagram_endpoint(UDPEcho, local_addr=("127.0.0.1", 0))
        lb = RoundRobin("default/dns:", shuffle=no_shuffle)
        lb.update([ep("127.0.0.1", echo.get_extra_info("sockname")[1])])
        transport = await udp.serve(udp.bind(), lb)
        proxy: udp.UDPProxy = transport.get_protocol()  # type: ignore[assignment]
        proxy.idle_timeout = 0.2
        proxy_port = transport.get_extra_info("sockname")[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"ping", ("127.0.0.1", proxy_port))
            data, sender = await asyncio.to_thread(client.recvfrom, 100)
            client_port = client.getsockname()[1]
        assert sender == ("127.0.0.1", proxy_port)
        assert data.startswith(b"ping from ") and int(data.split()[-1]) != client_port
        assert list(proxy.clients) == [("127.0.0.1", client_port)]
        deadline = time.monotonic() + 5
        while proxy.clients and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert proxy.clients == {}
        transport.close()
        echo.close()
    run(loop_factory, scenario())
