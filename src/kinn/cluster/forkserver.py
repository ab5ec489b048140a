"""The node agents' fork server: one interpreter imports the agent once, then forks every node's agent.

Started as separate interpreters, the agents each import the same ~45 MB of modules (aiohttp,
pyroute2, kinn's kubelet, kube-proxy and flanneld) into memory of their own: most of a 3-node
cluster's footprint. Forked from one interpreter that imported them and put them out of the
garbage collector's reach (gc.freeze), the agents share those pages copy-on-write for as long as
nothing writes to them, which for module code and constants is mostly forever.

Each child becomes what `python -m kinn agent ARGS`, started in the node, was before: its own
session, stdin from /dev/null, stdout and stderr appended to the node's agent log, inside the
node's namespaces and the agent's cgroup (kinn.cluster.node), titled with that command line so
`ps` tells the nodes' agents apart. The server exits once they are forked; `launch` made its caller
the agents' child subreaper, so they become its children, and `ForkedAgent.poll` reads their exit
as Popen.poll does.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from setproctitle import setproctitle, setthreadtitle

from kinn.cluster.node import join_node

PR_SET_CHILD_SUBREAPER = 36


@dataclass
class AgentLaunch:
    args: list[str]  # the agent's flags
    log: str
    holder_pid: int  # the node's namespace holder (see kinn.cluster.node.enter)
    cgroups: list[str]  # the agent's, and the node's in each v1 hierarchy (kinn.cluster.node.node_cgroups)

    @property
    def argv(self) -> list[str]:
        """The command line this agent stands for, as `ps` shows it."""
        return [sys.executable, "-m", "kinn", "agent", *self.args]


class ForkedAgent:
    """A forked agent, watched like a subprocess.Popen (`args`, `poll()`, `returncode`)."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid, self.args = pid, args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else: gone, its exit code unknown
                self.returncode = -1
            else:
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def launch(agents: list[AgentLaunch]) -> list[ForkedAgent]:
    """Fork every agent from one fresh interpreter; they end up children of the caller."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    done = subprocess.run([sys.executable, "-m", "kinn.cluster.forkserver"], input=json.dumps(list(map(asdict, agents))),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"the node agents' fork server failed ({done.returncode}): {done.stderr.strip()}")
    return [ForkedAgent(pid, agent.argv) for pid, agent in zip(json.loads(done.stdout), agents)]


def main() -> None:
    # As the gc module's documentation advises for fork without exec: no collection in the parent
    # (it would leave freed holes in shared pages), everything frozen before the forks, collections
    # again in each child, which then never touch the frozen objects' headers.
    gc.disable()
    agents = [AgentLaunch(**fields) for fields in json.load(sys.stdin)]
    importlib.import_module("kinn.cli.agent")  # what every agent shares is what this imports
    gc.freeze()
    print(json.dumps([_fork(agent) for agent in agents]))


def _fork(launch: AgentLaunch) -> int:
    pid = os.fork()
    if pid:
        return pid
    gc.enable()
    code = 1
    try:
        _become(launch)
        code = _run(launch.args)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _become(launch: AgentLaunch) -> None:
    """What `kinn up` did between fork and exec when each agent was an interpreter of its own, and
    the title that exec gave it."""
    os.setsid()
    null, log = os.open(os.devnull, os.O_RDONLY), os.open(launch.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for fd, target in ((null, 0), (log, 1), (log, 2)):
        os.dup2(fd, target)
    os.close(null)
    os.close(log)
    join_node(launch.holder_pid, [Path(cgroup) for cgroup in launch.cgroups])
    setproctitle(" ".join(launch.argv))
    setthreadtitle(Path(launch.argv[0]).name)  # comm (what ps and ss name): the program, as exec set it
    sys.argv = launch.argv[2:]


def _run(args: list[str]) -> int:
    from kinn.cli.agent import agent
    try:
        agent.main(args=args, prog_name="kinn agent")
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else 1
    return 0


if __name__ == "__main__":
    main()
