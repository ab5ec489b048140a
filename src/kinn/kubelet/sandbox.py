"""Pod sandboxes: a pause process owning new network, IPC and UTS namespaces (CRI RunPodSandbox).

As with containerd, the network namespace is also bind-mounted at `/var/run/netns/cni-<uuid>`,
so it outlives pause long enough for CNI DEL, `ip netns` lists it, and it is what the kubelet
hands to CNI as CNI_NETNS. The namespaces are created by unsharing in the forked pause child,
so they are new relative to whatever namespaces the caller runs in (a kinn node's netns, mount
and UTS namespaces), and the bind mount lands in the caller's mount namespace.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import os
import secrets
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kinn.kubelet import nsutil
from kinn.kubelet.pause import ensure_pause_binary

DEFAULT_NETNS_DIR = Path("/var/run/netns")
SANDBOX_NAMESPACES = ("net", "ipc", "uts")
STOP_TIMEOUT = 5.0


class SandboxError(RuntimeError):
    """A sandbox could not be created or its pause process is gone."""


def generate_id() -> str:
    """64 hex characters from 32 random bytes, as containerd generates sandbox and container IDs."""
    return secrets.token_hex(32)


def netns_name() -> str:
    """`cni-<uuid>`: the name containerd gives a pod's network namespace under /var/run/netns."""
    return f"cni-{uuid.uuid4()}"


@dataclass
class Sandbox:
    """A running pod sandbox; `pid` plus `start_time` identify pause even if PIDs are reused."""

    id: str
    pod_uid: str
    hostname: str
    pid: int
    start_time: int
    netns_path: Path
    _process: asyncio.subprocess.Process | None = field(default=None, repr=False, compare=False)
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc), compare=False)  # CRI createdAt

    def is_ready(self) -> bool:
        """True while pause runs (CRI SANDBOX_READY); False once it died, so the kubelet recreates it."""
        return nsutil.process_start_time(self.pid) == self.start_time

    def namespace(self, kind: str) -> Path:
        """The pause process's namespace file of `kind` (net, ipc, uts) that containers join."""
        return nsutil.namespace_path(self.pid, kind)


def _become_sandbox(hostname: str) -> None:
    """Runs in the forked child before exec: new net/IPC/UTS namespaces, `lo` up (containerd runs
    the CNI loopback plugin for it, dockershim set it up itself; this costs no plugin exec at
    start-up), then the pod's hostname."""
    nsutil.unshare(nsutil.CLONE_NEWNET | nsutil.CLONE_NEWIPC | nsutil.CLONE_NEWUTS)
    nsutil.set_loopback_up()
    socket.sethostname(hostname)


async def create_sandbox(pod_uid: str, hostname: str, *, netns_dir: Path = DEFAULT_NETNS_DIR,
                         pause_binary: Path | None = None) -> Sandbox:
    """Start pause in new namespaces with `hostname` and bind-mount its netns as `<netns_dir>/cni-<uuid>`.

    The loopback device is up, as every runtime leaves it before the pod's network is set up.
    """
    binary = pause_binary or ensure_pause_binary()
    # argv[0] is "/pause", the path in the upstream image, so `lsns` and `ps` show what seed 003 shows
    # (uvloop puts the path in argv[0] instead; pause then re-executes itself as "/pause").
    process = await asyncio.create_subprocess_exec(
        "/pause", executable=binary, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
        preexec_fn=functools.partial(_become_sandbox, hostname))
    start_time = nsutil.process_start_time(process.pid)
    if start_time is None:
        await process.wait()
        raise SandboxError(f"pause exited at start with code {process.returncode}")
    sandbox = Sandbox(generate_id(), pod_uid, hostname, process.pid, start_time,
                      netns_dir / netns_name(), process)
    try:
        _pin_netns(sandbox.namespace("net"), sandbox.netns_path)
    except OSError as error:
        await stop_sandbox(sandbox)
        raise SandboxError(f"failed to mount network namespace at {sandbox.netns_path}: {error}") from error
    return sandbox


def _pin_netns(namespace: Path, path: Path) -> None:
    """Bind-mount a netns file onto an empty file at `path`, as `ip netns add` and containerd do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o444, exist_ok=False)
    try:
        nsutil.mount(namespace, path, flags=nsutil.MS_BIND)
    except OSError:
        path.unlink()
        raise


async def stop_sandbox(sandbox: Sandbox, timeout: float = STOP_TIMEOUT) -> None:
    """Kill pause with SIGKILL (containerd's StopPodSandbox) and wait until it is gone; idempotent.

    The netns stays mounted, so CNI DEL can still enter it afterwards.
    """
    if sandbox.is_ready():
        os.kill(sandbox.pid, signal.SIGKILL)
    if sandbox._process is not None:
        await asyncio.wait_for(sandbox._process.wait(), timeout)
        return
    deadline = time.monotonic() + timeout
    while sandbox.is_ready():
        if time.monotonic() > deadline:
            raise SandboxError(f"pause (pid {sandbox.pid}) did not exit within {timeout}s of SIGKILL")
        await asyncio.sleep(0.01)


async def remove_sandbox(sandbox: Sandbox) -> None:
    """Stop pause, then unmount and delete the netns file; safe to call again after a partial run."""
    await stop_sandbox(sandbox)
    try:
        nsutil.umount(sandbox.netns_path)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOENT):  # not mounted (any more), or already gone
            raise
    sandbox.netns_path.unlink(missing_ok=True)
