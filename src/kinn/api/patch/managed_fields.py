"""managedFields bookkeeping, as kube-apiserver's fieldmanager does it on every write.

Each entry records which fields one manager owns (`fieldsV1`). A manager's identity is its
name, operation and subresource, plus the apiVersion for `Update` entries. An update takes the
fields it changed away from every other manager and adds them to its own `Update` entry (whose
`time` it refreshes); entries left empty disappear. Entries are ordered as upstream sorts them:
`Apply` before `Update`, then by time, manager, apiVersion and subresource.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from kinn.api.openapi import schemas
from kinn.api.openapi.schemas import Schema
from kinn.api.patch import typed
from kinn.api.patch.fieldpath import FieldSet, Path, from_fields_v1, path, to_fields_v1, without_prefixes
from kinn.api.patch.structured import Comparison, compare
from kinn.api.timestamps import now_rfc3339

APPLY = "Apply"
UPDATE = "Update"

# validation.FieldManagerMaxLength
FIELD_MANAGER_MAX_LENGTH = 128

# Fields nobody owns (upstream's stripMetaManager): identity and bookkeeping of the object.
STRIPPED: frozenset[Path] = frozenset(
    {
        path("apiVersion"),
        path("kind"),
        path("metadata"),
        *(
            path("metadata", name)
            for name in (
                "name",
                "namespace",
                "creationTimestamp",
                "selfLink",
                "uid",
                "clusterName",
                "generation",
                "managedFields",
                "resourceVersion",
            )
        ),
    }
)


@dataclass
class ManagedEntry:
    """One decoded managedFields entry."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str | None = None
    subresource: str = ""
    # The FieldsV1 this entry was decoded from, valid while `fields` is still the very set decoded
    # with it: most writes change one manager's fields, and encoding the others' unchanged sets
    # again was a third of the bookkeeping's cost. Anything that changes an entry's fields assigns
    # a new set (never mutates it), which is what invalidates this.
    decoded: tuple[FieldSet, dict[str, Any]] | None = field(default=None, compare=False, repr=False)

    def identity(self) -> tuple[str, str, str, str]:
        return (self.manager, self.operation, self.api_version if self.operation == UPDATE else "", self.subresource)

    def describe(self) -> str:
        """How upstream names the manager in conflict messages."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time is not None:
            entry["time"] = self.time
        entry["fieldsType"] = "FieldsV1"
        if self.decoded is not None and self.decoded[0] is self.fields:
            entry["fieldsV1"] = self.decoded[1]
        else:
            entry["fieldsV1"] = to_fields_v1(self.fields)
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def default_field_manager(user_agent: str) -> str:
    """The manager of a write without `fieldManager`: the User-Agent up to its first `/`,
    printable characters only, at most 128 of them (`kubectl`, `OpenAPI-Generator`, …)."""
    prefix = user_agent.split("/", 1)[0]
    printable = [ch for ch in prefix if ch == " " or not unicodedata.category(ch).startswith(("C", "Z"))]
    return "".join(printable)[:FIELD_MANAGER_MAX_LENGTH]


def decode_managed_fields(entries: Any) -> list[ManagedEntry]:
    """Raise ValueError for anything upstream would fail to decode."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise ValueError("managedFields must be a list")
    decoded: dict[tuple[str, str, str, str], ManagedEntry] = {}
    for raw in entries:
        if not isinstance(raw, dict):
            raise ValueError("managedFields entries must be objects")
        if raw.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise ValueError(f"can only decode FieldsV1 formatted managedFields, got: {raw.get('fieldsType')}")
        fields_v1 = raw.get("fieldsV1") or {}
        fields = from_fields_v1(fields_v1)
        entry = ManagedEntry(
            manager=raw.get("manager", ""),
            operation=raw.get("operation", ""),
            api_version=raw.get("apiVersion", ""),
            fields=fields,
            time=raw.get("time"),
            subresource=raw.get("subresource", ""),
            decoded=(fields, fields_v1),
        )
        decoded[entry.identity()] = entry
    return list(decoded.values())


def encode_managed_fields(entries: Iterable[ManagedEntry]) -> list[dict[str, Any]]:
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.encode() for e in kept]


def object_schema(obj: dict[str, Any]) -> Schema | None:
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    return schemas.for_kind(group, version, obj.get("kind", ""))


def without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of `obj` whose metadata lacks managedFields (it is never compared)."""
    out = dict(obj)
    metadata = out.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        out["metadata"] = {k: v for k, v in metadata.items() if k != "managedFields"}
    return out


_EPHEMERAL_CONTAINERS = path("spec", "ephemeralContainers")


def reset_fields(paths: FieldSet, subresource: str, schema: Schema | None) -> FieldSet:
    """Drop fields the endpoint resets (upstream's per-strategy ResetFields): the main resource
    does not own `status`, the status subresource does not own `spec`, and pods/ephemeralcontainers
    owns nothing but spec.ephemeralContainers (its strategy's include filter)."""
    if subresource == "" and typed.is_declared_field(schema, "status"):
        return without_prefixes(paths, [path("status")])
    if subresource == "status":
        return without_prefixes(paths, [path("spec")])
    if subresource == "ephemeralcontainers":
        return {p for p in paths if p[:len(_EPHEMERAL_CONTAINERS)] == _EPHEMERAL_CONTAINERS}
    return paths


def strip_meta(paths: FieldSet) -> FieldSet:
    return paths - STRIPPED


def release(entries: Iterable[ManagedEntry], changed: FieldSet, removed: FieldSet) -> None:
    """Take fields someone else just changed or removed away from these managers."""
    for entry in entries:
        if not (entry.fields.isdisjoint(changed) and entry.fields.isdisjoint(removed)):
            entry.fields = entry.fields - changed - removed


def filtered(comparison: Comparison, subresource: str, schema: Schema | None) -> Comparison:
    return Comparison(
        added=reset_fields(comparison.added, subresource, schema),
        modified=reset_fields(comparison.modified, subresource, schema),
        removed=reset_fields(comparison.removed, subresource, schema),
    )


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str,
    api_version: str,
    subresource: str = "",
    now: str | None = None,
    *,
    schema: Schema | None = None,
) -> None:
    """Record a create/update/patch by `manager` in `new.metadata.managedFields` (in place).

    `old` is the stored object (None on create, which is compared against the kind's zero
    object); the kind's schema is looked up from `new`'s apiVersion and kind unless given.
    """
    if operation != UPDATE:
        raise ValueError(f"update_managed_fields records Update operations, not {operation}")
    schema = schema if schema is not None else object_schema(new)
    entries = _base_entries(old, new, subresource)
    before = without_managed_fields(old) if old is not None else typed.zero_object(schema)
    comparison = filtered(compare(before, without_managed_fields(new), schema), subresource, schema)
    release(entries, comparison.changed(), comparison.removed)
    owned = strip_meta(comparison.changed())
    if owned:
        mine = ManagedEntry(manager, UPDATE, api_version, set(), subresource=subresource)
        for entry in entries:
            if entry.identity() == mine.identity():
                mine = entry
                break
        else:
            entries.append(mine)
        if not owned <= mine.fields:
            mine.fields = mine.fields | owned
        mine.time = now or now_rfc3339()
    new.setdefault("metadata", {})["managedFields"] = encode_managed_fields(entries)
    if not new["metadata"]["managedFields"]:
        del new["metadata"]["managedFields"]


def _base_entries(old: dict[str, Any] | None, new: dict[str, Any], subresource: str) -> list[ManagedEntry]:
    """The request's own managedFields win (so clients can edit or reset them, `[{}]` clears
    them), unless it sent none, sent garbage, or wrote a subresource: then the stored ones."""
    if not subresource:
        try:
            entries = decode_managed_fields(new.get("metadata", {}).get("managedFields"))
        except ValueError:
            entries = []
        if entries:
            return entries
    return live_entries(old)


def live_entries(obj: dict[str, Any] | None) -> list[ManagedEntry]:
    if obj is None:
        return []
    try:
        return decode_managed_fields(obj.get("metadata", {}).get("managedFields"))
    except ValueError:
        return []

