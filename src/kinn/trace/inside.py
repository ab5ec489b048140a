"""Running kernel tools (nft, conntrack, tcpdump, iptables-save) inside one network namespace.

Only the netns is joined: these tools talk netlink or open packet sockets, which act in the
caller's netns, and a pod's netns is reached by a path no mount namespace change is needed for.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from typing import Callable, Iterator

from kinn import netlink
from kinn.kubelet import nsutil


@contextlib.contextmanager
def joining(netns: str) -> Iterator[Callable[[], None]]:
    """A preexec_fn moving a child into `netns`, valid in the block (the namespace is opened before the
    fork: only setns runs between fork and exec)."""
    fd = os.open(netlink.netns_path(netns), os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield functools.partial(nsutil.setns, fd, nsutil.CLONE_NEWNET)
    finally:
        os.close(fd)


def run(netns: str, *argv: str, input: str | None = None) -> str:
    """Run a tool to completion in `netns`; its stdout, or CalledProcessError with its stderr."""
    with joining(netns) as preexec:
        result = subprocess.run(argv, input=input, capture_output=True, text=True, preexec_fn=preexec, timeout=30)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, argv, result.stdout, result.stderr)
    return result.stdout


def spawn(netns: str, *argv: str) -> subprocess.Popen[str]:
    """Start a long-running tool (a monitor, a capture) in `netns`, its output on pipes."""
    with joining(netns) as preexec:
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
