"""The container runtime under the kubelet: container processes in pod sandboxes, CRI logs, cgroups."""

from kinn.kubelet.runtime.cgroup import ResourceLimits
from kinn.kubelet.runtime.crilog import DEFAULT_LOG_ROOT, container_log_path, pod_log_dir
from kinn.kubelet.runtime.exec import ExecError, ExecProcess, ExecResult, exec_in_container, exec_sync
from kinn.kubelet.runtime.process import (ContainerExit, ContainerProcess, ContainerSpec, ContainerStartError,
                                          Mount, start_container)

__all__ = ["ContainerExit", "ContainerProcess", "ContainerSpec", "ContainerStartError", "DEFAULT_LOG_ROOT",
           "ExecError", "ExecProcess", "ExecResult", "Mount", "ResourceLimits", "container_log_path",
           "exec_in_container", "exec_sync", "pod_log_dir", "start_container"]
