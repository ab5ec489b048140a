"""Pod sandboxes and container processes on real namespaces: pause, shared netns, mounts, logs, cleanup."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import AsyncIterator

import pytest

from kinn.kubelet.runtime import (ContainerProcess, ContainerSpec, ContainerStartError, ExecError, Mount,
                                  container_log_path, exec_in_container, exec_sync, start_container)
from kinn.kubelet.sandbox import Sandbox, SandboxError, create_sandbox, remove_sandbox

pytestmark = pytest.mark.e2e

SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080))
s.listen()
print("listening", flush=True)
while True:
    conn, _ = s.accept()
    conn.sendall(open("/etc/hosts").read().encode())
    conn.close()
"""

CLIENT = """
import socket, time
deadline = time.monotonic() + 10
while True:
    try:
        conn = socket.create_connection(("127.0.0.1", 8080), timeout=1)
        break
    except ConnectionRefusedError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.02)
print("reply:", conn.recv(4096).decode().strip())
"""

IDENTITY = "import os, socket; print('identity', socket.gethostname(), os.readlink('/proc/self/ns/net'))"


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    pod = await create_sandbox("kinn-test-uid", "kinn-test-pod", netns_dir=tmp_path / "netns")
    try:
        # What the CNI loopback plugin does for a real pod: loopback up.
        subprocess.run(["nsenter", f"--net={pod.netns_path}", "ip", "link", "set", "lo", "up"], check=True)
        yield pod
    finally:
        await remove_sandbox(pod)


@pytest.fixture
async def containers() -> AsyncIterator[list[ContainerProcess]]:
    started: list[ContainerProcess] = []
    try:
        yield started
    finally:
        for container in started:
            await container.stop(grace_period=0)


def log_of(container: ContainerProcess) -> str:
    """The log's contents, each CRI line reduced to `<stream> <content>`."""
    lines = container.log_path.read_text().splitlines()
    return "\n".join(f"{line.split(' ', 3)[1]} {line.split(' ', 3)[3]}" for line in lines)


async def run(sandbox: Sandbox, tmp_path: Path, name: str, code: str, started: list[ContainerProcess],
              mounts: list[Mount] | None = None) -> ContainerProcess:
    log = container_log_path(tmp_path / "pods", "default", "kinn-test-pod", "kinn-test-uid", name, 0)
    container = await start_container(sandbox, ContainerSpec(name, [sys.executable, "-c", code], log,
                                                             mounts=mounts or []))
    started.append(container)
    return container


async def wait_for_log(container: ContainerProcess, text: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not container.log_path.exists() or text not in container.log_path.read_text():
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} not in {container.log_path}"
        assert container.exit is None, f"{container.name} exited: {container.exit}\n{log_of(container)}"
        await asyncio.sleep(0.02)


def hosts_file(tmp_path: Path, name: str) -> Mount:
    path = tmp_path / f"{name}-hosts"
    path.write_text(f"10.244.1.5\t{name}-hosts-entry\n")
    return Mount(path, Path("/etc/hosts"), read_only=True)


async def test_sandbox_owns_new_namespaces(sandbox: Sandbox) -> None:
    assert len(sandbox.id) == 64 and int(sandbox.id, 16) >= 0
    assert sandbox.netns_path.name.startswith("cni-") and sandbox.is_ready()
    for kind in ("net", "ipc", "uts"):
        assert os.readlink(sandbox.namespace(kind)) != os.readlink(f"/proc/self/ns/{kind}")
    hostname = subprocess.run(["nsenter", f"--uts={sandbox.namespace('uts')}", "hostname"],
                              capture_output=True, text=True, check=True).stdout.strip()
    assert hostname == "kinn-test-pod"
    lsns = subprocess.run(["lsns", "-t", "net", "-n", "-o", "PID,NSFS,COMMAND"], capture_output=True, text=True,
                          check=True).stdout
    assert f"{sandbox.pid} {sandbox.netns_path} /pause" in " ".join(lsns.split())
    rss_kb = int(next(line for line in Path(f"/proc/{sandbox.pid}/status").read_text().splitlines()
                      if line.startswith("VmRSS")).split()[1])
    assert rss_kb < 2048


async def test_containers_share_the_pod_network(sandbox: Sandbox, tmp_path: Path,
                                                containers: list[ContainerProcess]) -> None:
    server = await run(sandbox, tmp_path, "server", IDENTITY + "\n" + SERVER, containers,
                       [hosts_file(tmp_path, "server")])
    await wait_for_log(server, "listening")
    client = await run(sandbox, tmp_path, "client", IDENTITY + "\n" + CLIENT, containers,
                       [hosts_file(tmp_path, "client")])
    result = await client.wait()
    assert (result.exit_code, result.reason) == (0, "Completed"), log_of(client)
    pod_identity = f"identity kinn-test-pod {os.readlink(sandbox.namespace('net'))}"
    assert f"stdout {pod_identity}" in log_of(server) and f"stdout {pod_identity}" in log_of(client)
    # The reply is the server's /etc/hosts: each container sees its own kubelet-managed file.
    assert "stdout reply: 10.244.1.5\tserver-hosts-entry" in log_of(client)
    assert "client-hosts-entry" not in Path("/etc/hosts").read_text()
    assert server.log_path == tmp_path / "pods/default_kinn-test-pod_kinn-test-uid/server/0.log"


async def test_second_container_on_the_same_port_fails(sandbox: Sandbox, tmp_path: Path,
                                                       containers: list[ContainerProcess]) -> None:
    first = await run(sandbox, tmp_path, "first", SERVER, containers)
    await wait_for_log(first, "listening")
    second = await run(sandbox, tmp_path, "second", SERVER, containers)
    result = await second.wait()
    assert (result.exit_code, result.reason) == (1, "Error")
    assert "stderr OSError: [Errno 98] Address already in use" in log_of(second)
    assert first.exit is None


async def test_graceful_stop_then_kill(sandbox: Sandbox, tmp_path: Path,
                                       containers: list[ContainerProcess]) -> None:
    polite = await run(sandbox, tmp_path, "polite", "import signal, sys, time\n"
                       "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\nprint('ready', flush=True)\n"
                       "time.sleep(60)", containers)
    stubborn = await run(sandbox, tmp_path, "stubborn", "import signal, time\n"
                         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\n"
                         "time.sleep(60)", containers)
    await wait_for_log(polite, "ready")
    await wait_for_log(stubborn, "ready")
    assert (await polite.stop(grace_period=10)).exit_code == 0
    result = await stubborn.stop(grace_period=0.2)
    assert (result.exit_code, result.reason) == (128 + signal.SIGKILL, "Error")


async def test_volumes_env_and_working_dir(sandbox: Sandbox, tmp_path: Path,
                                           containers: list[ContainerProcess]) -> None:
    data, config = tmp_path / "data", tmp_path / "config"
    data.mkdir()
    config.mkdir()
    (config / "greeting").write_text("hello")
    # Created as mount points: in the container's own /tmp, since tmp_path is under the node's.
    inside_data, inside_config = tmp_path / "mnt" / "data", tmp_path / "mnt" / "config"
    script = (f"pwd; cat {inside_config}/greeting; echo; echo $GREETING $HOSTNAME; echo written > out;"
              f"echo x > {inside_config}/x || echo read-only")
    container = await start_container(sandbox, ContainerSpec(
        "volumes", ["/bin/sh", "-c", script], tmp_path / "volumes.log", env={"GREETING": "hi"},
        working_dir=inside_data / "work",
        mounts=[Mount(data, inside_data), Mount(config, inside_config, read_only=True)]))
    containers.append(container)
    assert (await container.wait()).exit_code == 0
    output = log_of(container)
    assert f"stdout {inside_data}/work\nstdout hello\nstdout hi kinn-test-pod" in output
    assert "Read-only file system" in output and "stdout read-only" in output
    assert (data / "work" / "out").read_text() == "written\n"
    assert str(inside_data) not in Path("/proc/self/mountinfo").read_text()  # only in the container's view
    assert not (tmp_path / "mnt").exists()  # neither mount point nor work dir was made in the node's /tmp


async def test_exec_joins_the_container(sandbox: Sandbox, tmp_path: Path,
                                        containers: list[ContainerProcess]) -> None:
    work = tmp_path / "work"
    container = await start_container(sandbox, ContainerSpec(
        "sleeper", ["sleep", "60"], tmp_path / "sleeper.log", env={"GREETING": "hi"}, working_dir=work,
        mounts=[hosts_file(tmp_path, "sleeper")]))
    containers.append(container)
    result = await exec_sync(container, ["sh", "-c", "pwd; hostname; echo $GREETING; cat /etc/hosts; "
                                         "readlink /proc/self/ns/net; echo oops >&2; exit 3"], timeout=10)
    assert result.exit_code == 3 and result.stderr == b"oops\n"
    assert result.stdout.decode().splitlines() == [
        str(work), "kinn-test-pod", "hi", "10.244.1.5\tsleeper-hosts-entry", os.readlink(sandbox.namespace("net"))]


async def test_exec_streams_stdin_and_a_tty(sandbox: Sandbox, tmp_path: Path,
                                            containers: list[ContainerProcess]) -> None:
    container = await start_container(sandbox, ContainerSpec("sleeper", ["sleep", "60"], tmp_path / "s.log"))
    containers.append(container)
    piped = await exec_in_container(container, ["tr", "a-z", "A-Z"], stdin=True)
    assert piped.stdin is not None and piped.stdout is not None
    piped.stdin.write(b"shout\n")
    piped.stdin.close()
    assert await piped.stdout.read() == b"SHOUT\n" and await piped.wait() == 0
    terminal = await exec_in_container(container, ["sh", "-c", "read line; stty size; tty; echo got $line >&2"],
                                       tty=True, stdin=True)
    assert terminal.stdin is not None and terminal.stdout is not None and terminal.stderr is None
    terminal.resize(width=100, height=30)
    terminal.stdin.write(b"typed\n")
    echo, size, tty, error = (await terminal.stdout.read()).decode().splitlines()
    assert await terminal.wait() == 0
    assert (echo, size, error) == ("typed", "30 100", "got typed") and tty.startswith("/dev/pts/")


async def shown_until(shown: asyncio.Queue[bytes], text: bytes | None, seen: bytearray) -> None:
    """Read a terminal's output into `seen` until `text` is in it (None: until the output ends)."""
    while text is None or text not in seen:
        data = await asyncio.wait_for(shown.get(), 10)
        if not data:
            assert text is None, f"the terminal ended without {text!r}: {bytes(seen)!r}"
            return
        seen += data


async def test_a_tty_container_has_a_terminal_shown_as_written(sandbox: Sandbox, tmp_path: Path,
                                                                containers: list[ContainerProcess]) -> None:
    """`tty: true`: stdin, stdout and stderr are one pty, the shell's controlling terminal. A viewer
    (attach) sees a prompt that ends no line and the echo of what is typed; the log gets whole lines,
    all as stdout; the window size set on the master is what the shell reads."""
    script = 'read first; printf "ready> "; read line; tty; stty size; echo "got $line" >&2'
    container = await start_container(sandbox, ContainerSpec("shell", ["sh", "-c", script], tmp_path / "t.log",
                                                             stdin=True, tty=True))
    containers.append(container)
    assert container.stdin is not None and container.terminal is not None
    seen = bytearray()
    with container.terminal_output() as shown:
        container.stdin.write(b"go\n")
        await shown_until(shown, b"ready> ", seen)
        container.terminal.resize(width=100, height=30)
        container.stdin.write(b"typed\n")
        await shown_until(shown, None, seen)
    assert (await container.wait()).exit_code == 0
    lines = bytes(seen).decode().split("\r\n")
    assert lines[:2] == ["go", "ready> typed"] and lines[2].startswith("/dev/pts/"), lines
    assert lines[3:] == ["30 100", "got typed", ""], lines
    assert log_of(container).splitlines()[-3:] == ["stdout " + lines[2], "stdout 30 100", "stdout got typed"]


async def test_exec_timeout_and_container_end_kill_it(sandbox: Sandbox, tmp_path: Path,
                                                      containers: list[ContainerProcess]) -> None:
    container = await start_container(sandbox, ContainerSpec("sleeper", ["sleep", "60"], tmp_path / "s.log"))
    containers.append(container)
    with pytest.raises(asyncio.TimeoutError):
        await exec_sync(container, ["sleep", "30"], timeout=0.2)
    lingering = await exec_in_container(container, ["sleep", "30"])
    await container.stop(grace_period=0)
    assert await asyncio.wait_for(lingering.wait(), 5) == 128 + signal.SIGKILL
    with pytest.raises(ExecError, match="is not running"):
        await exec_sync(container, ["true"], timeout=1)


async def test_dead_pause_is_detected(sandbox: Sandbox) -> None:
    os.kill(sandbox.pid, signal.SIGKILL)
    deadline = asyncio.get_running_loop().time() + 5
    while sandbox.is_ready():
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    with pytest.raises(ContainerStartError, match="is not ready"):
        await start_container(sandbox, ContainerSpec("late", ["/bin/true"], Path("/nonexistent/late.log")))


async def test_missing_command_is_a_start_error(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ContainerStartError, match="kinn-test-no-such-command"):
        await start_container(sandbox, ContainerSpec("bad", ["kinn-test-no-such-command"], tmp_path / "bad.log"))


async def test_pause_brings_lo_up_in_the_namespace_it_creates(tmp_path: Path) -> None:
    pod = await create_sandbox("kinn-test-uid", "kinn-test-pod", netns_dir=tmp_path)
    try:
        lo = subprocess.run(["nsenter", f"--net={pod.netns_path}", "ip", "-o", "link", "show", "lo"],
                            capture_output=True, text=True, check=True).stdout
        assert "<LOOPBACK,UP,LOWER_UP>" in lo
        assert Path(f"/proc/{pod.pid}/cmdline").read_bytes() == b"/pause\0"
        assert children_named("pause") == [pod.pid]
    finally:
        await remove_sandbox(pod)
    assert children_named("pause") == []  # reaped, not a zombie


def children_named(name: str) -> list[int]:
    """PIDs (zombies included) whose parent is this process and whose command is `name`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, rest = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if comm.split("(", 1)[1] == name and int(rest.split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


async def test_a_sandbox_pause_cannot_create_is_an_error_that_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=r"pause failed to create the sandbox \(sethostname: Invalid argument\)"):
        await create_sandbox("kinn-test-uid", "h" * 100, netns_dir=tmp_path)  # a hostname is at most 64 bytes
    assert children_named("pause") == [] and list(tmp_path.iterdir()) == []


async def test_a_sandbox_start_cancelled_before_pause_reports_leaves_no_process(tmp_path: Path) -> None:
    silent = tmp_path / "silent-pause"  # keeps the report pipe open and never writes to it
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(0o755)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(create_sandbox("kinn-test-uid", "p", netns_dir=tmp_path / "netns",
                                              pause_binary=silent), 0.5)
    assert children_named("sleep") == [] and not (tmp_path / "netns").exists()


async def test_remove_sandbox_leaves_nothing(tmp_path: Path) -> None:
    pod = await create_sandbox("kinn-test-uid", "kinn-test-pod", netns_dir=tmp_path)
    container = await start_container(pod, ContainerSpec("sleeper", ["/bin/sleep", "60"], tmp_path / "s.log"))
    await container.stop(grace_period=1)
    await remove_sandbox(pod)
    await remove_sandbox(pod)  # idempotent
    assert not Path(f"/proc/{pod.pid}").exists() and not Path(f"/proc/{container.pid}").exists()
    assert str(pod.netns_path) not in Path("/proc/self/mountinfo").read_text()
    assert list(tmp_path.iterdir()) == [tmp_path / "s.log"]


NODE_SCRIPT = """
import asyncio, json, os, subprocess, sys
from pathlib import Path
from kinn.kubelet import nsutil
from kinn.kubelet.runtime import ContainerSpec, start_container
from kinn.kubelet.sandbox import create_sandbox, remove_sandbox

async def main():
    nsutil.mount("tmpfs", "/var/run/netns", "tmpfs")  # this fake node's own /var/run/netns
    pod = await create_sandbox("kinn-test-uid", "kinn-test-pod")
    out = Path(sys.argv[1])
    container = await start_container(pod, ContainerSpec("c", ["/bin/readlink", "/proc/self/ns/net"], out))
    await container.wait()
    report = {"node_net": os.readlink("/proc/self/ns/net"), "pod_net": os.readlink(pod.namespace("net")),
              "container_log": out.read_text(), "netns_path": str(pod.netns_path),
              "ip_netns": subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout}
    await remove_sandbox(pod)
    report["after"] = os.listdir("/var/run/netns")
    print(json.dumps(report))

asyncio.run(main())
"""


def test_works_inside_a_node(tmp_path: Path) -> None:
    """The caller is itself in a netns + mount ns + UTS ns, as a kinn node's kubelet is; default netns dir."""
    Path("/var/run/netns").mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["unshare", "--net", "--mount", "--uts", "--propagation", "private",
                             sys.executable, "-c", textwrap.dedent(NODE_SCRIPT), str(tmp_path / "c.log")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["node_net"] != report["pod_net"] and report["node_net"] != os.readlink("/proc/self/ns/net")
    assert report["pod_net"] in report["container_log"]
    assert report["netns_path"].startswith("/var/run/netns/cni-")
    assert Path(report["netns_path"]).name in report["ip_netns"]
    assert report["after"] == []
