"""Pod sandboxes: a pause process owning new network, IPC and UTS namespaces (CRI RunPodSandbox),
or, for a hostNetwork pod, only a new IPC namespace in its node's network and UTS namespaces.

As with containerd, the network namespace is also bind-mounted at `/var/run/netns/cni-<uuid>`,
so it outlives pause long enough for CNI DEL, `ip netns` lists it, and it is what the kubelet
hands to CNI as CNI_NETNS. pause creates the namespaces itself before it settles (runc's job
upstream; see pause.c), so they are new relative to whatever namespaces the caller runs in (a kinn
node's netns, mount and UTS namespaces), and the bind mount lands in the caller's mount namespace.
"""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from kinn.kubelet import nsutil, oom
from kinn.kubelet.pause import ensure_pause_binary

DEFAULT_NETNS_DIR = Path("/var/run/netns")
SANDBOX_NAMESPACES = ("net", "ipc", "uts")
STOP_TIMEOUT = 5.0
SANDBOX_OOM_SCORE_ADJ = -998  # containerd's for pause: the pod's processes are OOM-killed before it
READY_FD = 3  # where pause reports "ok" (or the step that failed) once the namespaces exist


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
    netns_path: Path  # the pinned `cni-…` netns; for a hostNetwork pod, pause's (the node's)
    # Resolves to pause's exit code once it has exited and been reaped; None for a sandbox found
    # running (not this process's child).
    _exited: asyncio.Future[int] | None = field(default=None, repr=False, compare=False)
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc), compare=False)  # CRI createdAt
    host_network: bool = False

    def is_ready(self) -> bool:
        """True while pause runs (CRI SANDBOX_READY); False once it died, so the kubelet recreates it."""
        return nsutil.process_start_time(self.pid) == self.start_time

    def namespace(self, kind: str) -> Path:
        """The pause process's namespace file of `kind` (net, ipc, uts) that containers join."""
        return nsutil.namespace_path(self.pid, kind)


async def _spawn_pause(binary: Path, env: dict[str, str]) -> int:
    """Start pause in a new session and wait for its report that the sandbox's namespaces exist.

    posix_spawn (vfork) rather than fork: forking the kubelet's large process costs ~8 ms per pod.
    argv[0] is "/pause", the path in the upstream image, so `lsns` and `ps` show what seed 003 shows.
    """
    ready_r, ready_w = os.pipe()
    try:
        with open(os.devnull, "rb+") as null:
            pid = os.posix_spawn(binary, ["/pause"], env, setsid=True,
                                 file_actions=[*((os.POSIX_SPAWN_DUP2, null.fileno(), fd) for fd in (0, 1, 2)),
                                               (os.POSIX_SPAWN_DUP2, ready_w, READY_FD)])
    except BaseException:
        os.close(ready_r)
        raise
    finally:
        os.close(ready_w)
    try:
        report = (await _read_until_closed(ready_r)).decode(errors="replace")
    except BaseException:  # cancelled while pause sets up: it must not outlive the attempt
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if report != "ok":
        _, status = os.waitpid(pid, 0)
        raise SandboxError(f"pause failed to create the sandbox ({report or 'no report'}), "
                           f"exit code {os.waitstatus_to_exitcode(status)}")
    return pid


async def _read_until_closed(fd: int) -> bytes:
    """Everything written to the pipe `fd` until its writer closes it; the loop reads, no thread."""
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[bytes] = loop.create_future()
    chunks: list[bytes] = []

    def readable() -> None:
        chunk = os.read(fd, 4096)
        if chunk:
            chunks.append(chunk)
        elif not closed.done():
            closed.set_result(b"".join(chunks))

    loop.add_reader(fd, readable)
    try:
        return await closed
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _reap_on_exit(pid: int) -> asyncio.Future[int]:
    """A future for the exit code of our child `pid`, which is reaped as soon as it exits: the loop
    watches a pidfd (readable at exit), so no thread waits and no zombie stays behind."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int] = loop.create_future()
    pidfd = os.pidfd_open(pid)

    def reap() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        exited.set_result(os.waitstatus_to_exitcode(status))

    loop.add_reader(pidfd, reap)
    return exited


async def create_sandbox(pod_uid: str, hostname: str, *, netns_dir: Path = DEFAULT_NETNS_DIR,
                         pause_binary: Path | None = None, host_network: bool = False) -> Sandbox:
    """Start pause in new namespaces with `hostname` and bind-mount its netns as `<netns_dir>/cni-<uuid>`.

    The loopback device is up, as every runtime leaves it before the pod's network is set up. With
    `host_network` pause stays in the node's network and UTS namespaces: nothing to pin or set.
    """
    binary = pause_binary or ensure_pause_binary()
    pid = await _spawn_pause(binary, {"KINN_SANDBOX_HOST_NETWORK": "1"} if host_network
                             else {"KINN_SANDBOX_HOSTNAME": hostname})
    exited = _reap_on_exit(pid)
    start_time = nsutil.process_start_time(pid)
    if start_time is None:
        raise SandboxError(f"pause exited at start with code {await exited}")
    try:
        oom.set_oom_score_adj(oom.restrict_oom_score_adj(SANDBOX_OOM_SCORE_ADJ), pid)
    except OSError as error:
        os.kill(pid, signal.SIGKILL)
        await exited
        raise SandboxError(f"failed to set pause's oom_score_adj: {error}") from error
    if host_network:
        return Sandbox(generate_id(), pod_uid, hostname, pid, start_time, nsutil.namespace_path(pid, "net"), exited,
                       host_network=True)
    sandbox = Sandbox(generate_id(), pod_uid, hostname, pid, start_time, netns_dir / netns_name(), exited)
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
    if sandbox._exited is not None:
        await asyncio.wait_for(asyncio.shield(sandbox._exited), timeout)
        return
    deadline = time.monotonic() + timeout
    while sandbox.is_ready():
        if time.monotonic() > deadline:
            raise SandboxError(f"pause (pid {sandbox.pid}) did not exit within {timeout}s of SIGKILL")
        await asyncio.sleep(0.01)


async def remove_sandbox(sandbox: Sandbox) -> None:
    """Stop pause, then unmount and delete the netns file; safe to call again after a partial run."""
    await stop_sandbox(sandbox)
    if sandbox.host_network:
        return  # the node's netns: nothing of the pod's to remove
    try:
        nsutil.umount(sandbox.netns_path)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOENT):  # not mounted (any more), or already gone
            raise
    sandbox.netns_path.unlink(missing_ok=True)
