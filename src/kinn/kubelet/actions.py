"""The handler actions that probes and lifecycle hooks share (upstream pkg/probe/{http,tcp,exec}):
ExecAction, HTTPGetAction and TCPSocketAction.

The kubelet runs in its node's network namespace, so it reaches a pod's IP over the node's bridge,
as upstream's kubelet connects from the node to the pod. Failure texts are Go's, because users
match them against what real clusters print, e.g. `Get "http://10.244.1.5:8080/healthz": dial tcp
10.244.1.5:8080: connect: connection refused`.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import dataclass
from enum import Enum
from typing import Any, Sequence

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from kinn import KUBERNETES_MAJOR, KUBERNETES_MINOR
from kinn.kubelet.runtime import ContainerProcess
from kinn.kubelet.runtime.exec import ExecError, exec_sync

MAX_OUTPUT = 10 * 1024  # maxRespBodyLength (http) and maxReadLength (exec)
MAX_REDIRECTS = 10  # net/http's default, kept by the prober's redirect checker
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
CLIENT_TIMEOUT = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"

Obj = dict[str, Any]


class Outcome(Enum):
    """probe.Result: what one run of an action says about the container."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ActionResult:
    outcome: Outcome
    output: str = ""


class ActionError(Exception):
    """The action could not be run at all (an unknown port name, a container that is gone): upstream's
    probe error, reported as `... probe errored` rather than counted as a failure."""


class HTTPGetError(Exception):
    """The GET got no HTTP response; the message is Go's *url.Error text."""


def go_quote(text: str) -> str:
    """Go's %q for the texts kinn quotes (printable, mostly ASCII): a double-quoted, escaped string."""
    return json.dumps(text, ensure_ascii=False)


def format_pod(pod: Obj) -> str:
    """format.Pod: how the kubelet names a pod in messages, `name_namespace(uid)`."""
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta.get('uid', '')})"


def user_agent(purpose: str) -> str:
    """`kube-probe/1.32`, `kube-lifecycle/1.32`: what the kubelet's requests say they are."""
    return f"kube-{purpose}/{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}"


def join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: IPv6 literals get brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def errno_text(error: OSError) -> str:
    """Go's text for an errno (its table is glibc's strerror, lower-cased)."""
    if error.errno is None:
        return str(error)
    text = os.strerror(error.errno)
    return text[:1].lower() + text[1:]


def dial_error(host: str, port: int, error: OSError) -> str:
    """net.OpError for a failed TCP dial: `dial tcp 10.244.1.5:8080: connect: connection refused`."""
    if isinstance(error, socket.gaierror):
        return f"dial tcp: lookup {host}: no such host"
    if isinstance(error, TimeoutError):
        return f"dial tcp {join_host_port(host, port)}: i/o timeout"
    return f"dial tcp {join_host_port(host, port)}: connect: {errno_text(error)}"


def resolve_container_port(port: int | str | None, container: Obj) -> int:
    """probe.ResolveContainerPort: a number, or the name of one of the container's ports (or a number
    written as a string, the last resort)."""
    if isinstance(port, str):
        named = next((p["containerPort"] for p in container.get("ports") or [] if p.get("name") == port), None)
        if named is None:
            try:
                named = int(port)
            except ValueError:
                raise ActionError(f"strconv.Atoi: parsing {go_quote(port)}: invalid syntax") from None
        port = named
    if port is None:
        raise ActionError(f"intOrString had no kind: {port}")
    if 0 < port < 65536:
        return port
    raise ActionError(f"invalid port number: {port}")


@dataclass(frozen=True)
class HTTPGetRequest:
    url: str
    headers: CIMultiDict[str]


def format_url(scheme: str, host: str, port: int, path: str) -> str:
    """formatURL: the path as given (query included) under scheme://host:port."""
    if path and not path.startswith(("/", "?")):
        path = "/" + path
    return f"{scheme}://{join_host_port(host, port)}{path}"


def http_get_request(action: Obj, container: Obj, pod_ip: str, purpose: str) -> HTTPGetRequest:
    """NewRequestForHTTPGetAction: host defaults to the pod IP, the user's httpHeaders win over the
    kubelet's User-Agent and `Accept: */*`, and an empty Accept removes that header."""
    scheme = (action.get("scheme") or "HTTP").lower()
    port = resolve_container_port(action.get("port"), container)
    url = format_url(scheme, action.get("host") or pod_ip, port, action.get("path", ""))
    headers: CIMultiDict[str] = CIMultiDict((h["name"], h["value"]) for h in action.get("httpHeaders") or [])
    if "User-Agent" not in headers:
        headers["User-Agent"] = user_agent(purpose)
    if "Accept" not in headers:
        headers["Accept"] = "*/*"
    elif headers["Accept"] == "":
        del headers["Accept"]
    return HTTPGetRequest(url, headers)


def _client_error_text(url: URL, error: Exception) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return CLIENT_TIMEOUT
    if isinstance(error, aiohttp.ClientConnectorError):
        return dial_error(url.host or "", url.port or 0, error.os_error)
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "EOF"
    if isinstance(error, OSError):
        return errno_text(error)
    return str(error) or type(error).__name__


async def http_get(request: HTTPGetRequest, timeout: float | None) -> tuple[int, bytes]:
    """The prober's http.Client: no keep-alive, no compression, TLS without verification, redirects
    followed only within the same host (at most 10, else the 3xx itself is the answer), at most 10 KiB
    of body read, `timeout` over the whole exchange. Returns the status code and body."""
    url = URL(request.url, encoded=True)
    first_host = url.host
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=False, force_close=True), timeout=aiohttp.ClientTimeout(total=timeout),
        auto_decompress=False, trust_env=False, skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"))
    async with session:
        sent = 0
        while True:
            try:
                async with session.get(url, headers=request.headers, allow_redirects=False) as response:
                    body = await response.content.read(MAX_OUTPUT)
                    location = response.headers.get("Location")
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                raise HTTPGetError(f"Get {go_quote(str(url))}: {_client_error_text(url, error)}") from error
            sent += 1
            if status not in REDIRECT_CODES or location is None:
                return status, body
            target = url.join(URL(location))
            if target.host != first_host:
                return status, body  # http.ErrUseLastResponse: a redirect off the pod is not followed
            if sent >= MAX_REDIRECTS:  # net/http's checkRedirect: len(via) >= 10
                raise HTTPGetError(f"Get {go_quote(str(target))}: stopped after {MAX_REDIRECTS} redirects")
            url = target


async def http_probe(request: HTTPGetRequest, timeout: float) -> ActionResult:
    """DoHTTPProbe: 200-299 succeed, 300-399 (a redirect not followed) succeed with a warning, anything
    else fails with its status code (never the body: it may hold secrets), no response fails with why."""
    try:
        status, body = await http_get(request, timeout)
    except HTTPGetError as error:
        return ActionResult(Outcome.FAILURE, str(error))
    text = body.decode(errors="replace")
    if 200 <= status < 300:
        return ActionResult(Outcome.SUCCESS, text)
    if 300 <= status < 400:
        return ActionResult(Outcome.WARNING, f"Probe terminated redirects, Response body: {text}")
    return ActionResult(Outcome.FAILURE, f"HTTP probe failed with statuscode: {status}")


async def tcp_probe(host: str, port: int, timeout: float) -> ActionResult:
    """DoTCPProbe: success is a completed TCP handshake, closed again at once."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except asyncio.TimeoutError:  # before OSError: TimeoutError is one
        return ActionResult(Outcome.FAILURE, f"dial tcp {join_host_port(host, port)}: i/o timeout")
    except OSError as error:
        return ActionResult(Outcome.FAILURE, dial_error(host, port, error))
    writer.close()
    return ActionResult(Outcome.SUCCESS)


def exec_output(stdout: bytes, stderr: bytes) -> str:
    """RunInContainer's output: stdout followed by stderr, at most 10 KiB of it."""
    return (stdout + stderr)[:MAX_OUTPUT].decode(errors="replace")


async def exec_probe(process: ContainerProcess, command: Sequence[str], timeout: float) -> ActionResult:
    """The exec prober over CRI ExecSync: exit code 0 succeeds; the output is the message either way; a
    command still running after timeoutSeconds is killed and fails as the CRI reports it."""
    try:
        result = await exec_sync(process, command, timeout)
    except asyncio.TimeoutError:
        return ActionResult(Outcome.FAILURE, f"command {go_quote(' '.join(command))} timed out")
    except ExecError as error:
        raise ActionError(str(error)) from error
    outcome = Outcome.SUCCESS if result.exit_code == 0 else Outcome.FAILURE
    return ActionResult(outcome, exec_output(result.stdout, result.stderr))
