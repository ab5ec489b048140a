"""`kubectl port-forward` end to end: the real kubectl, the API server, `kinn kubelet`, a pod's port.

kubectl 1.32 tunnels SPDY/3.1 in a WebSocket (subprotocol SPDY/3.1+portforward.k8s.io) and falls
back to a plain SPDY upgrade when KUBECTL_PORT_FORWARD_WEBSOCKETS=false; the API server relays both
to the kubelet's SPDY endpoint, which dials the port inside the pod's network namespace. The Python
client's WebSocket channel protocol goes to the kubelet as it is.
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import pytest

from conftest import KUBECTL, StreamingKubectl
from test_kubelet import Node, apiserver, create_pod, no_pods_left, node, running, wait_until  # noqa: F401

pytestmark = pytest.mark.e2e

FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)")


@pytest.fixture
def web(node: Node) -> Iterator[str]:
    """A pod serving /etc over HTTP on 8080 (and nothing on 9999)."""
    create_pod(node, "web", [{"name": "web", "image": "python:3.11", "workingDir": "/etc",
                              "command": ["python3", "-u", "-m", "http.server", "8080"]}])
    wait_until("pod web Running", lambda: running(node, "web"), node)
    wait_until("web listening", lambda: "Serving HTTP" in node.server.kubectl("logs", "web").stdout, node)
    yield "web"


def port_forward(node: Node, *args: str, websockets: bool = True) -> StreamingKubectl:
    env = node.server.kubectl_env({"KUBECTL_PORT_FORWARD_WEBSOCKETS": "true" if websockets else "false"})
    return StreamingKubectl(subprocess.Popen([KUBECTL, "port-forward", *args], stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True, env=env))


def local_ports(forward: StreamingKubectl, count: int = 1) -> list[int]:
    forward.wait_for_line(lambda line: len(FORWARDING.findall("\n".join(forward.lines))) >= count, timeout=20)
    return [int(local) for local, _ in FORWARDING.findall("\n".join(forward.lines))]


def fetch(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
        return reply.read().decode()


@pytest.mark.parametrize("websockets", [True, False], ids=["websocket-tunnel", "spdy"])
def test_port_forward_serves_the_pods_page(node: Node, web: str, websockets: bool) -> None:
    with port_forward(node, f"pod/{web}", ":8080", websockets=websockets) as forward:
        (port,) = local_ports(forward)
        assert fetch(port, "/hostname").strip() == "web"
        # Two at once: each is its own pair of SPDY streams on the one connection.
        with ThreadPoolExecutor(2) as pool:
            pages = list(pool.map(lambda path: fetch(port, path), ["/hostname", "/hosts"]))
        assert pages[0].strip() == "web" and "127.0.0.1\tlocalhost" in pages[1]
        assert "Handling connection for" in "\n".join(forward.lines)


def test_port_nothing_listens_on_gives_kubectls_error(node: Node, web: str) -> None:
    """The kubelet's text on the error stream is kubectl's error; client-go then closes the whole
    connection (as against any cluster), so kubectl ends with "lost connection to pod"."""
    with port_forward(node, f"pod/{web}", ":8080", ":9999") as forward:
        good, bad = local_ports(forward, 2)
        assert fetch(good, "/hostname").strip() == "web"
        with pytest.raises(OSError):
            fetch(bad, "/")
        returncode, stderr = forward.wait(timeout=20)
    assert returncode == 1 and stderr.rstrip().endswith("error: lost connection to pod")
    assert '"Unhandled Error" err="an error occurred forwarding' in stderr
    assert "-> 9999: error forwarding port 9999 to pod " in stderr
    assert "failed to connect to localhost:9999 inside namespace" in stderr
    assert "dial tcp4 127.0.0.1:9999: connect: connection refused" in stderr


def test_unknown_pod(node: Node) -> None:
    missing = node.server.kubectl("port-forward", "pod/nope", ":8080", check=False)
    assert missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'


def test_python_client_port_forward_over_the_channel_protocol(node: Node, web: str) -> None:
    """The official Python client's `portforward`: a WebSocket with v4.channel.k8s.io, which the API
    server passes on to the kubelet; a port nothing listens on answers on its error channel."""
    from kubernetes import client
    from kubernetes.stream import portforward

    with node.server.api_client() as api:
        core = client.CoreV1Api(api)
        forward = portforward(core.connect_get_namespaced_pod_portforward, web, "default", ports="8080,9999")
        try:
            sock = forward.socket(8080)
            sock.setblocking(True)
            sock.settimeout(10)
            sock.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b"\r\n\r\nweb\n"), answer
            assert forward.error(8080) is None
            refused = wait_until("the error for port 9999", lambda: forward.error(9999), node)
            assert "failed to connect to localhost:9999 inside namespace" in refused, refused
        finally:
            forward.close()
