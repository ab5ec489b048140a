"""The service account controller (pkg/controller/serviceaccount): a `default` ServiceAccount in every
active namespace, created when the namespace appears and again whenever someone deletes it."""

from __future__ import annotations

from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.endpointsutil import is_namespace_terminating

Obj = dict[str, Any]
NAMESPACES = resource("v1", "namespaces")
SERVICE_ACCOUNTS = resource("v1", "serviceaccounts")
SERVICE_ACCOUNTS_TO_ENSURE = ("default",)


class ServiceAccountsController(Controller):
    name = "serviceaccount"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = self.informer(NAMESPACES, self.enqueue_handler()).indexer
        self.accounts = self.informer(SERVICE_ACCOUNTS, EventHandler(
            on_delete=lambda sa: self.queue.add(sa["metadata"]["namespace"]))).indexer

    async def sync(self, key: str) -> None:
        """syncNamespace: create each missing account; a Terminating namespace gets nothing."""
        namespace = self.namespaces.get(key)
        if namespace is None or namespace.get("status", {}).get("phase") != "Active":
            return
        for name in SERVICE_ACCOUNTS_TO_ENSURE:
            if self.accounts.get(f"{key}/{name}") is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": key}}
            try:
                await self.client.create(SERVICE_ACCOUNTS, account, key)
            except StatusError as e:
                if e.reason != "AlreadyExists" and not is_namespace_terminating(e):
                    raise
