"""The CRI messages for what the kubelet runs: its pods' sandboxes and their containers' runs.

Shapes and values are containerd's CRI plugin's, so crictl's view of a kinn node reads as of a
containerd node:
- a sandbox per pod that has one, Ready while pause runs, labelled as the kubelet labels
  sandboxes (the pod's labels plus io.kubernetes.pod.name/namespace/uid);
- a container per run the runtime still holds in that sandbox: the current run, and the previous
  one, as the kubelet's container GC keeps one dead container per container (MaxPerPodContainer).
  kinn removes a sandbox as soon as it stops (a dead pause, a finished pod), and with it the
  containers that ran in it, as RemovePodSandbox does;
- verbose info as containerd's, `{"info": "<json>"}`: the pid (0 once exited), processStatus,
  the runtime spec's namespaces (the pod netns `cni-<uuid>`; `/proc/<pause pid>/ns/*` joined by
  containers), the process that runs, and the config as Go's encoding/json writes CRI's structs
  (snake_case, empty fields omitted).
Images: ListContainers reports a container's image by its node-local ID (`sha256:<digest>`, the
kubelet creates containers by image ID); ContainerStatus by repo tag and repo digest, the
containerStatuses' image and imageID.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Protocol

from kinn.api.containers import all_containers
from kinn.kubelet.cri.api import CRIError
from kinn.kubelet.pause import PAUSE_VERSION
from kinn.kubelet.runtime import ContainerProcess, pod_log_dir
from kinn.kubelet.oom import restrict_oom_score_adj
from kinn.kubelet.sandbox import SANDBOX_NAMESPACES, SANDBOX_OOM_SCORE_ADJ, Sandbox
from kinn.kubelet.status import ContainerRecord

Obj = dict[str, Any]
PAUSE_IMAGE = f"registry.k8s.io/pause:{PAUSE_VERSION}"  # the kubelet's --pod-infra-container-image
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
OCI_NAMESPACE_TYPES = {"net": "network", "ipc": "ipc", "uts": "uts"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class PodRuntime(Protocol):
    """What the runtime view reads of a pod worker."""

    pod: Obj
    sandbox: Sandbox | None
    sandbox_attempt: int
    pod_ips: list[str]

    def records(self) -> list[ContainerRecord]: ...


@dataclass(frozen=True)
class ContainerRun:
    """One CRI container: a run of one of a pod's containers, in the pod's current sandbox."""

    pod: PodRuntime
    sandbox: Sandbox
    spec: Obj
    record: ContainerRecord
    process: ContainerProcess
    attempt: int

    @property
    def running(self) -> bool:
        return self.process.exit is None


def nanos(moment: datetime) -> str:
    """Nanoseconds since the epoch, as protobuf's JSON mapping writes an int64: a string."""
    return str((moment - EPOCH) // timedelta(microseconds=1) * 1000)


def image_id(repo_digest: str) -> str:
    """`sha256:<digest>` from `docker.io/library/nginx@sha256:<digest>`: the image's node-local ID."""
    return repo_digest.partition("@")[2]


def go_json(value: Any) -> Any:
    """A CRI struct as Go's encoding/json writes it: every generated field is `omitempty`."""
    if isinstance(value, dict):
        kept = {key: go_json(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ("", 0, False, None, [], {})}
    if isinstance(value, list):
        return [go_json(item) for item in value]
    return value


def resolve_id(ids: Iterable[str], prefix: str) -> str:
    """The ID a full ID or unique prefix names, as containerd's stores resolve them (truncindex)."""
    if not prefix:
        raise LookupError("prefix can't be empty")
    matches = {candidate for candidate in ids if candidate.startswith(prefix)}
    if prefix in matches or len(matches) == 1:
        return prefix if prefix in matches else matches.pop()
    raise LookupError(f"multiple IDs found with provided prefix: {prefix}" if matches else "not found")


# -- sandboxes -------------------------------------------------------------------------------------


def sandbox_labels(pod: Obj) -> dict[str, str]:
    """newPodLabels: the pod's labels and the three the kubelet finds its sandboxes by."""
    meta = pod["metadata"]
    return {**(meta.get("labels") or {}), POD_NAME_LABEL: meta["name"], POD_NAMESPACE_LABEL: meta["namespace"],
            POD_UID_LABEL: meta["uid"]}


def _sandbox_metadata(pod: PodRuntime) -> Obj:
    meta = pod.pod["metadata"]
    return {"name": meta["name"], "uid": meta["uid"], "namespace": meta["namespace"], "attempt": pod.sandbox_attempt}


def pod_sandbox(pod: PodRuntime, sandbox: Sandbox) -> Obj:
    """A ListPodSandbox item."""
    return {"id": sandbox.id, "metadata": _sandbox_metadata(pod),
            "state": "SANDBOX_READY" if sandbox.is_ready() else "SANDBOX_NOTREADY",
            "createdAt": nanos(sandbox.created_at), "labels": sandbox_labels(pod.pod),
            "annotations": dict(pod.pod["metadata"].get("annotations") or {}), "runtimeHandler": ""}


def list_pod_sandbox(pods: Iterable[PodRuntime]) -> Obj:
    return {"items": [pod_sandbox(pod, pod.sandbox) for pod in pods if pod.sandbox is not None]}


def _sandbox_info(pod: PodRuntime, sandbox: Sandbox, ready: bool, log_root: Path) -> Obj:
    """containerd's SandboxInfo: pause's pid, the netns it owns, the config the kubelet gave."""
    meta = pod.pod["metadata"]
    config = {"metadata": _sandbox_metadata(pod), "hostname": sandbox.hostname,
              "log_directory": str(pod_log_dir(log_root, meta["namespace"], meta["name"], meta["uid"])),
              "labels": sandbox_labels(pod.pod), "annotations": meta.get("annotations") or {}}
    namespaces = [{"type": "network", "path": str(sandbox.netns_path)}, {"type": "ipc"}, {"type": "uts"}]
    return {"pid": sandbox.pid if ready else 0, "processStatus": "running" if ready else "stopped",
            "netNamespaceClosed": not sandbox.netns_path.exists(), "image": PAUSE_IMAGE, "runtimeHandler": "",
            "config": go_json(config),
            "runtimeSpec": {"hostname": sandbox.hostname,
                            "process": {"args": ["/pause"],
                                        "oomScoreAdj": restrict_oom_score_adj(SANDBOX_OOM_SCORE_ADJ)},
                            "linux": {"namespaces": namespaces}}}


def pod_sandbox_status(pods: Iterable[PodRuntime], sandbox_id: str, log_root: Path) -> Obj:
    """PodSandboxStatus, verbose: the status and containerd's info. Pods share the pause's network,
    IPC and UTS namespaces; their processes are in the node's PID namespace (NODE)."""
    by_id = {pod.sandbox.id: pod for pod in pods if pod.sandbox is not None}
    try:
        pod = by_id[resolve_id(by_id, sandbox_id)]
    except LookupError as error:
        raise CRIError.not_found(f"an error occurred when try to find sandbox: {error}") from None
    sandbox = pod.sandbox
    assert sandbox is not None
    status = pod_sandbox(pod, sandbox)
    ready = status["state"] == "SANDBOX_READY"
    ips = pod.pod_ips if ready else []
    status.update({"network": {"ip": ips[0] if ips else "", "additionalIps": [{"ip": ip} for ip in ips[1:]]},
                   "linux": {"namespaces": {"options": {"network": "POD", "pid": "NODE", "ipc": "POD",
                                                        "targetId": "", "usernsOptions": None}}}})
    return {"status": status, "info": {"info": json.dumps(_sandbox_info(pod, sandbox, ready, log_root))}}


# -- containers ------------------------------------------------------------------------------------


def container_runs(pod: PodRuntime) -> list[ContainerRun]:
    """The runs of the pod's containers in its current sandbox: the previous run (its attempt is the
    current restart count while the container waits to restart, one less once it runs again) and
    the current one."""
    sandbox = pod.sandbox
    if sandbox is None:
        return []
    spec = pod.pod["spec"]
    specs = {c["name"]: c for c in all_containers(spec)}
    runs = []
    for record in pod.records():
        current = record.restart_count
        candidates = [(record.previous, current - 1 if record.process is not None else current),
                      (record.process, current)]
        runs += [ContainerRun(pod, sandbox, specs[record.name], record, process, attempt)
                 for process, attempt in candidates if process is not None and process.sandbox_id == sandbox.id]
    return runs


def _container_labels(run: ContainerRun) -> dict[str, str]:
    """newContainerLabels."""
    meta = run.pod.pod["metadata"]
    return {CONTAINER_NAME_LABEL: run.record.name, POD_NAME_LABEL: meta["name"],
            POD_NAMESPACE_LABEL: meta["namespace"], POD_UID_LABEL: meta["uid"]}


def _container_annotations(run: ContainerRun) -> dict[str, str]:
    """newContainerAnnotations, without the spec hash (kinn keeps no hash of container specs)."""
    annotations = {"io.kubernetes.container.restartCount": str(run.attempt),
                   "io.kubernetes.container.terminationMessagePath":
                       run.spec.get("terminationMessagePath", "/dev/termination-log"),
                   "io.kubernetes.container.terminationMessagePolicy":
                       run.spec.get("terminationMessagePolicy", "File")}
    grace = run.pod.pod["spec"].get("terminationGracePeriodSeconds")
    if grace is not None:
        annotations["io.kubernetes.pod.terminationGracePeriod"] = str(grace)
    return annotations


def _image_spec(image: str, user_specified: str = "") -> Obj:
    return {"image": image, "annotations": {}, "userSpecifiedImage": user_specified, "runtimeHandler": ""}


def _container_state(run: ContainerRun) -> str:
    return "CONTAINER_RUNNING" if run.running else "CONTAINER_EXITED"


def container(run: ContainerRun) -> Obj:
    """A ListContainers item."""
    local_id = image_id(run.record.image_id)
    return {"id": run.process.id, "podSandboxId": run.sandbox.id,
            "metadata": {"name": run.record.name, "attempt": run.attempt},
            "image": _image_spec(local_id, run.spec.get("image", "")), "imageRef": local_id,
            "state": _container_state(run), "createdAt": nanos(run.process.started_at),
            "labels": _container_labels(run), "annotations": _container_annotations(run), "imageId": local_id}


def list_containers(pods: Iterable[PodRuntime], request: Obj) -> Obj:
    """ListContainers; the filter's state (crictl ps without -a asks for CONTAINER_RUNNING) is applied."""
    state = (((request.get("filter") or {}).get("state")) or {}).get("state")
    items = [container(run) for pod in pods for run in container_runs(pod)]
    return {"containers": [item for item in items if state is None or item["state"] == state]}


def _container_info(run: ContainerRun, log_dir: Path) -> Obj:
    """containerd's ContainerInfo: the sandbox, the pid while it runs, what runs with which namespaces."""
    process, record = run.process, run.record
    config = {"metadata": {"name": record.name, "attempt": run.attempt},
              "image": {"image": image_id(record.image_id), "user_specified_image": run.spec.get("image", "")},
              "working_dir": run.spec.get("workingDir", ""), "labels": _container_labels(run),
              "annotations": _container_annotations(run), "log_path": str(process.log_path.relative_to(log_dir))}
    mounts = [{"destination": str(m.container_path), "type": "bind", "source": str(m.host_path),
               "options": ["rbind", "rprivate", "ro" if m.read_only else "rw"]} for m in process.mounts]
    namespaces = [{"type": OCI_NAMESPACE_TYPES[kind], "path": str(run.sandbox.namespace(kind))}
                  for kind in SANDBOX_NAMESPACES] + [{"type": "mount"}, {"type": "cgroup"}]
    linux: Obj = {"resources": process.limits.oci(), "namespaces": namespaces}
    if process.cgroup is not None:
        linux["cgroupsPath"] = f"/{process.cgroup.relative}"
    oci_process: Obj = {"args": list(process.argv), "env": [f"{k}={v}" for k, v in process.env.items()],
                        "cwd": str(process.working_dir)}
    if process.oom_score_adj is not None:
        oci_process["oomScoreAdj"] = process.oom_score_adj
    return {"sandboxID": run.sandbox.id, "pid": process.pid if run.running else 0, "removing": False,
            "config": go_json(config),
            "runtimeSpec": {"hostname": run.sandbox.hostname,
                            "process": oci_process,
                            "mounts": mounts, "linux": linux}}


def container_status(pods: Iterable[PodRuntime], container_id: str, log_root: Path) -> Obj:
    """ContainerStatus, verbose: the status and containerd's info."""
    runs = {run.process.id: run for pod in pods for run in container_runs(pod)}
    try:
        run = runs[resolve_id(runs, container_id)]
    except LookupError as error:
        raise CRIError.not_found(f'an error occurred when try to find container "{container_id}": {error}') from None
    process, record, exit_ = run.process, run.record, run.process.exit
    meta = run.pod.pod["metadata"]
    status = {"id": process.id, "metadata": {"name": record.name, "attempt": run.attempt},
              "state": _container_state(run), "createdAt": nanos(process.started_at),
              "startedAt": nanos(process.started_at), "finishedAt": nanos(exit_.finished_at) if exit_ else "0",
              "exitCode": exit_.exit_code if exit_ else 0, "image": _image_spec(record.image),
              "imageRef": record.image_id, "reason": exit_.reason if exit_ else "", "message": "",
              "labels": _container_labels(run), "annotations": _container_annotations(run),
              "mounts": [{"containerPath": str(m.container_path), "hostPath": str(m.host_path),
                          "readonly": m.read_only, "selinuxRelabel": False, "propagation": "PROPAGATION_PRIVATE"}
                         for m in process.mounts],
              "logPath": str(process.log_path), "imageId": image_id(record.image_id)}
    log_dir = pod_log_dir(log_root, meta["namespace"], meta["name"], meta["uid"])
    return {"status": status, "info": {"info": json.dumps(_container_info(run, log_dir))}}
