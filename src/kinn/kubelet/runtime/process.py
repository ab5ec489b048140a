"""Container processes: commands joined to a sandbox's namespaces (CRI CreateContainer + StartContainer).

A kinn container is a process that enters the pause process's network, IPC and UTS namespaces
and gets a mount namespace of its own, in which kubelet-managed files (`/etc/hosts`,
`/etc/resolv.conf`, `/etc/hostname`) and volumes are bind-mounted. It has no image: it sees the
node's root filesystem under those mounts. The namespaces are entered between fork and exec in
the forked child (`preexec_fn`). Measured from the call to `/bin/true` having exited (p50, 2
cores): preexec_fn 6 ms, nsenter 5.5 ms (but no mount namespace or bind mounts), a `python -I -S`
launcher 18 ms, a `python -m kinn…` launcher 43 ms, a plain exec without namespaces 5 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from kinn.kubelet import nsutil, oom
from kinn.kubelet.runtime import cgroup as cgroups
from kinn.kubelet.runtime.cgroup import CgroupParent
from kinn.kubelet.runtime.crilog import copy_stream, open_log
from kinn.kubelet.runtime.terminal import Stdin, Terminal, take_controlling_terminal
from kinn.kubelet.sandbox import SANDBOX_NAMESPACES, Sandbox, generate_id

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # runc's default PATH
LOG_DRAIN_TIMEOUT = 1.0
CGROUP_EMPTY_TIMEOUT = 1.0


class ContainerStartError(RuntimeError):
    """The container could not be started (kubelet reason `StartError`); the message says why."""


@dataclass(frozen=True)
class Mount:
    """A bind mount of a host path into the container (volumes, and the kubelet-managed /etc files)."""

    host_path: Path
    container_path: Path
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """What to run: argv is the resolved command + args; env as given (PATH and HOSTNAME defaulted)."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: Path = Path("/")
    mounts: Sequence[Mount] = ()
    limits: cgroups.ResourceLimits = cgroups.ResourceLimits()
    oom_score_adj: int | None = None  # OCI process.oomScoreAdj; None: the kubelet's own
    # The container spec's `stdin` (a pipe the kubelet holds open for attach, instead of /dev/null)
    # and `stdinOnce` (that pipe closes when the first attach that wrote to it leaves).
    stdin: bool = False
    stdin_once: bool = False
    # `tty`: stdin, stdout and stderr are one terminal (a pty the runtime holds the master side of),
    # the process's controlling terminal, so a shell attached to with `kubectl run -it` prompts and echoes.
    tty: bool = False
    # How a command name becomes a program in this container: the image's PATH lookup (a busybox
    # image's `ping` is busybox's applet), which `kubectl exec` commands go through too.
    program: Callable[[str], Sequence[str]] = lambda name: (name,)


@dataclass(frozen=True)
class ContainerExit:
    """How a container ended: exit code (128+signal when killed), reason Completed/Error/OOMKilled,
    or StartError with the runtime's message when its process could not be started."""

    exit_code: int
    reason: str
    finished_at: datetime
    message: str = ""


def _enter_pod(namespace_fds: Sequence[int], mounts: Sequence[Mount], working_dir: Path,
               cgroup_procs: Sequence[Path], cgroup_v1: Sequence[tuple[str, str]], oom_score_adj: int | None,
               terminal_fd: int | None) -> None:
    """Runs in the forked child before exec: join the sandbox and the container's cgroups, then build
    the private view: a cgroup namespace rooted at the container's cgroups (so /sys/fs/cgroup shows
    the container's own limits, as runc shows them), the pod's own read-only /sys, as runc mounts
    it, the container's own /tmp, then `mounts` in order, each on a mount point made here if it is
    missing (those under /tmp). With a tty, the pty's slave side (`terminal_fd`) becomes its
    controlling terminal.

    Mount propagation is made private first, so the mounts never show up in the node. Every source
    is opened before the first mount and mounted through its descriptor, as runc does: a mount may
    cover where a later source lives.
    """
    if oom_score_adj is not None:
        oom.set_oom_score_adj(oom_score_adj)
    for fd in namespace_fds:
        nsutil.setns(fd)
    for procs in cgroup_procs:
        procs.write_text("0")  # while /sys/fs/cgroup is still the node's
    nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWCGROUP)
    nsutil.mount(None, "/", flags=nsutil.MS_REC | nsutil.MS_PRIVATE)
    nsutil.mount_sys(read_only=True, cgroup_v1=cgroup_v1)
    sources = [os.open(mount.host_path, os.O_PATH | os.O_CLOEXEC) for mount in mounts]
    nsutil.private_tmp()
    for mount, fd in zip(mounts, sources):
        source = f"/proc/self/fd/{fd}"
        _make_mount_point(mount.container_path, os.path.isdir(source))
        nsutil.bind_mount(source, mount.container_path, mount.read_only)
    os.makedirs(working_dir, exist_ok=True)  # runc creates a missing cwd, in the container's view
    os.chdir(working_dir)
    if terminal_fd is not None:
        take_controlling_terminal(terminal_fd)


def _prepare_mount_points(mounts: Sequence[Mount]) -> None:
    """Check sources and create missing targets, before fork, where errors can still be reported.

    Containers share the node's root filesystem, so a missing mount point is created where the
    container will see it through the mounts before it, as runc creates it in an image's root
    filesystem: in the node's filesystem, or in a volume. One under the container's own /tmp is
    made by the container (_enter_pod), not in the node's /tmp.
    """
    for index, mount in enumerate(mounts):
        if not mount.host_path.exists():
            raise ContainerStartError(f"mount source {mount.host_path} for {mount.container_path} does not exist")
        point = _host_view(mount.container_path, mounts[:index])
        if point == mount.container_path and point.is_relative_to("/tmp"):
            continue
        _make_mount_point(point, mount.host_path.is_dir())


def _make_mount_point(point: Path, directory: bool) -> None:
    if point.exists():
        return
    if directory:
        point.mkdir(parents=True)
    else:
        point.parent.mkdir(parents=True, exist_ok=True)
        point.touch()


def _host_view(path: Path, mounts: Sequence[Mount]) -> Path:
    """Where a container path lives outside the container: under the innermost mount covering it
    (of two at the same place, the later one, which is mounted over the other)."""
    covering = [mount for mount in mounts if path.is_relative_to(mount.container_path)]
    if not covering:
        return path
    mount = max(reversed(covering), key=lambda mount: len(mount.container_path.parts))
    return mount.host_path / path.relative_to(mount.container_path)


def _container_env(spec: ContainerSpec, sandbox: Sandbox) -> dict[str, str]:
    """The process environment: runc's default PATH and containerd's HOSTNAME unless the spec sets them."""
    return {"PATH": DEFAULT_PATH, "HOSTNAME": sandbox.hostname, **spec.env}


def exec_failure(program: str, error: Exception) -> str:
    """Why `program` could not be started, in runc's words (`exec: "x": executable file not found
    in $PATH`), which users know and search for, rather than Python's errno text."""
    if isinstance(error, FileNotFoundError):
        if "/" not in program:
            return f'exec: "{program}": executable file not found in $PATH'
        return f'exec: "{program}": stat {program}: no such file or directory'
    if isinstance(error, PermissionError):
        return f'exec: "{program}": permission denied'
    return str(error)


def exit_code_of(returncode: int) -> int:
    """The exit code runc reports: the process's own, or 128+signal when a signal ended it."""
    return 128 - returncode if returncode < 0 else returncode


class ContainerProcess:
    """A started container; `wait()` and `stop()` yield its ContainerExit, logs go to `log_path`."""

    def __init__(self, container_id: str, sandbox_id: str, spec: ContainerSpec, env: Mapping[str, str],
                 process: asyncio.subprocess.Process, outputs: Mapping[str, asyncio.StreamReader],
                 log_fd: int, cgroup: cgroups.ContainerCgroup | None, stdin: Stdin | None = None,
                 terminal: Terminal | None = None, oom_score_adj: int | None = None) -> None:
        self.id = container_id
        self.sandbox_id = sandbox_id
        self.name = spec.name
        self.argv, self.mounts = spec.argv, spec.mounts  # what the CRI view reports as the container's spec
        self.limits = spec.limits
        self.oom_score_adj = oom_score_adj  # the one it got: the runtime may restrict what the kubelet asked
        self.log_path = spec.log_path
        self.env = env  # what `kubectl exec` processes get too, as runc gives them the container's env
        self.working_dir = spec.working_dir
        self.program = spec.program
        self.pid = process.pid
        self.started_at = datetime.now(timezone.utc)
        self.cgroup = cgroup  # what `kubectl exec` processes join too
        self.exit: ContainerExit | None = None
        self.stdin = stdin  # where a `stdin: true` container's input is written, for attach
        self.stdin_once = spec.stdin_once
        self.attached = False  # whether an attach came yet: the first to a stdinOnce container sees all
        self.terminal = terminal  # a `tty: true` container's, for attach to read, type into and size
        self._viewers: set[asyncio.Queue[bytes]] | None = set()  # None once the terminal's output ended
        self._process = process
        self._log_fd = log_fd
        self._copies = [asyncio.ensure_future(copy_stream(reader, stream, log_fd, tee=self._show if terminal else None))
                        for stream, reader in outputs.items()]
        self._reaped = asyncio.ensure_future(self._reap())

    @contextlib.contextmanager
    def terminal_output(self) -> Iterator[asyncio.Queue[bytes]]:
        """What the container's terminal shows from now on, chunk by chunk as written, then b"" at its
        end. Attach reads this rather than the log, as containerd hands a console's output to attach
        and the log alike: the log holds whole lines, and a prompt or a key's echo ends none."""
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        if self._viewers is None:
            queue.put_nowait(b"")
        else:
            self._viewers.add(queue)
        try:
            yield queue
        finally:
            if self._viewers is not None:
                self._viewers.discard(queue)

    def _show(self, data: bytes) -> None:
        for queue in self._viewers or ():
            queue.put_nowait(data)
        if not data:
            self._viewers = None

    async def wait(self) -> ContainerExit:
        """Wait for the container to end (several callers may wait at once)."""
        return await asyncio.shield(self._reaped)

    async def stop(self, grace_period: float) -> ContainerExit:
        """SIGTERM, then SIGKILL once `grace_period` seconds passed (the kubelet's killContainer)."""
        if self.exit is None:
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.wait(), grace_period)
            except asyncio.TimeoutError:
                self._signal(signal.SIGKILL)
        return await self.wait()

    def _signal(self, signum: int) -> None:
        if self._process.returncode is None:
            self._process.send_signal(signum)

    async def _reap(self) -> ContainerExit:
        """Wait for the main process; then end what it left behind in its process group and its
        cgroup, as the end of a container's PID namespace would, drain the logs and record the exit."""
        returncode = await self._process.wait()
        finished_at = datetime.now(timezone.utc)
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.cgroup is not None:
            self.cgroup.kill()
        await asyncio.wait(self._copies, timeout=LOG_DRAIN_TIMEOUT)
        for copy in self._copies:
            copy.cancel()
        if self.terminal is not None:
            self.terminal.release()  # what still held its slave side was killed with the container
            self._show(b"")
        os.close(self._log_fd)
        if self.stdin is not None:
            self.stdin.close()
        exit_code = exit_code_of(returncode)
        self.exit = ContainerExit(exit_code, self._reason(exit_code), finished_at)
        if self.cgroup is not None:
            await self._remove_cgroup(self.cgroup)
        return self.exit

    @staticmethod
    async def _remove_cgroup(cgroup: cgroups.ContainerCgroup) -> None:
        """Remove the cgroup once the killed processes have left it (a cgroup with tasks cannot go;
        v1 has no notification of emptiness short of a release agent, so this looks, briefly)."""
        deadline = asyncio.get_running_loop().time() + CGROUP_EMPTY_TIMEOUT
        while cgroup.pids() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        cgroup.remove()

    def _reason(self, exit_code: int) -> str:
        if self.cgroup is not None and self.cgroup.oom_killed():
            return "OOMKilled"
        return "Completed" if exit_code == 0 else "Error"


async def _pipe_reader(read_fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                                       os.fdopen(read_fd, "rb", buffering=0))
    return reader


async def _pipe_writer(write_fd: int) -> asyncio.StreamWriter:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                        os.fdopen(write_fd, "wb", buffering=0))
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def start_container(sandbox: Sandbox, spec: ContainerSpec, *,
                          cgroup_parent: CgroupParent | None = None) -> ContainerProcess:
    """Start `spec` inside `sandbox`, in a cgroup of its own under `cgroup_parent` if the node has one."""
    if not sandbox.is_ready():
        raise ContainerStartError(f"sandbox {sandbox.id} is not ready: pause (pid {sandbox.pid}) is gone")
    _prepare_mount_points(spec.mounts)
    container_id = generate_id()
    cgroup = None
    if cgroup_parent is not None:
        try:
            cgroup = cgroups.create_cgroup(cgroup_parent, container_id, spec.limits)
        except OSError as error:
            raise ContainerStartError(f"failed to create container {spec.name!r}: cgroup: {error}") from error
    oom_score_adj = None if spec.oom_score_adj is None else oom.restrict_oom_score_adj(spec.oom_score_adj)
    namespace_fds = [os.open(sandbox.namespace(kind), os.O_RDONLY | os.O_CLOEXEC) for kind in SANDBOX_NAMESPACES]
    log_fd = open_log(spec.log_path)
    env = _container_env(spec, sandbox)
    stdio = _Stdio(spec)
    try:
        process = await asyncio.create_subprocess_exec(
            *spec.argv, stdin=stdio.child[0], stdout=stdio.child[1], stderr=stdio.child[2], env=env,
            start_new_session=True,
            preexec_fn=functools.partial(_enter_pod, namespace_fds, spec.mounts, spec.working_dir,
                                         cgroup.procs_files if cgroup else [],
                                         cgroup_parent.v1_mounts if cgroup_parent else [], oom_score_adj,
                                         stdio.terminal_fd))
    except (OSError, subprocess.SubprocessError) as error:
        os.close(log_fd)
        stdio.close_our_ends()
        if cgroup is not None:
            cgroup.remove()
        raise ContainerStartError(f"failed to start container {spec.name!r}: unable to start container process: "
                                  f"{exec_failure(spec.argv[0], error)}") from error
    finally:
        for fd in namespace_fds:
            os.close(fd)
        stdio.close_child_ends()
    terminal, outputs, stdin = await stdio.connect()
    return ContainerProcess(container_id, sandbox.id, spec, env, process, outputs, log_fd, cgroup, stdin, terminal,
                            oom_score_adj)


class _Stdio:
    """A container's standard streams, as containerd sets them up: pipes (its FIFOs), not the
    socketpairs uvloop makes for PIPE, since programs that open /dev/stdout or /dev/stderr (nginx's
    logs) get ENXIO on a socket; stdin a pipe only for a `stdin: true` container, else /dev/null;
    or, with `tty`, one pty for all three."""

    def __init__(self, spec: ContainerSpec) -> None:
        self.tty, self.stdin = spec.tty, spec.stdin
        if spec.tty:
            master_fd, slave_fd = os.openpty()
            self.ours, self.child = [master_fd], [slave_fd] * 3
            self.terminal_fd: int | None = slave_fd
            return
        (stdout_r, stdout_w), (stderr_r, stderr_w) = os.pipe(), os.pipe()
        stdin_r, stdin_w = os.pipe() if spec.stdin else (asyncio.subprocess.DEVNULL, -1)
        self.ours, self.child = [stdout_r, stderr_r, stdin_w], [stdin_r, stdout_w, stderr_w]
        self.terminal_fd = None

    def close_child_ends(self) -> None:
        """Close the child's ends here once it holds its own copies: ours would keep them open forever."""
        for fd in set(self.child):
            if fd >= 0:
                os.close(fd)

    def close_our_ends(self) -> None:
        for fd in self.ours:
            if fd >= 0:
                os.close(fd)

    async def connect(self) -> tuple[Terminal | None, dict[str, asyncio.StreamReader], Stdin | None]:
        """Our ends on the event loop: the terminal (if any), the outputs by log stream name, the input."""
        if self.tty:
            terminal = Terminal(self.ours[0])
            return terminal, {"stdout": terminal.output}, terminal if self.stdin else None
        stdout_r, stderr_r, stdin_w = self.ours
        outputs = {"stdout": await _pipe_reader(stdout_r), "stderr": await _pipe_reader(stderr_r)}
        return None, outputs, await _pipe_writer(stdin_w) if stdin_w >= 0 else None
