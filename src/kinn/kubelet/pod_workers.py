"""Pod workers: one asyncio task per pod drives it toward its spec (upstream podWorkers + syncPod).

A worker wakes on a pod update, a container exit, a dead sandbox (the kubelet's relist) or a
back-off timer, and then, level-triggered: recreates the sandbox if pause died, runs init
containers in order, (re)starts app containers per restartPolicy with CrashLoopBackOff, and
writes the status. On deletion it stops the containers (SIGTERM, grace, SIGKILL), runs CNI DEL,
removes the sandbox and the pod's files, and confirms the deletion to the API server.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from kinn.api.containers import all_containers
from kinn.api.errors import StatusError
from kinn.api.quantity import value
from kinn.api.sidecars import is_sidecar
from kinn.api.timestamps import now_rfc3339
from kinn.client.events import EventRecorder
from kinn.client.rest import Client, resource
from kinn.cni import CNIError, CNIRuntime, ConfigError, NetworkConfigList, kubernetes_args, load_conf_dir
from kinn.kubelet import envvars, images, lifecycle, podfiles, volumes
from kinn.kubelet.backoff import Backoff
from kinn.kubelet.predicate import Rejection
from kinn.kubelet.qos import container_oom_score_adjust
from kinn.kubelet.probes import PodProbes, Prober, ProbeType, kill_message
from kinn.kubelet.runtime import ContainerSpec, ContainerStartError, Mount, ResourceLimits, container_log_path, \
    pod_log_dir, start_container
from kinn.kubelet.runtime.cgroup import CgroupRoot
from kinn.kubelet.sandbox import Sandbox, SandboxError, create_sandbox, remove_sandbox
from kinn.kubelet.status import EPHEMERAL_CONTAINERS, INIT_CONTAINERS, ContainerRecord, StatusManager, pod_phase, \
    pod_status
from kinn.kubelet.token_manager import TokenManager

log = logging.getLogger("kinn.kubelet")
PODS = resource("v1", "pods")
CONFIGMAPS = resource("v1", "configmaps")
SECRETS = resource("v1", "secrets")
RETRY = 2.0  # seconds before retrying a failed sandbox or volume setup
DEFAULT_GRACE = 30
MINIMUM_GRACE = 2  # minimumGracePeriodInSeconds: what SIGTERM always gets, even after a long preStop hook

Obj = dict[str, Any]


@dataclass
class PodContext:
    """What every pod worker shares: the node's settings and the kubelet's clients and caches."""

    client: Client
    recorder: EventRecorder
    status: StatusManager
    services: Callable[[], Iterable[Obj]]
    node_ip: str
    root_dir: Path
    log_root: Path
    netns_dir: Path
    cni_conf_dir: Path
    cni_bin_dirs: list[str]
    cni_cache_dir: Path
    cluster_dns: list[str]
    cluster_domain: str
    backoff: Backoff = field(default_factory=Backoff)
    allocatable: dict[str, str] = field(default_factory=dict)  # the node's: unset limits in resourceFieldRef
    cgroups: CgroupRoot | None = None  # where containers' cgroups go (kubepods); None: they get none
    tokens: TokenManager = field(init=False)  # service-account tokens of projected volumes, shared by all pods

    def __post_init__(self) -> None:
        self.tokens = TokenManager(self.client)


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def port_mappings(pod: Obj) -> list[Obj]:
    """The CNI portMappings capability from the containers' hostPorts, as the CRI passes them."""
    return [{"hostPort": port["hostPort"], "containerPort": port["containerPort"],
             "protocol": port.get("protocol", "TCP").lower(), "hostIP": port.get("hostIP", "")}
            for container in pod["spec"]["containers"] for port in container.get("ports") or []
            if port.get("hostPort")]


class PodWorker:
    """Owns one pod's sandbox and containers; `update`/`remove` feed it, `task` runs it.

    A pod the kubelet did not admit (`rejection`) is never run: its worker only reports the
    rejection and, once the pod is deleted, confirms that."""

    def __init__(self, context: PodContext, pod: Obj, on_done: Callable[[str], None],
                 rejection: Rejection | None = None) -> None:
        self.ctx = context
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.key = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        self.dir = context.root_dir / "pods" / self.uid
        self.cgroup_parent = context.cgroups.pod(self.uid, pod["spec"]) if context.cgroups else None
        self.sandbox: Sandbox | None = None
        self.sandbox_attempt = -1  # metadata.attempt of the current sandbox: 0, then +1 per re-creation
        self.network: NetworkConfigList | None = None
        self.pod_ips: list[str] = []
        self.start_time = now_rfc3339()
        self.init = [ContainerRecord(c["name"], c.get("image", ""), sidecar=is_sidecar(c), kind=INIT_CONTAINERS,
                                     waiting_reason="PodInitializing") for c in pod["spec"].get("initContainers") or []]
        self._initialized = False  # every init container succeeded or (a sidecar) started once
        self.containers = [ContainerRecord(c["name"], c.get("image", ""),
                                           waiting_reason="PodInitializing" if self.init else "ContainerCreating")
                           for c in pod["spec"]["containers"]]
        self.ephemeral: list[ContainerRecord] = []  # one per spec.ephemeralContainers, added as they are
        self._etc: dict[str, Path] | None = None  # the kubelet-managed /etc files of the current sandbox
        self._volumes: dict[str, Path] = {}
        self._objects: tuple[dict[str, Obj], dict[str, Obj]] = ({}, {})
        self._pull_failed_at: dict[str, float] = {}  # image back-off key → when resolving last failed
        self._removed = False
        # Terminal phase reached and the sandbox torn down; a pod already terminal when the worker
        # starts (a kubelet restart) is never run again and its status is left as it was.
        self._rejection = rejection
        self._finished = rejection is not None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        self._report_status = not self._finished
        self._wakeup = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self._watchers: set[asyncio.Task[None]] = set()
        self._on_done = on_done
        self.probes = PodProbes(self, Prober(context.recorder))
        self.task = asyncio.create_task(self._run(), name=f"pod-worker-{self.key}")
        if not self._finished:
            self.probes.start()
        self.wake()

    # -- inputs ------------------------------------------------------------------------------

    def update(self, pod: Obj) -> None:
        self.pod = pod
        self.wake()

    def remove(self) -> None:
        """The pod is gone from the API (force-deleted): clean up without confirming."""
        self._removed = True
        self.wake()

    def wake(self) -> None:
        self._wakeup.set()

    def wake_later(self, delay: float) -> None:
        self._timers.append(asyncio.get_running_loop().call_later(delay, self.wake))

    @property
    def finished(self) -> bool:
        """Nothing of the pod runs or will run again: its requests no longer count on the node."""
        return self._finished

    def records(self) -> list[ContainerRecord]:
        """Every container of the pod, init containers first, ephemeral ones last."""
        return [*self.init, *self.containers, *self.ephemeral]

    def needs_new_sandbox(self) -> bool:
        return self.sandbox is not None and not self.sandbox.is_ready()

    # -- loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                if self._removed or self.pod["metadata"].get("deletionTimestamp"):
                    await self._terminate()
                    return
                try:
                    await self._sync()
                except Exception:  # the worker must survive anything one sync does
                    log.exception("%s: sync failed", self.key)
                    self.wake_later(RETRY)
                if self._report_status:
                    await self._write_status()
        finally:
            for timer in self._timers:
                timer.cancel()
            self.probes.stop(*ProbeType)
            self._on_done(self.uid)

    async def _sync(self) -> None:
        if self._rejection is not None:
            await self._reject(self._rejection)
            self._rejection = None
        if self._finished:
            return
        if self.needs_new_sandbox():
            await self._event("Normal", "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
            await self._kill_containers(self._grace())
            await self._teardown_sandbox()
        if self.sandbox is None and not await self._create_sandbox():
            return
        if not await self._set_up_files():
            return
        for spec, record in self._ephemeral_containers():
            await self._sync_container(spec, record, "Never")
        if not await self._run_init_containers():
            return
        for spec, record in zip(self.pod["spec"]["containers"], self.containers):
            await self._sync_container(spec, record)
        if pod_phase(self.pod, self.init, self.containers) in ("Succeeded", "Failed"):
            await self._kill_containers(self._grace())  # the sidecars, which outlive the containers they serve
            await self._teardown_sandbox()
            self._finished = True

    # -- sandbox -----------------------------------------------------------------------------

    def _cni(self) -> CNIRuntime:
        assert self.network is not None
        return CNIRuntime(self.network, self.ctx.cni_bin_dirs, self.ctx.cni_cache_dir)

    def _cni_args(self, sandbox: Sandbox) -> dict[str, str]:
        meta = self.pod["metadata"]
        return kubernetes_args(meta["namespace"], meta["name"], sandbox.id, self.uid)

    async def _create_sandbox(self) -> bool:
        """RunPodSandbox: pause with the pod's hostname, then CNI ADD; on failure an event and a retry.
        A hostNetwork pod's sandbox is in its node's network: no CNI, and the node's IP is the pod's."""
        host_network = bool(self.pod["spec"].get("hostNetwork"))
        sandbox = None
        try:
            self.network = None if host_network else load_conf_dir(self.ctx.cni_conf_dir)
            sandbox = await create_sandbox(self.uid, podfiles.pod_hostname(self.pod), netns_dir=self.ctx.netns_dir,
                                           host_network=host_network)
            pod_ips = [self.ctx.node_ip] if host_network else await self._add_network(sandbox)
        except (ConfigError, CNIError, SandboxError, OSError) as error:
            if sandbox is not None:
                await remove_sandbox(sandbox)
            where = f' for sandbox "{sandbox.id}"' if sandbox else ""
            await self._event("Warning", "FailedCreatePodSandBox",
                              f"Failed to create pod sandbox: failed to setup network{where}: {error}")
            self.wake_later(RETRY)
            return False
        self.sandbox, self.sandbox_attempt = sandbox, self.sandbox_attempt + 1
        self.pod_ips = pod_ips
        self._etc = None
        return True

    async def _add_network(self, sandbox: Sandbox) -> list[str]:
        """CNI ADD of the pod's eth0 (with its hostPorts); the IPs it was given."""
        result = await self._cni().add(sandbox.id, str(sandbox.netns_path), "eth0", self._cni_args(sandbox),
                                       {"portMappings": port_mappings(self.pod)})
        return [ip.address.split("/")[0] for ip in result.ips]

    async def _teardown_sandbox(self) -> None:
        """StopPodSandbox + RemovePodSandbox: CNI DEL (errors logged: the netns goes anyway), pause, netns."""
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is None:
            return
        if self.network is not None:
            try:
                await self._cni().delete(sandbox.id, str(sandbox.netns_path), "eth0", self._cni_args(sandbox))
            except (CNIError, OSError) as error:
                log.warning("%s: CNI DEL of sandbox %s failed: %s", self.key, sandbox.id[:13], error)
        await remove_sandbox(sandbox)
        if self.cgroup_parent is not None:
            self.cgroup_parent.remove()

    # -- files and volumes -------------------------------------------------------------------

    async def _fetch(self, names: set[str], kind: Any) -> dict[str, Obj]:
        found = {}
        for name in names:
            try:
                found[name] = await self.ctx.client.get(kind, name, self.pod["metadata"]["namespace"])
            except StatusError as error:
                if error.code != 404:
                    raise
        return found

    async def _set_up_files(self) -> bool:
        """Volumes on every sync, as their contents follow the API (downward API, tokens, ConfigMaps);
        the managed /etc files and the mounts once per sandbox (they carry the pod IP). A failure
        holds back the first start; later ones are reported while the containers run on."""
        first = self._etc is None
        try:
            await self._set_up_volumes()
            if first:
                self._etc = podfiles.write_pod_files(self.dir, self.pod, self.pod_ips, self.ctx.cluster_dns,
                                                     self.ctx.cluster_domain)
        except volumes.VolumeError as error:
            for message in str(error).splitlines():
                await self._event("Warning", "FailedMount", message)
            if first:
                self.wake_later(RETRY)
            return not first
        except (StatusError, OSError) as error:
            if first:
                raise
            log.warning("%s: volumes not refreshed: %s", self.key, error)
        return True

    async def _set_up_volumes(self) -> None:
        configmap_names, secret_names = envvars.referenced_names(self.pod)
        self._objects = (await self._fetch(configmap_names, CONFIGMAPS), await self._fetch(secret_names, SECRETS))
        host = volumes.VolumeHost(self.ctx.client, self.ctx.tokens, *self._objects, self.ctx.allocatable)
        self._volumes = await volumes.set_up_volumes(self.dir, self.pod, host)

    # -- containers --------------------------------------------------------------------------

    def _ephemeral_containers(self) -> list[tuple[Obj, ContainerRecord]]:
        """spec.ephemeralContainers with their records, a record added for each one new to the pod
        (`kubectl debug` adds them through pods/ephemeralcontainers). They are started even while an
        init container fails, so a pod stuck initializing can be debugged, and never restarted."""
        specs = self.pod["spec"].get("ephemeralContainers") or []
        for spec in specs[len(self.ephemeral):]:
            self.ephemeral.append(ContainerRecord(spec["name"], spec.get("image", ""), kind=EPHEMERAL_CONTAINERS))
        return list(zip(specs, self.ephemeral))

    async def _run_init_containers(self) -> bool:
        """Init containers one at a time, in order; True once all succeeded. A sidecar is restarted
        whenever it ends, whatever the pod's restartPolicy, and the next init container waits only
        until it has started (running, its startup probe passed); once the pod is initialized, a
        sidecar's restarts hold nothing up."""
        policy = "Never" if self.pod["spec"].get("restartPolicy") == "Never" else "OnFailure"
        for spec, record in zip(self.pod["spec"].get("initContainers") or [], self.init):
            if record.sidecar:
                await self._sync_container(spec, record, "Always")
                if self._initialized or self.probes.started(record):
                    continue
                return False
            if record.exit is not None and record.exit.exit_code == 0:
                continue
            await self._sync_container(spec, record, policy)
            return False
        self._initialized = True
        for record in self.containers:
            if record.waiting_reason == "PodInitializing":
                record.waiting_reason = "ContainerCreating"
        return True

    async def _sync_container(self, spec: Obj, record: ContainerRecord, policy: str | None = None) -> None:
        """Leave a healthy running container alone, kill one that failed its liveness or startup probe;
        decide on an ended one; start a waiting one unless backing off."""
        policy = policy or self.pod["spec"].get("restartPolicy", "Always")
        if record.running:
            if not await self._kill_if_unhealthy(spec, record, policy != "Never"):
                return
            if policy == "Never":
                return
            record.will_restart("", "")
        elif record.exit is not None:
            if not should_restart(policy, record.exit.exit_code):
                return
            record.will_restart("", "")
        if record.last_terminated is not None and await self._backing_off(record):
            return
        await self._start(spec, record)

    def _backoff_key(self, record: ContainerRecord) -> str:
        return f"{self.uid}/{record.name}"

    async def _backing_off(self, record: ContainerRecord) -> bool:
        """doBackOff: within the delay after the last exit → CrashLoopBackOff; otherwise arm the next delay."""
        assert record.last_terminated is not None
        finished = datetime.fromisoformat(record.last_terminated["finishedAt"].replace("Z", "+00:00")).timestamp()
        key = self._backoff_key(record)
        remaining = self.ctx.backoff.remaining(key, finished)
        if remaining > 0:
            meta = self.pod["metadata"]
            delay = self.ctx.backoff.delay(key)
            if record.waiting_reason != "CrashLoopBackOff":
                await self._event("Warning", "BackOff", f"Back-off restarting failed container {record.name} in pod "
                                  f"{meta['name']}_{meta['namespace']}({self.uid})", record)
            record.waiting_reason = "CrashLoopBackOff"
            record.waiting_message = (f"back-off {delay:g}s restarting failed container={record.name} "
                                      f"pod={meta['name']}_{meta['namespace']}({self.uid})")
            self.wake_later(remaining)
            return True
        self.ctx.backoff.next(key)
        return False

    async def _pull(self, spec: Obj, record: ContainerRecord) -> images.Image | None:
        """Resolve the image; a failure shows ErrImagePull, then ImagePullBackOff while backing off,
        with the image manager's events: an image not in the catalog is one kinn tried to pull."""
        reference = spec.get("image", "")
        key = f"{self.uid}/{record.name}/image"
        try:
            image = images.resolve(reference)
        except images.ImagePullError as error:
            remaining = self.ctx.backoff.remaining(key, self._pull_failed_at.get(key, 0.0))
            if remaining > 0:
                if record.waiting_reason != "ImagePullBackOff":
                    await self._event("Normal", "BackOff", f'Back-off pulling image "{reference}"', record)
                    await self._event("Warning", "Failed", "Error: ImagePullBackOff", record)
                record.waiting_reason = "ImagePullBackOff"
                record.waiting_message = f'Back-off pulling image "{reference}": ErrImagePull: {error}'
                self.wake_later(remaining)
                return None
            self._pull_failed_at[key] = time.time()
            self.wake_later(self.ctx.backoff.next(key))
            record.waiting_reason, record.waiting_message = "ErrImagePull", str(error)
            await self._event("Normal", "Pulling", f'Pulling image "{reference}"', record)
            await self._event("Warning", "Failed", f'Failed to pull image "{reference}": {error}', record)
            await self._event("Warning", "Failed", "Error: ErrImagePull", record)
            return None
        record.image, record.image_id = image.name, image.image_id
        await self._event("Normal", "Pulled", f'Container image "{reference}" already present on machine', record)
        return image

    async def _start(self, spec: Obj, record: ContainerRecord) -> None:
        assert self.sandbox is not None
        image = await self._pull(spec, record)
        if image is None:
            return
        meta = self.pod["metadata"]
        try:
            env = envvars.container_environment(self.pod, spec, self.ctx.services(), self.pod_ips, self.ctx.node_ip,
                                                *self._objects, self.ctx.allocatable)
            directory = self.dir / "containers" / record.name
            image_mounts = image.prepare(directory)
            argv = image.argv([envvars.expand(a, env) for a in spec.get("command") or []],
                              [envvars.expand(a, env) for a in spec.get("args") or []], directory)
        except (envvars.EnvError, images.ImagePullError) as error:
            record.waiting_reason, record.waiting_message = "CreateContainerConfigError", str(error)
            await self._event("Warning", "Failed", f"Error: {error}", record)
            self.wake_later(RETRY)
            return
        restart = record.restart_count + (1 if record.last_terminated is not None else 0)
        container_spec = ContainerSpec(
            name=record.name, argv=argv, env=env, working_dir=Path(spec.get("workingDir") or "/"),
            log_path=container_log_path(self.ctx.log_root, meta["namespace"], meta["name"], self.uid, record.name,
                                        restart),
            mounts=[*image_mounts, *self._mounts(spec)],  # volumes mounted later cover the image's
            program=functools.partial(image.program, directory=directory),
            stdin=bool(spec.get("stdin")), stdin_once=bool(spec.get("stdinOnce")), tty=bool(spec.get("tty")),
            limits=ResourceLimits.of(spec.get("resources") or {}),
            oom_score_adj=container_oom_score_adjust(self.pod, spec, value(self.ctx.allocatable["memory"])))
        await self._event("Normal", "Created", f"Created container: {record.name}", record)
        try:
            process = await start_container(self.sandbox, container_spec, cgroup_parent=self.cgroup_parent)
        except ContainerStartError as error:
            record.failed_to_start(str(error))
            await self._event("Warning", "Failed", f"Error: {error}", record)
            self.wake()
            return
        record.started(process)
        await self._event("Normal", "Started", f"Started container {record.name}", record)
        watcher = asyncio.create_task(self._watch_exit(record, process.wait()))
        self._watchers.add(watcher)  # the loop keeps only weak references to tasks
        watcher.add_done_callback(self._watchers.discard)
        post_start = (spec.get("lifecycle") or {}).get("postStart")
        if post_start is not None:
            await self._post_start(spec, record, post_start)

    def _mounts(self, spec: Obj) -> list[Mount]:
        """The managed /etc files, then the container's volumeMounts."""
        assert self._etc is not None
        return [*(Mount(path, Path(target)) for target, path in self._etc.items()),
                *volumes.container_mounts(spec, self._volumes)]

    async def _post_start(self, spec: Obj, record: ContainerRecord, hook: Obj) -> None:
        """Run postStart before anything else of the pod (the status still says ContainerCreating); a
        failed hook kills the container, which then waits as PostStartHookError if it will be restarted."""
        assert record.process is not None
        try:
            await lifecycle.run_hook(hook, self.pod, spec, record.process, self._pod_ip())
        except lifecycle.HookError as error:
            log.warning("%s: %s", self.key, error)
            await self._event("Warning", "FailedPostStartHook", "PostStartHook failed", record)
            await self._kill_container(spec, record, "FailedPostStartHook", self._grace())
            assert record.exit is not None
            if should_restart(self.pod["spec"].get("restartPolicy", "Always"), record.exit.exit_code):
                record.will_restart("PostStartHookError", str(error))

    async def _kill_if_unhealthy(self, spec: Obj, record: ContainerRecord, restart: bool) -> bool:
        """Kill a run whose liveness or startup probe failed, within that probe's own grace period if it has one."""
        probe_type = self.probes.failed(record)
        if probe_type is None:
            return False
        grace = spec[probe_type.field].get("terminationGracePeriodSeconds")
        await self._kill_container(spec, record, kill_message(record.name, probe_type, restart), self._grace(grace))
        return True

    async def _watch_exit(self, record: ContainerRecord, exited: Awaitable[Any]) -> None:
        """PLEG for one container: record its end and let the worker react."""
        outcome = await exited
        if record.process is not None and record.process.exit is outcome:
            record.exit = outcome
        self.wake()

    async def _kill_containers(self, grace: float) -> None:
        """killContainer for every running container, in parallel, and then for the sidecars, within what
        is left of the grace period: they serve the others to the end, as upstream stops them last."""
        specs = {c["name"]: c for c in all_containers(self.pod["spec"])}
        started = time.monotonic()
        for sidecars in (False, True):
            running = [record for record in self.records() if record.running and record.sidecar == sidecars]
            left = max(grace - (time.monotonic() - started), 0.0)
            await asyncio.gather(*(self._kill_container(specs[record.name], record, f"Stopping container {record.name}",
                                                        left) for record in running))

    async def _kill_container(self, spec: Obj, record: ContainerRecord, message: str, grace: float) -> None:
        """killContainer: the Killing event, the preStop hook within the grace period, then SIGTERM and,
        once what is left of the grace period (at least MINIMUM_GRACE) passed, SIGKILL."""
        assert record.process is not None
        await self._event("Normal", "Killing", message, record)
        pre_stop = (spec.get("lifecycle") or {}).get("preStop")
        if pre_stop is not None and grace > 0:
            grace -= await self._pre_stop(spec, record, pre_stop, grace)
        record.exit = await record.process.stop(max(grace, MINIMUM_GRACE))

    async def _pre_stop(self, spec: Obj, record: ContainerRecord, hook: Obj, grace: float) -> int:
        """executePreStopHook: the hook gets at most the grace period; returns the whole seconds it took."""
        assert record.process is not None
        started = time.monotonic()
        try:
            await asyncio.wait_for(lifecycle.run_hook(hook, self.pod, spec, record.process, self._pod_ip()), grace)
        except asyncio.TimeoutError:
            log.info("%s: preStop hook of %s not completed in the %gs grace period", self.key, spec["name"], grace)
        except lifecycle.HookError as error:
            log.warning("%s: %s", self.key, error)
            await self._event("Warning", "FailedPreStopHook", "PreStopHook failed", record)
        return int(time.monotonic() - started)

    def _grace(self, probe_grace: int | None = None) -> float:
        """setTerminationGracePeriod: a deletion's grace period, else the failed probe's, else the pod's."""
        meta, spec = self.pod["metadata"], self.pod["spec"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = probe_grace if probe_grace is not None else spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE)
        return float(grace)

    def _pod_ip(self) -> str:
        return self.pod_ips[0] if self.pod_ips else ""

    # -- termination and status ---------------------------------------------------------------

    async def _terminate(self) -> None:
        """Stop everything, release the network, remove files; then confirm the deletion (uid precondition).

        Liveness and startup probes end first: a container shutting down must not be restarted (readiness
        probes go on until the worker ends)."""
        self.probes.stop(ProbeType.LIVENESS, ProbeType.STARTUP)
        await self._kill_containers(self._grace())
        await self._teardown_sandbox()
        meta = self.pod["metadata"]
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(pod_log_dir(self.ctx.log_root, meta["namespace"], meta["name"], self.uid), ignore_errors=True)
        self.ctx.backoff.forget(self.uid)
        self.ctx.tokens.delete_service_account_token(self.uid)
        if self._removed:
            self.ctx.status.forget(self.uid)
            return
        if self._report_status:
            await self._write_status()
        try:
            await self.ctx.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                         preconditions={"uid": self.uid})
        except StatusError as error:
            if error.code not in (404, 409):
                raise
        self.ctx.status.forget(self.uid)

    async def _reject(self, rejection: Rejection) -> None:
        """rejectPod: a Warning event and a Failed status that say why."""
        await self._event("Warning", rejection.reason, rejection.message)
        await self.ctx.status.set_status(self.pod, rejection.status(self.pod, self.start_time))

    async def _write_status(self) -> None:
        status = pod_status(self.pod, host_ip=self.ctx.node_ip, pod_ips=self.pod_ips, start_time=self.start_time,
                            sandbox_ready=self.sandbox is not None and self.sandbox.is_ready(),
                            init=self.init, containers=self.containers, probes=self.probes,
                            ephemeral=self.ephemeral)
        await self.ctx.status.set_status(self.pod, status)

    async def _event(self, type_: str, reason: str, message: str, record: ContainerRecord | None = None) -> None:
        """An event about the pod, or about one of its containers (`record`)."""
        await self.ctx.recorder.event(self.pod, type_, reason, message, record.field_path if record else "")
