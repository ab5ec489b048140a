"""Named network namespaces, bind-mounted under /var/run/netns exactly like `ip netns add`.

Entering a namespace uses setns(2) on a short-lived thread: setns only changes the calling
thread, so the rest of the process (an asyncio loop, other pods' work) keeps its own namespace.
Children forked from that thread inherit its namespace, which is how a CNI runtime is run
"inside the node".
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TypeVar

if TYPE_CHECKING:
    from pyroute2 import IPRoute

NETNS_RUN_DIR = Path("/var/run/netns")
CLONE_NEWNET = 0x40000000
PROC_NET_INIT_INO = 0xEFFFFFF9  # the initial netns's inode (include/linux/proc_ns.h, Linux 6.18+)
MNT_DETACH = 2
T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True)


class NetnsError(OSError):
    """A namespace could not be created, entered or removed."""


def netns_path(netns: str | os.PathLike[str]) -> Path:
    """The file naming `netns`: a name under /var/run/netns, or any path (e.g. /proc/<pid>/ns/net) as is."""
    text = os.fspath(netns)
    return Path(text) if "/" in text else NETNS_RUN_DIR / text


def create(name: str) -> Path:
    """Create a named namespace (a bind mount visible to `ip netns`); fails if it already exists."""
    if netns_path(name).exists():
        raise NetnsError(f"network namespace {name!r} already exists")
    from pyroute2 import netns as pyroute2_netns  # here: `kinn down` and `kinn get` never pay its ~230 ms
    pyroute2_netns.create(name)
    return netns_path(name)


def delete(name: str) -> None:
    """Unmount and remove a named namespace, as `ip netns delete` does (a lazy unmount, then the file);
    a missing one is not an error (deletes are repeatable)."""
    path = netns_path(name)
    if path.exists():
        if _libc.umount2(os.fsencode(path), MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise NetnsError(err, f"umount2({path}): {os.strerror(err)}")
        path.unlink()


def exists(netns: str | os.PathLike[str]) -> bool:
    return netns_path(netns).exists()


def in_host_netns() -> bool:
    """Whether the calling thread is in the host's network namespace, where kinn must not touch the
    firewall or links: init's (PID 1's) namespace when init's is readable — in a container, the
    container's own — else the kernel's initial one, whose inode is fixed (PROC_NET_INIT_INO) since
    Linux 6.18: a machine whose init hides its namespace from root (as this kind does) still has it.
    On older kernels with init out of reach the answer is False, as it is inside a kinn node."""
    own = os.stat("/proc/thread-self/ns/net").st_ino
    try:
        return own == os.stat("/proc/1/ns/net").st_ino
    except PermissionError:
        return own == PROC_NET_INIT_INO


def list_names() -> list[str]:
    """Names of the namespaces under /var/run/netns, as `ip netns list` shows them."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def enter(netns: str | os.PathLike[str]) -> None:
    """Move the *calling thread* into `netns`. Only for threads made for it (see run_in)."""
    fd = os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NetnsError(err, f"setns({netns_path(netns)}): {os.strerror(err)}")
    finally:
        os.close(fd)


def run_in(netns: str | os.PathLike[str], fn: Callable[..., T], *args: object) -> T:
    """Call fn(*args) on a fresh thread inside `netns` and return its result (or raise its exception)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            enter(netns)
            outcome["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"netns:{netns}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _netlink_socket() -> int:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE).detach()


def errno_words(error: BaseException) -> str:
    """An OS error as Go's net errors word it, lowercase and without the address ("connection
    refused", "address already in use"); an aiohttp error gives its underlying OSError's."""
    code = getattr(getattr(error, "os_error", error), "errno", None)
    return os.strerror(code).lower() if code else str(error)


def socket_in(netns: str | os.PathLike[str], family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
              proto: int = 0) -> socket.socket:
    """A socket that lives in `netns` although the caller does not: a socket keeps the namespace it
    was created in, so a process in one netns can listen or dial in another (the API server reaching
    the nodes' network, a kubelet reaching the API server from a node)."""
    fd = run_in(netns, lambda: socket.socket(family, kind, proto).detach())
    return socket.socket(family, kind, proto, fileno=fd)


@contextmanager
def iproute(netns: str | os.PathLike[str] | None = None) -> Iterator[IPRoute]:
    """An IPRoute bound to `netns` (None: the caller's own). The netlink socket is opened inside the
    namespace and keeps acting there, without forking a helper process as pyroute2's netns= would."""
    from pyroute2 import IPRoute  # here, as in create(): processes that only list or enter namespaces skip it
    ipr = IPRoute() if netns is None else IPRoute(fileno=run_in(netns, _netlink_socket))
    try:
        yield ipr
    finally:
        ipr.close()


def open_fd(netns: str | os.PathLike[str]) -> int:
    """An O_RDONLY descriptor of the namespace, for moving links into it (IFLA_NET_NS_FD)."""
    return os.open(netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
