"""The scheduler cache (internal/cache/cache.go): nodes and the pods on them, including assumed pods.

A pod is *assumed* onto its node as soon as the scheduling cycle picks it, before the binding
reaches the API server, so the next cycle already counts its requests. The informer's update
(now with spec.nodeName) confirms it; a failed binding forgets it. The cache maintains one
Snapshot incrementally — every change touches only the NodeInfo concerned.
"""

from __future__ import annotations

from typing import Any

from kinn.scheduler.nodeinfo import PodInfo, Snapshot

Obj = dict[str, Any]


class Cache:
    def __init__(self) -> None:
        self.snapshot = Snapshot()
        self._pods: dict[str, tuple[PodInfo, str]] = {}
        self._assumed: set[str] = set()

    # -- nodes ---------------------------------------------------------------------------------------

    def add_node(self, node: Obj) -> None:
        self.snapshot.set_node(node)

    def remove_node(self, node: Obj) -> None:
        self.snapshot.remove_node(node["metadata"]["name"])

    # -- pods ----------------------------------------------------------------------------------------

    def assume_pod(self, info: PodInfo, node_name: str) -> None:
        self._place(info, node_name)
        self._assumed.add(info.key)

    def forget_pod(self, key: str) -> None:
        if key in self._assumed:
            self._assumed.discard(key)
            self._remove(key)

    def is_assumed(self, key: str) -> bool:
        return key in self._assumed

    def add_pod(self, pod: Obj) -> None:
        """An assigned pod from the informer (add or update): replaces any assumed or older version."""
        info = PodInfo(pod)
        self._assumed.discard(info.key)
        self._place(info, pod["spec"]["nodeName"])

    def remove_pod(self, pod: Obj) -> None:
        key = f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"
        self._assumed.discard(key)
        self._remove(key)

    def _place(self, info: PodInfo, node_name: str) -> None:
        self._remove(info.key)
        self._pods[info.key] = (info, node_name)
        self.snapshot.add_pod(info, node_name)

    def _remove(self, key: str) -> None:
        entry = self._pods.pop(key, None)
        if entry is not None:
            self.snapshot.remove_pod(key, entry[1])
