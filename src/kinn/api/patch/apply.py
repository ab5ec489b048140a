"""Server-side apply (`application/apply-patch+yaml`), as kube-apiserver's fieldmanager does it.

The applied configuration is merged into the live object (or into nothing: apply creates),
following the schema's list types and keys. The applier then owns exactly the fields its
configuration sets. Fields it applied last time but no longer applies are removed from the
object unless another manager owns them. Changing a field another manager owns is a conflict
(409) unless `force`, which moves the field to the applier.

kubectl's own manager (`kubectl apply --server-side`) takes over from its client-side apply as
upstream's lastAppliedManager and lastAppliedUpdater let it: a conflict over a field whose live value
is still what the `last-applied-configuration` annotation says is no conflict, and that annotation
follows what kubectl applies, so a later client-side apply computes its patch from it.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from kinn.api.errors import StatusError, bad_request, unknown_error
from kinn.api.openapi.schemas import Schema
from kinn.api.patch.fieldpath import FieldSet, describe, iterate
from kinn.api.patch.managed_fields import (
    APPLY,
    ManagedEntry,
    encode_managed_fields,
    filtered,
    live_entries,
    release,
    reset_fields,
    strip_meta,
    without_managed_fields,
)
from kinn.api.patch.structured import compare, ensure_named_fields_are_members, merge, remove_items, to_field_set
from kinn.api.patch.typed import SchemaError
from kinn.api.timestamps import now_rfc3339

KUBECTL_MANAGER = "kubectl"  # `kubectl apply --server-side`'s field manager
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def server_side_apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    schema: Schema | None,
    api_version: str,
    now: str | None = None,
    *,
    subresource: str = "",
) -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None: the object is created)."""
    if not isinstance(applied, dict):
        raise bad_request("error decoding patch: the applied configuration must be an object")
    if applied.get("metadata", {}).get("managedFields") is not None:
        raise bad_request("metadata.managedFields must be nil")
    base = without_managed_fields(copy.deepcopy(live)) if live is not None else {}
    entries = live_entries(live)
    try:
        merged, _ = merge(base, copy.deepcopy(applied), schema)
        applier, others = _applier(entries, manager, api_version, subresource)
        previous = applier.fields
        applier.fields = reset_fields(to_field_set(applied, schema), subresource, schema)
        merged = _prune(merged, previous, [applier, *others], schema)
        changes = compare(base, merged, schema)
    except SchemaError as err:
        raise _typed_error(applied, err) from err
    visible = filtered(changes, subresource, schema)
    conflicts = [(entry, entry.fields & visible.changed()) for entry in others]
    conflicts = [(entry, fields) for entry, fields in conflicts if fields]
    if conflicts and manager == KUBECTL_MANAGER:
        allowed = _unchanged_since_last_applied(base, schema)
        conflicts = [(entry, fields - allowed) for entry, fields in conflicts if fields - allowed]
    if conflicts and not force:
        raise conflict_error(conflicts)
    release(others, visible.changed(), visible.removed)
    applier.fields = strip_meta(applier.fields)
    if not changes.is_same():
        applier.time = now or now_rfc3339()
    result = merged if not changes.is_same() else base
    metadata = result.setdefault("metadata", {})
    if manager == KUBECTL_MANAGER and LAST_APPLIED in (metadata.get("annotations") or {}):
        metadata["annotations"] = {**metadata["annotations"], LAST_APPLIED: _last_applied(applied)}
    metadata["managedFields"] = encode_managed_fields([applier, *others])
    if not metadata["managedFields"]:
        del metadata["managedFields"]
    return result


def _unchanged_since_last_applied(live: dict[str, Any], schema: Schema | None) -> FieldSet:
    """lastAppliedManager's allowed conflicts: the fields of the last client-side apply whose live
    values are still the ones it applied (none without the annotation or when it does not parse)."""
    text = (live.get("metadata", {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return set()
    try:
        last = orjson.loads(text)
        return to_field_set(last, schema) - compare(last, live, schema).modified
    except (orjson.JSONDecodeError, SchemaError):
        return set()


_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _last_applied(applied: dict[str, Any]) -> str:
    """lastAppliedUpdater's annotation: the applied configuration without that annotation, as Go's
    json.Encoder writes an unstructured object (keys sorted, HTML characters escaped, a newline)."""
    config = copy.deepcopy(applied)
    annotations = config.get("metadata", {}).get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(LAST_APPLIED, None)
    return orjson.dumps(config, option=orjson.OPT_SORT_KEYS).decode().translate(_GO_ESCAPES) + "\n"


def _typed_error(applied: dict[str, Any], err: SchemaError) -> StatusError:
    """Upstream returns an untyped error here, which reaches the client as a 500 with no reason."""
    metadata = applied.get("metadata", {})
    group_version, kind = applied.get("apiVersion", ""), applied.get("kind", "")
    subject = f"{metadata.get('namespace', '')}/{metadata.get('name', '')}; {group_version}, Kind={kind}"
    return unknown_error(f"failed to create typed patch object ({subject}): {err}")


def _applier(
    entries: list[ManagedEntry], manager: str, api_version: str, subresource: str
) -> tuple[ManagedEntry, list[ManagedEntry]]:
    """The applier's existing Apply entry (or a new one), and everyone else's."""
    wanted = ManagedEntry(manager, APPLY, api_version, set(), subresource=subresource)
    for entry in entries:
        if entry.identity() == wanted.identity():
            entry.api_version = api_version
            return entry, [e for e in entries if e is not entry]
    return wanted, list(entries)


def _prune(merged: Any, previous: FieldSet, entries: list[ManagedEntry], schema: Schema | None) -> Any:
    """Remove what the applier applied last time, no longer applies, and nobody else owns.
    Whole structs, list items and map entries go at once, as upstream's prune does."""
    if not previous:
        return merged
    kept: FieldSet = set().union(*(e.fields for e in entries))
    doomed = ensure_named_fields_are_members(previous, schema) - ensure_named_fields_are_members(kept, schema)
    return remove_items(merged, doomed, schema)


def conflict_error(conflicts: list[tuple[ManagedEntry, FieldSet]]) -> StatusError:
    """409 Conflict worded as upstream's fieldmanager NewConflictError."""
    conflicts = sorted(conflicts, key=lambda c: (c[0].manager, c[0].operation, c[0].api_version, c[0].subresource))
    flat = [(entry, p) for entry, fields in conflicts for p in iterate(fields)]
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {entry.describe()}", "field": describe(p)}
        for entry, p in flat
    ]
    if len(flat) == 1:
        entry, p = flat[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.describe()}: {describe(p)}"
    else:
        lines = []
        for entry, fields in conflicts:
            lines.append(f"conflicts with {entry.describe()}:")
            lines.extend(f"- {describe(p)}" for p in iterate(fields))
        message = f"Apply failed with {len(flat)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})
