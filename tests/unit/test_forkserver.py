from __future__ import annotations

import os
import signal

from kinn.cluster.forkserver import AgentLaunch, ForkedAgent


def test_a_forked_agent_is_watched_as_popen_is() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(read, 1)
        os._exit(3)
    agent = ForkedAgent(pid, AgentLaunch(["--hostname-override", "w1"], "/dev/null", 1, "/").argv)
    assert agent.args[2:5] == ["kinn", "agent", "--hostname-override"]
    assert agent.poll() is None and agent.returncode is None  # still running
    os.write(write, b"x")
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    assert agent.poll() == 3 and agent.returncode == 3


def test_a_signalled_agent_reads_as_a_negative_code() -> None:
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    assert ForkedAgent(pid, []).poll() == -signal.SIGKILL
