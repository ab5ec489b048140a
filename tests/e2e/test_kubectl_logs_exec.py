"""`kubectl logs`, `exec` and `attach` end to end: the real kubectl, the API server, `kinn kubelet`.

The API server dials the kubelet at the node IP from the node's netns (--cluster-netns), as in a
`kinn up` cluster; kubectl 1.32 speaks WebSocket (v5.channel.k8s.io) for exec and attach.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import KUBECTL
from test_kubelet import (Node, apiserver, container_status, create_pod, get, no_pods_left, node,  # noqa: F401
                          running, wait_until)

pytestmark = pytest.mark.e2e

RFC3339_NANO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z"


def sh(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **extra}


def start(node: Node, name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    create_pod(node, name, containers, **spec)
    return wait_until(f"pod {name} Running", lambda: running(node, name), node)


def trigger_volume(node: Node, name: str) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """A file the test creates on the node to let a container go on (`/trigger/go` inside), through a
    hostPath volume: a container's /tmp is its own, so the node's paths are not a channel.
    Returns the file, the container's volumeMounts and the pod's volumes."""
    directory = node.tmp / f"{name}-trigger"
    directory.mkdir()
    mounts = {"volumeMounts": [{"name": "trigger", "mountPath": "/trigger"}]}
    volumes = {"volumes": [{"name": "trigger", "hostPath": {"path": str(directory), "type": "Directory"}}]}
    return directory / "go", mounts, volumes


def restarted(node: Node, name: str, container: str) -> dict[str, Any] | None:
    pod = get(node, "pod", name)
    statuses = (pod or {}).get("status", {}).get("containerStatuses", [])
    done = any(s["name"] == container and s["restartCount"] >= 1 and s["state"].get("running") for s in statuses)
    return pod if done else None


def terminated(node: Node, name: str, container: str) -> dict[str, Any] | None:
    pod = get(node, "pod", name)
    return container_status(pod, container)["state"].get("terminated") if pod else None


def test_logs_of_one_and_of_several_containers(node: Node) -> None:
    start(node, "talker", [sh("main", "echo one; echo oops >&2; echo two; exec sleep 3600"),
                           sh("side", "echo a; echo b; echo c; exec sleep 3600")])
    kubectl = node.server.kubectl
    wait_until("main logged", lambda: kubectl("logs", "talker", "-c", "main").stdout.count("\n") == 3, node)
    wait_until("side logged", lambda: kubectl("logs", "talker", "-c", "side").stdout.count("\n") == 3, node)
    main = kubectl("logs", "talker", "-c", "main").stdout.splitlines()
    # stdout and stderr are separate pipes (as containerd's FIFOs): only each stream keeps its order.
    assert sorted(main) == ["one", "oops", "two"] and main.index("one") < main.index("two")
    assert kubectl("logs", "talker", "-c", "side").stdout == "a\nb\nc\n"
    assert kubectl("logs", "talker", "-c", "side", "--tail=1").stdout == "c\n"
    assert kubectl("logs", "talker", "-c", "side", "--limit-bytes=3").stdout == "a\nb"
    stamped = kubectl("logs", "talker", "-c", "side", "--timestamps").stdout.splitlines()
    assert [re.fullmatch(RFC3339_NANO + r" (\w+)", line)[2]  # type: ignore[index]
            for line in stamped] == ["a", "b", "c"]
    # kubectl picks the first container itself; the API answers a request naming none as upstream does.
    defaulted = kubectl("logs", "talker")
    assert sorted(defaulted.stdout.splitlines()) == sorted(main)
    assert 'Defaulted container "main" out of: main, side' in defaulted.stderr
    raw = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/talker/log", check=False)
    assert "a container name must be specified for pod talker, choose one of: [main side]" in raw.stderr
    missing = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/talker/log?container=nope", check=False)
    assert "container nope is not valid for pod talker" in missing.stderr


def test_logs_previous_after_a_restart(node: Node) -> None:
    start(node, "phoenix", [sh("app", "echo run $$$$; sleep 1; exit 1")])
    never = node.server.kubectl("logs", "phoenix", "--previous", check=False)
    assert never.stderr.strip() == ('Error from server (BadRequest): previous terminated container "app" '
                                    'in pod "phoenix" not found')
    wait_until("a restart", lambda: restarted(node, "phoenix", "app"), node)
    # Each run is a new shell with a new PID ($$$$ is $$ once the kubelet has expanded $(VAR) references).
    previous = node.server.kubectl("logs", "phoenix", "--previous").stdout
    current = wait_until("current run logged", lambda: node.server.kubectl("logs", "phoenix").stdout, node)
    assert re.fullmatch(r"run \d+\n", previous) and re.fullmatch(r"run \d+\n", current)
    assert previous != current


def test_logs_follow_streams_new_lines_until_the_container_ends(node: Node) -> None:
    trigger, mounts, volumes = trigger_volume(node, "follow")
    start(node, "follower", [sh("app", "echo first; until [ -e /trigger/go ]; do sleep 0.1; done; echo second",
                                **mounts)], restartPolicy="Never", **volumes)
    with node.server.kubectl_stream("logs", "-f", "follower") as follow:
        follow.wait_for_line(lambda line: line == "first")
        assert "second" not in follow.lines
        trigger.touch()
        follow.wait_for_line(lambda line: line == "second")
        returncode, stderr = follow.wait(timeout=20)  # the container ended, so does the follow
    assert (returncode, follow.lines, stderr) == (0, ["first", "second"], "")


def test_exec_output_exit_code_and_container_view(node: Node) -> None:
    start(node, "shell", [sh("app", "exec sleep 3600", env=[{"name": "GREETING", "value": "hi"}],
                             workingDir="/etc")])
    result = node.server.kubectl("exec", "shell", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3", check=False)
    assert (result.returncode, result.stdout) == (3, "hi\n")
    assert result.stderr == "oops\ncommand terminated with exit code 3\n"
    view = node.server.kubectl("exec", "shell", "--", "sh", "-c", "echo $GREETING; hostname; pwd").stdout
    assert view == "hi\nshell\n/etc\n"
    upper = node.server.kubectl("exec", "-i", "shell", "--", "tr", "a-z", "A-Z", input="piped in\nlines\n")
    assert upper.stdout == "PIPED IN\nLINES\n"


def test_exec_errors(node: Node) -> None:
    start(node, "pair", [sh("app", "exec sleep 3600"), sh("done", "exit 0")], restartPolicy="Never")
    wait_until("done terminated", lambda: terminated(node, "pair", "done"), node)
    kubectl = node.server.kubectl
    missing = kubectl("exec", "pair", "-c", "nope", "--", "true", check=False)
    assert missing.stderr.strip() == "Error from server (BadRequest): container nope is not valid for pod pair"
    ended = kubectl("exec", "pair", "-c", "done", "--", "true", check=False)  # the kubelet's own refusal
    assert ended.returncode == 1 and 'container not found ("done")' in ended.stderr
    absent = kubectl("exec", "pair", "-c", "app", "--", "kinn-no-such-command", check=False)
    assert absent.returncode == 1 and absent.stderr.endswith(
        ': unable to start container process: exec: "kinn-no-such-command": executable file not found in $PATH\n')
    raw = kubectl("get", "--raw", "/api/v1/namespaces/default/pods/pair/exec?command=true&container=app&stdout=true",
                  check=False)
    assert "Upgrade request required" in raw.stderr


def test_attach_shows_output_from_now_on(node: Node) -> None:
    trigger, mounts, volumes = trigger_volume(node, "attach")
    start(node, "speaker", [sh("app", "echo before; until [ -e /trigger/go ]; do echo tick; sleep 0.1; done; "
                                      "echo after", **mounts)], restartPolicy="Never", **volumes)
    with node.server.kubectl_stream("attach", "speaker") as attach:
        attach.wait_for_line(lambda line: line == "tick")  # attached: new output arrives
        trigger.touch()
        attach.wait_for_line(lambda line: line == "after")
        returncode, _ = attach.wait(timeout=20)  # the container ended, so does the attach
    assert returncode == 0 and "before" not in attach.lines


def test_kubectl_run_i_gets_its_input_and_all_its_output(node: Node) -> None:
    """`kubectl run -i` makes a `stdin`/`stdinOnce` container and attaches once it runs: what is piped to
    kubectl reaches the container's stdin, then its end (EOF); and the line written before the attach is
    shown. Before, stdin was /dev/null and attach followed the log from its own start: a quick command
    showed nothing at all, one that read its input read nothing."""
    overrides = json.dumps({"spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 2}})
    result = node.server.kubectl("run", "reader", "-i", "--restart=Never", "--image=busybox",
                                 f"--overrides={overrides}", "--", "sh", "-c", "echo first; while read line; do echo got=$line; done; echo eof",
                                 input="one\ntwo\n")
    assert result.stdout.splitlines()[-4:] == ["first", "got=one", "got=two", "eof"], result.stdout + result.stderr
    assert "falling back to streaming logs" not in result.stderr, result.stderr


def test_attach_writes_to_a_stdin_container_that_stays_open(node: Node) -> None:
    """Without stdinOnce, a container's stdin outlives each attach: two attaches in turn each deliver their
    input, and the container never reads an end of input (upstream's `stdin: true` semantics)."""
    start(node, "echoer", [sh("app", 'while read l; do echo "[$l]"; done; echo eof', stdin=True)])
    for word in ("foo", "bar"):
        attach = subprocess.Popen([KUBECTL, "attach", "-i", "echoer"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=node.server.kubectl_env())
        try:
            assert attach.stdin is not None
            attach.stdin.write(f"{word}\n".encode())
            attach.stdin.close()  # kubectl tells the kubelet its input ended
            wait_until(f"[{word}] in the log", lambda: f"[{word}]" in node.server.kubectl("logs", "echoer").stdout,
                       node)
        finally:
            attach.kill()
            attach.wait()
    assert node.server.kubectl("logs", "echoer").stdout == "[foo]\n[bar]\n"
    assert running(node, "echoer")


def on_terminal(node: Node, command: str, typed: str) -> list[str]:
    """Run a kubectl `command` on a terminal of 100x30 (`script` makes one), `typed` its input; the
    lines it showed, without carriage returns and terminal control sequences (ash's line editing)."""
    session = subprocess.run(["script", "-qec", f"stty cols 100 rows 30; {command}", "/dev/null"], input=typed,
                             capture_output=True, text=True, env=node.server.kubectl_env(), timeout=90)
    assert session.returncode == 0, session.stdout + session.stderr
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", session.stdout.replace("\r", "")).splitlines()


def test_exec_with_a_terminal(node: Node) -> None:
    start(node, "console", [sh("app", "exec sleep 3600")])
    lines = on_terminal(node, "kubectl exec -it console -- sh -c 'tty; stty size; read line; echo got $line'",
                        typed="typed\n")
    # The local terminal echoes "typed" before kubectl makes it raw, the container's terminal again.
    assert any(line.startswith("/dev/pts/") for line in lines) and "30 100" in lines, lines
    assert lines[-1] == "got typed", lines


def test_kubectl_run_it_gets_a_shell_on_a_terminal(node: Node) -> None:
    """`kubectl run -it … -- sh` makes a `tty: true` container and attaches with a terminal: the shell
    runs on a pty of the client's size, echoes what is typed, and `exit` ends the session and (--rm)
    the pod. Before, the container got pipes: `tty` said "not a tty", and nothing typed was echoed."""
    overrides = json.dumps({"spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 1}})
    lines = on_terminal(node, f"kubectl run shell -it --rm --restart=Never --image=busybox --overrides='{overrides}' "
                              "-- sh", typed="tty; stty size; hostname\nexit\n")
    # The local terminal echoes the input before kubectl makes it raw; the container's terminal echoes it
    # again after the shell's prompt.
    assert "/ # tty; stty size; hostname" in lines and "/ # exit" in lines, lines
    assert any(line.startswith("/dev/pts/") for line in lines) and "30 100" in lines and "shell" in lines, lines
    assert 'pod "shell" deleted' in lines, lines
    wait_until("pod shell gone", lambda: get(node, "pod", "shell") is None, node)


def test_unscheduled_pod_has_empty_logs_and_no_exec(node: Node) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "floating"},
           "spec": {"containers": [sh("app", "true")]}}
    node.server.kubectl("create", "-f", "-", input=json.dumps(pod))
    assert node.server.kubectl("logs", "floating").stdout == ""
    result = node.server.kubectl("exec", "floating", "--", "true", check=False)
    assert result.stderr.strip() == "Error from server (BadRequest): pod floating does not have a host assigned"
