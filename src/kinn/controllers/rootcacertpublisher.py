"""The root CA certificate publisher (pkg/controller/certificates/rootcacertpublisher): a
`kube-root-ca.crt` ConfigMap in every namespace holding the CA that signed the API server's
serving certificate, so pods can verify `kubernetes.default.svc` (the kube-api-access volume
projects its `ca.crt`). Recreated when deleted, restored when edited.

The CA is kube-controller-manager's --root-ca-file, which defaults to its kubeconfig's CA.
"""

from __future__ import annotations

from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.endpointsutil import is_namespace_terminating

Obj = dict[str, Any]
NAMESPACES = resource("v1", "namespaces")
CONFIGMAPS = resource("v1", "configmaps")
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.root_ca = (ctx.client.config.ca_data or b"").decode()
        self.informer(NAMESPACES, EventHandler(on_add=self._namespace_added, on_update=self._namespace_updated))
        self.configmaps = self.informer(CONFIGMAPS, EventHandler(
            on_update=lambda old, new: self._configmap_changed(new), on_delete=self._configmap_changed)).indexer

    def _namespace_added(self, namespace: Obj) -> None:
        self.queue.add(namespace["metadata"]["name"])

    def _namespace_updated(self, old: Obj, new: Obj) -> None:
        if (new.get("status") or {}).get("phase") == "Active":
            self.queue.add(new["metadata"]["name"])

    def _configmap_changed(self, configmap: Obj) -> None:
        if configmap["metadata"]["name"] == ROOT_CA_CONFIGMAP:
            self.queue.add(configmap["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        """syncNamespace: create the ConfigMap, or put back its data and description annotation."""
        data = {"ca.crt": self.root_ca}
        current = self.configmaps.get(f"{key}/{ROOT_CA_CONFIGMAP}")
        if current is None:
            configmap = {"apiVersion": "v1", "kind": "ConfigMap", "data": data,
                         "metadata": {"name": ROOT_CA_CONFIGMAP, "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}}}
            try:
                await self.client.create(CONFIGMAPS, configmap, key)
            except StatusError as e:  # a namespace gone or terminating is not retried
                if e.code != 404 and not is_namespace_terminating(e) and e.reason != "AlreadyExists":
                    raise
            return
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        annotations = {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}
        updated = {**current, "data": data, "metadata": {**current["metadata"], "annotations": annotations}}
        await self.client.update(CONFIGMAPS, updated)
