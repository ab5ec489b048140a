"""The ingress controller's reconcile loop (ingress-nginx's NGINXController.syncIngress).

Every change to an Ingress, IngressClass, Service, EndpointSlice or TLS Secret enqueues the one key
there is — the whole nginx configuration is a function of all of them. A sync builds and renders
the configuration; a text equal to the running one changes nothing, a new one is tested with
`nginx -t` and only then written and reloaded. A text nginx rejects keeps the last good
configuration serving and records a Warning `RELOAD` event on the controller's pod (`Error
reloading NGINX: …`), once per rejected text. The sync ends by publishing the controller
Service's address in the status of each Ingress it serves. If nginx dies, the controller exits,
so the kubelet restarts the container, as ingress-nginx's does.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kinn.api.errors import StatusError
from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformerFactory, object_key, strip_managed_fields
from kinn.client.rest import Client, resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.ingress import status
from kinn.ingress.certificates import CertificateError, fake_certificate, from_secret
from kinn.ingress.configuration import ClusterObjects, build
from kinn.ingress.ingressclass import ClassConfiguration, is_ours
from kinn.ingress.model import Certificate, Configuration
from kinn.ingress.nginx import Nginx, NginxError
from kinn.ingress.template import render
from kinn.proxy.serviceport import SERVICE_NAME_LABEL

Obj = dict[str, Any]
log = logging.getLogger("kinn.ingress")

INGRESSES = resource("networking.k8s.io/v1", "ingresses")
INGRESS_CLASSES = resource("networking.k8s.io/v1", "ingressclasses")
SERVICES = resource("v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")
SECRETS = resource("v1", "secrets")
PODS = resource("v1", "pods")
COMPONENT = "nginx-ingress-controller"  # ingress-nginx's event source
SYNC_KEY = "nginx.conf"


@dataclass(frozen=True)
class ControllerOptions:
    classes: ClassConfiguration = ClassConfiguration()
    publish_service: str = ""  # namespace/name of the Service whose address the Ingresses get
    pod_name: str = ""  # the controller's pod (POD_NAME, POD_NAMESPACE): where RELOAD events go
    pod_namespace: str = ""


class IngressController(Controller):
    name = "ingress-nginx"

    def __init__(self, ctx: ControllerContext, options: ControllerOptions, nginx: Nginx) -> None:
        super().__init__(ctx)
        self.options, self.nginx = options, nginx
        self.recorder = EventRecorder(ctx.client, COMPONENT)
        sync = self.enqueue_handler(lambda obj: SYNC_KEY)
        self.ingresses = self.informer(INGRESSES, EventHandler(
            on_add=self._ingress_changed, on_update=lambda old, new: self._ingress_changed(new),
            on_delete=lambda obj: self.queue.add(SYNC_KEY)))
        self.classes = self.informer(INGRESS_CLASSES, sync)
        self.services = self.informer(SERVICES, sync)
        self.slices = self.informer(ENDPOINT_SLICES, sync)
        self.informer(SECRETS, EventHandler(on_add=self._secret_changed,
                                            on_update=lambda old, new: self._secret_changed(new),
                                            on_delete=self._secret_deleted))
        self.fake_certificate = fake_certificate()
        self.certificates: dict[str, Certificate] = {}  # valid TLS Secrets by key, parsed once per change
        self.applied: str | None = None  # the configuration nginx runs
        self.rejected: str | None = None  # the last text `nginx -t` refused
        self.scheduled: set[str] = set()  # Ingresses added or changed since the last sync
        self.pod: Obj | None = None
        self._nginx_started = asyncio.Event()

    # -- events ----------------------------------------------------------------------------

    def _ours(self) -> list[Obj]:
        classes = {object_key(c): c for c in self.classes.indexer.list()}
        return [ingress for ingress in self.ingresses.indexer.list() if is_ours(ingress, classes, self.options.classes)]

    def _ingress_changed(self, ingress: Obj) -> None:
        self.scheduled.add(object_key(ingress))
        self.queue.add(SYNC_KEY)

    def _secret_changed(self, secret: Obj) -> None:
        key = object_key(secret)
        if "tls.crt" not in (secret.get("data") or {}):
            if self.certificates.pop(key, None) is not None:
                self.queue.add(SYNC_KEY)
            return
        try:
            self.certificates[key] = from_secret(secret)
        except CertificateError as e:
            log.warning("Error obtaining X.509 certificate: %s", e)
            self.certificates.pop(key, None)
        self.queue.add(SYNC_KEY)

    def _secret_deleted(self, secret: Obj) -> None:
        if self.certificates.pop(object_key(secret), None) is not None:
            self.queue.add(SYNC_KEY)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ours = self._ours()
        await self._record_scheduled(ours)
        objects = ClusterObjects(ours, {object_key(s): s for s in self.services.indexer.list()},
                                 _by_service(self.slices.indexer.list()), dict(self.certificates))
        await self.apply(build(objects, self.fake_certificate))
        await self._publish_status(ours)

    async def apply(self, config: Configuration) -> None:
        """Make nginx run `config` if it renders to a new, valid text; see the module docstring."""
        text = render(config, self.nginx.directory)
        if text in (self.applied, self.rejected):
            return
        self.nginx.write_certificates(config.certificates())
        try:
            await self.nginx.test(text)
        except NginxError as e:
            self.rejected = text
            log.error("Unexpected failure reloading the backend, keeping the running configuration:\n%s", e)
            await self._pod_event("Warning", "RELOAD", f"Error reloading NGINX: {e}")
            if self.nginx.running:
                return
            config = build(ClusterObjects(()), self.fake_certificate)  # start serving at least the default
            text = render(config, self.nginx.directory)
            self.nginx.write_certificates(config.certificates())
        if self.nginx.running:
            await self.nginx.reload(text)
            log.info("Backend successfully reloaded")
            await self._pod_event("Normal", "RELOAD", "NGINX reload triggered due to a change in configuration")
        else:
            await self.nginx.start(text)
            self._nginx_started.set()
            log.info("nginx started")
        self.applied = text
        self.nginx.remove_certificates_except(config.certificates())

    async def _record_scheduled(self, ours: list[Obj]) -> None:
        """`Sync` `Scheduled for sync` on each of this controller's Ingresses that changed, as ingress-nginx's
        store records it for every add and update it accepts."""
        scheduled, self.scheduled = self.scheduled, set()
        for ingress in ours:
            if object_key(ingress) in scheduled:
                await self.recorder.event(ingress, "Normal", "Sync", "Scheduled for sync")

    async def _publish_status(self, ours: list[Obj]) -> None:
        if not self.options.publish_service:
            return
        addresses = status.published_addresses(self.services.indexer.get(self.options.publish_service))
        for ingress in ours:
            if status.needs_update(ingress, addresses):
                meta = ingress["metadata"]
                log.info("updating Ingress %s/%s status from %s to %s", meta["namespace"], meta["name"],
                         (ingress.get("status") or {}).get("loadBalancer", {}).get("ingress", []), addresses)
                await self.client.patch(INGRESSES, meta["name"], status.status_patch(addresses), meta["namespace"],
                                        subresource="status")

    async def _pod_event(self, type_: str, reason: str, message: str) -> None:
        if self.pod is not None:
            await self.recorder.event(self.pod, type_, reason, message)

    # -- running ---------------------------------------------------------------------------

    async def find_pod(self) -> None:
        """The controller's own pod, for its RELOAD events (not found: the events are only logged)."""
        if not self.options.pod_name:
            return
        try:
            self.pod = await self.client.get(PODS, self.options.pod_name, self.options.pod_namespace)
        except (StatusError, OSError) as e:  # events are best effort: the controller serves without them
            log.warning("cannot read pod %s/%s for events: %s", self.options.pod_namespace, self.options.pod_name, e)

    def background(self) -> list[Any]:
        return [self._supervise_nginx()]

    async def _supervise_nginx(self) -> None:
        await self._nginx_started.wait()
        code = await self.nginx.wait()
        raise RuntimeError(f"nginx exited unexpectedly with code {code}")


def _by_service(slices: Sequence[Obj]) -> dict[str, list[Obj]]:
    grouped: dict[str, list[Obj]] = {}
    for eps in slices:
        service = ((eps.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service:
            grouped.setdefault(f"{eps['metadata']['namespace']}/{service}", []).append(eps)
    return grouped


async def run_ingress_controller(client: Client, options: ControllerOptions, directory: Path) -> None:
    """Run until cancelled; nginx is stopped gracefully on the way out."""
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    factory = SharedInformerFactory(client, strip_managed_fields)
    nginx = Nginx(directory)
    controller = IngressController(ControllerContext(client, factory), options, nginx)
    await controller.find_pod()
    factory.start()
    try:
        await controller.run(workers=1)
    finally:
        await nginx.stop()
        await factory.stop()
