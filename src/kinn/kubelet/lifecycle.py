"""Container lifecycle hooks (upstream pkg/kubelet/lifecycle handlers.go): postStart and preStop.

A hook is an exec command in the container, an HTTP GET (any response counts: unlike probes, a hook
does not judge status codes) or a sleep. The pod worker decides what a failure means: a failed
postStart kills the container, a failed preStop is only reported; both are reported in events
with a fixed text, since the hook's own output may carry secrets.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from kinn.kubelet.actions import (ActionError, HTTPGetError, exec_output, format_pod, go_quote, http_get,
                                  http_get_request)
from kinn.kubelet.runtime import ContainerProcess
from kinn.kubelet.runtime.exec import ExecError, exec_sync

Obj = dict[str, Any]


class HookError(Exception):
    """A hook failed; the message is upstream's, for the kubelet's log and the waiting reason's message."""


async def run_hook(handler: Obj, pod: Obj, container: Obj, process: ContainerProcess, pod_ip: str) -> None:
    """handlerRunner.Run: run one LifecycleHandler to its end (the caller bounds preStop by the grace period)."""
    name, where = go_quote(container["name"]), go_quote(format_pod(pod))
    if handler.get("exec") is not None:
        command = handler["exec"].get("command") or []
        await _run_exec(command, process, f"Exec lifecycle hook ([{' '.join(command)}]) for Container {name} "
                                          f"in Pod {where} failed")
    elif handler.get("httpGet") is not None:
        action = handler["httpGet"]
        try:
            await http_get(http_get_request(action, container, pod_ip, "lifecycle"), None)
        except (ActionError, HTTPGetError) as error:
            raise HookError(f"HTTP lifecycle hook ({action.get('path', '')}) for Container {name} in Pod {where} "
                            f"failed - error: {error}") from error
    elif handler.get("sleep") is not None:
        await asyncio.sleep(handler["sleep"]["seconds"])
    else:
        raise HookError(f"Cannot run handler: invalid handler: {handler}")


async def _run_exec(command: list[str], process: ContainerProcess, failed: str) -> None:
    """An exec hook has no timeout of its own upstream (RunInContainer with timeout 0)."""
    try:
        result = await exec_sync(process, command, math.inf)
    except ExecError as error:
        raise HookError(f'{failed} - error: {error}, message: ""') from error
    if result.exit_code != 0:
        stderr = result.stderr.decode(errors="replace")
        raise HookError(f"{failed} - error: command '{' '.join(command)}' exited with {result.exit_code}: {stderr}, "
                        f"message: {go_quote(exec_output(result.stdout, result.stderr))}")
