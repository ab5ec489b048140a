"""The listeners that watch a probe: `nft -a monitor trace` and `conntrack -E` in each netns on the
path, `tcpdump` on each node's eth0 for the packets between nodes (VXLAN-encapsulated, or plain with
the host-gw backend).

A listener is only useful once it listens: each is waited for until its socket is bound in its
netns (netlink group memberships or a packet socket, read from /proc/<pid>/net), never slept for.
Afterwards the output is read until it has been quiet for a moment, and every process is ended by
its PID, also when the trace fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from kinn.trace import inside
from kinn.trace.arming import TRACE_CT_MARK

READY_TIMEOUT = 5.0
QUIET = 0.3
DRAIN_TIMEOUT = 3.0
# The first packet of each direction, inside VXLAN: UDP 8472 to or from flannel.1's port, and an inner
# TCP SYN (inner protocol at udp[39], inner TCP flags at udp[63] with a 20-byte inner IP header),
# or any inner UDP or ICMP packet; the inner tuples are matched against the trace's afterwards.
VXLAN_FILTER = "udp port 8472 and (udp[39] != 6 or udp[63] & 2 != 0)"
# host-gw: pod packets cross eth0 as they are; again only TCP SYNs (SYN-ACKs too), UDP and ICMP.
PLAIN_FILTER = "tcp[tcpflags] & tcp-syn != 0 or udp or icmp"
# tcpdump's arguments per flannel backend (-T vxlan decodes every selected UDP packet as VXLAN).
CAPTURE = {"vxlan": ["-T", "vxlan", VXLAN_FILTER], "host-gw": [PLAIN_FILTER]}


@dataclass
class Listener:
    """A running tool and the lines it printed so far."""

    what: str
    netns: str
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    last_output: float = field(default_factory=time.monotonic)
    readers: list[threading.Thread] = field(default_factory=list)

    def read(self) -> None:
        """Collect stdout lines until the process ends (on its own thread)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self.last_output = time.monotonic()

    def read_errors(self) -> None:
        """Collect stderr lines (tcpdump says there when it listens)."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip("\n"))


@dataclass
class Listeners:
    """Every listener of one trace, by (tool, netns)."""

    running: dict[tuple[str, str], Listener] = field(default_factory=dict)

    def lines(self, what: str, netns: str) -> list[str]:
        listener = self.running.get((what, netns))
        return listener.lines if listener else []


def start(what: str, netns: str, argv: list[str], kind: str) -> Listener:
    listener = Listener(what, netns, inside.spawn(netns, *argv))
    for reader in (listener.read, listener.read_errors):
        listener.readers.append(threading.Thread(target=reader, daemon=True, name=f"{what}:{netns}"))
        listener.readers[-1].start()
    _wait_listening(listener, kind)
    return listener


@contextlib.contextmanager
def listening(namespaces: list[str], wires: list[str], backend: str) -> Iterator[Listeners]:
    """nft trace and conntrack monitors in `namespaces`, captures on eth0 of `wires` (for flannel's
    `backend`), for the block."""
    listeners = Listeners()
    try:
        for netns in namespaces:
            listeners.running[("trace", netns)] = start("trace", netns, ["nft", "-a", "monitor", "trace"], "netlink")
            listeners.running[("conntrack", netns)] = start(
                "conntrack", netns, ["conntrack", "-E", "--mark", f"{TRACE_CT_MARK:#x}/{TRACE_CT_MARK:#x}"], "netlink")
        for netns in wires:
            listeners.running[("capture", netns)] = start(
                "capture", netns, ["tcpdump", "-i", "eth0", "-nn", "-l", "--immediate-mode", *CAPTURE[backend]],
                "capture")
        yield listeners
        _drain(list(listeners.running.values()))
    finally:
        for listener in listeners.running.values():
            _stop(listener)


def _wait_listening(listener: Listener, kind: str) -> None:
    """Until the process listens: a netlink socket with groups joined, or tcpdump's "listening on"
    (printed once its capture is active, filter attached)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if listener.process.poll() is not None:
            raise RuntimeError(f"{listener.what} in {listener.netns} exited: {' '.join(listener.errors)}")
        if any(line.startswith("listening on") for line in listener.errors) if kind == "capture" \
                else _netlink_ready(listener.process.pid):
            return
        time.sleep(0.01)
    raise TimeoutError(f"{listener.what} in {listener.netns} did not start listening within {READY_TIMEOUT}s")


def _netlink_ready(pid: int) -> bool:
    """Whether one of the process's netlink sockets has joined a multicast group (/proc/<pid>/net/netlink
    lists the sockets of its netns: Groups is the 4th column, Inode the 10th)."""
    try:
        inodes = {os.readlink(fd).removeprefix("socket:[").rstrip("]") for fd in Path(f"/proc/{pid}/fd").iterdir()
                  if os.readlink(fd).startswith("socket:")}
        rows = Path(f"/proc/{pid}/net/netlink").read_text().splitlines()[1:]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(fields[9] in inodes and int(fields[3], 16) != 0 for fields in map(str.split, rows))


def _drain(listeners: list[Listener]) -> None:
    """Wait until no listener has printed anything for QUIET seconds (at most DRAIN_TIMEOUT): the kernel
    queued every event while the probe ran, the readers may not have picked them up yet."""
    start = time.monotonic()
    deadline = start + DRAIN_TIMEOUT
    while time.monotonic() < deadline and \
            time.monotonic() - max(start, *(listener.last_output for listener in listeners)) < QUIET:
        time.sleep(0.05)


def _stop(listener: Listener) -> None:
    """End the process by its PID (SIGTERM, then SIGKILL), reap it, and let its readers take in what
    it printed last (the paths are assembled from those lines next)."""
    if listener.process.poll() is None:
        listener.process.terminate()
        try:
            listener.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            listener.process.kill()
            listener.process.wait()
    for reader in listener.readers:
        reader.join(timeout=2)
