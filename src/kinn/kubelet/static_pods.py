"""Static pods and their mirror pods (pkg/kubelet: config merging, pod manager, mirror client).

Static pods come from files (config/file.py), not from the API: the kubelet runs them whether or
not the API server answers, and shows each in the API as a *mirror pod* — a copy annotated
`kubernetes.io/config.mirror: <hash>`, owned by the Node, whose status the kubelet keeps up to
date. The mirror is only a reflection: deleting it does not stop the pod (the kubelet creates it
again); removing the file does (the kubelet stops the pod, then deletes the mirror); editing the
file yields a new pod (new hash), which starts once the old one has stopped, and a new mirror.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource
from kinn.kubelet.config.file import CONFIG_HASH_ANNOTATION, SourceFile

log = logging.getLogger("kinn.kubelet.static")
PODS = resource("v1", "pods")
NODES = resource("v1", "nodes")
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_SEEN_ANNOTATION = "kubernetes.io/config.seen"

Obj = dict[str, Any]


def is_mirror_pod(pod: Obj) -> bool:
    return CONFIG_MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def is_static_pod(pod: Obj) -> bool:
    """IsStaticPod: the pod came from a manifest file, not from the API server."""
    return ((pod.get("metadata") or {}).get("annotations") or {}).get(CONFIG_SOURCE_ANNOTATION, "api") != "api"


def full_name(pod: Obj) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def is_mirror_pod_of(mirror: Obj, pod: Obj) -> bool:
    """IsMirrorPodOf: same full name, and the mirror's hash is the static pod's."""
    hash_ = pod["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
    return full_name(mirror) == full_name(pod) and \
        mirror["metadata"]["annotations"].get(CONFIG_MIRROR_ANNOTATION) == hash_


def seen_timestamp(moment: datetime) -> str:
    """kubetypes.Timestamp: RFC 3339 with nanoseconds, in UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def mirror_pod(pod: Obj, node: Obj) -> Obj:
    """CreateMirrorPod's object: the static pod, annotated with its hash, owned by the Node."""
    mirror = copy.deepcopy(pod)
    meta = mirror["metadata"]
    meta.pop("uid", None)
    meta["annotations"][CONFIG_MIRROR_ANNOTATION] = meta["annotations"][CONFIG_HASH_ANNOTATION]
    meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node["metadata"]["name"],
                                "uid": node["metadata"]["uid"], "controller": True}]
    mirror.pop("status", None)
    return mirror


class StaticPods:
    """Runs the file source's pods through the kubelet's pod workers and keeps their mirrors.

    `run_pod(pod)` starts a pod's worker or wakes it with the pod; `remove_pod(pod)` stops it and
    returns once it is gone. Mirror pods seen by the kubelet's pod informer come in through
    `mirror_changed` / `mirror_deleted`.
    """

    def __init__(self, client: Client, source: SourceFile, period: float, run_pod: Callable[[Obj], None],
                 remove_pod: Callable[[Obj], Awaitable[None]]) -> None:
        self.client = client
        self.source = source
        self.period = period
        self.pods: dict[str, Obj] = {}  # static pods by UID
        self.mirrors: dict[str, Obj] = {}  # mirror pods in the API by full name
        self._run_pod = run_pod
        self._remove_pod = remove_pod
        self._changed = asyncio.Event()

    # -- inputs ------------------------------------------------------------------------------

    def mirror_changed(self, mirror: Obj) -> None:
        previous = self.mirrors.get(full_name(mirror))
        self.mirrors[full_name(mirror)] = mirror
        if previous is None or previous["metadata"]["uid"] != mirror["metadata"]["uid"]:
            self._resync_status(mirror)
        self._changed.set()

    def mirror_deleted(self, mirror: Obj) -> None:
        current = self.mirrors.get(full_name(mirror))
        if current is not None and current["metadata"]["uid"] == mirror["metadata"]["uid"]:
            del self.mirrors[full_name(mirror)]
        self._changed.set()

    def translate_uid(self, uid: str) -> str | None:
        """TranslatePodUID for the status manager: a static pod's status goes to its mirror pod
        (None while there is none); other pods' UIDs are their own."""
        pod = self.pods.get(uid)
        if pod is None:
            return uid
        mirror = self.mirrors.get(full_name(pod))
        if mirror is None or mirror["metadata"].get("deletionTimestamp") or not is_mirror_pod_of(mirror, pod):
            return None
        return mirror["metadata"]["uid"]

    def _resync_status(self, mirror: Obj) -> None:
        """A new mirror has no status yet: wake its static pod's worker to write it."""
        pod = next((pod for pod in self.pods.values() if is_mirror_pod_of(mirror, pod)), None)
        if pod is not None:
            self._run_pod(pod)

    # -- loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Read the manifests every period (or at once when a mirror changed), then sync the mirrors."""
        while True:
            await self._sync_pods()
            await self._sync_mirrors()
            try:
                await asyncio.wait_for(self._changed.wait(), self.period)
            except asyncio.TimeoutError:
                pass
            self._changed.clear()

    async def _sync_pods(self) -> None:
        """Stop the pods whose manifests went or changed, then start the new ones: a changed
        manifest's pod starts only once the old one has stopped, as upstream's pod workers wait."""
        wanted = self.source.pods()
        gone = [pod for uid, pod in self.pods.items() if uid not in wanted]
        for pod in gone:
            log.info("static pod %s (%s) removed from %s", full_name(pod), pod["metadata"]["uid"], self.source.path)
        await asyncio.gather(*(self._remove_pod(pod) for pod in gone))
        for pod in gone:
            del self.pods[pod["metadata"]["uid"]]
        for uid, pod in wanted.items():
            if uid not in self.pods:
                annotations = pod["metadata"]["annotations"]
                annotations[CONFIG_SOURCE_ANNOTATION] = "file"
                annotations[CONFIG_SEEN_ANNOTATION] = seen_timestamp(datetime.now(timezone.utc))
                self.pods[uid] = pod
                log.info("static pod %s (%s) added from %s", full_name(pod), uid, self.source.path)
                self._run_pod(pod)

    async def _sync_mirrors(self) -> None:
        """One mirror per static pod: outdated or deleting ones are deleted (and then created
        again, when the informer reports them gone); orphans go."""
        wanted = {full_name(pod): pod for pod in self.pods.values()}
        for name, pod in wanted.items():
            mirror = self.mirrors.get(name)
            if mirror is None:
                await self._create_mirror(pod)
            elif mirror["metadata"].get("deletionTimestamp") or not is_mirror_pod_of(mirror, pod):
                await self._delete_mirror(mirror)
        for name, mirror in list(self.mirrors.items()):
            if name not in wanted:
                await self._delete_mirror(mirror)

    async def _create_mirror(self, pod: Obj) -> None:
        """CreateMirrorPod, once the Node exists (its UID is the owner) and is not being deleted."""
        try:
            node = await self.client.get(NODES, pod["spec"]["nodeName"])
        except (StatusError, OSError) as error:
            log.debug("no mirror pod for %s yet, no node info from the cluster: %s", full_name(pod), error)
            return
        if node["metadata"].get("deletionTimestamp"):
            return
        try:
            created = await self.client.create(PODS, mirror_pod(pod, node), pod["metadata"]["namespace"])
        except StatusError as error:
            if error.reason != "AlreadyExists":  # else the informer has not shown it yet
                log.warning("failed creating a mirror pod for %s: %s", full_name(pod), error.message)
            return
        except OSError as error:
            log.warning("failed creating a mirror pod for %s: %s", full_name(pod), error)
            return
        self.mirror_changed(created)

    async def _delete_mirror(self, mirror: Obj) -> None:
        """DeleteMirrorPod: at once, and only this mirror (UID precondition)."""
        meta = mirror["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
        except StatusError as error:
            if error.code not in (404, 409):
                log.warning("failed deleting mirror pod %s: %s", full_name(mirror), error.message)
        except OSError as error:
            log.warning("failed deleting mirror pod %s: %s", full_name(mirror), error)
