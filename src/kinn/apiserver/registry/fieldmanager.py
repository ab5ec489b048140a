"""Who changed which fields: managedFields bookkeeping on every write.

The set arithmetic lives in `kinn.api.patch.managed_fields`; this adapter takes the manager from
the request's `fieldManager`, or derives it from the User-Agent as upstream does when the client
names none (`kubectl-client-side-apply`, `kubectl-edit`, `OpenAPI-Generator` for the Python client).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kinn.api.patch.managed_fields import default_field_manager, update_managed_fields
from kinn.api.patch.typed import SchemaError
from kinn.api.resources import Resource
from kinn.api.timestamps import rfc3339

if TYPE_CHECKING:
    from kinn.apiserver.registry.generic import RequestContext

log = logging.getLogger("kinn.apiserver.fieldmanager")


def manager_name(ctx: "RequestContext") -> str:
    return ctx.field_manager or default_field_manager(ctx.user_agent)


def on_write(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    ctx: "RequestContext",
    resource: Resource,
    now: datetime,
    subresource: str = "",
) -> None:
    """Record the write in `new`'s managedFields. An object the typed walk cannot follow (a keyed
    list item without its key: a container without a name) loses its managedFields instead, as
    upstream's UpdateNoErrors does, so that validation, which runs next, answers with its 422."""
    try:
        update_managed_fields(
            old, new, manager_name(ctx), "Update", resource.api_version, subresource=subresource,
            now=rfc3339(now),
        )
    except SchemaError as err:
        log.warning("failed to update managedFields of %s %s: %s", resource.kind,
                    new.get("metadata", {}).get("name", ""), err)
        new.get("metadata", {}).pop("managedFields", None)
