"""Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get`.

kubectl asks with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` and prints the columns
the server chooses, so these are upstream's column definitions and cell values
(pkg/printers/internalversion). Kinds upstream has no printer for get the API server's default
table: NAME and CREATED AT.

The API server calls `to_table(resource, objects, include_object=…, list_meta=…)` with the
objects already in `resource`'s version, for a list (pass `list_meta`) or one object.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from kinn.api.errors import bad_request
from kinn.api.printers import cluster, core, pods, workloads
from kinn.api.printers.columns import META, NAME, Column, Printer, column_definitions, printer
from kinn.api.printers.format import Clock, name_of, rfc3339
from kinn.api.resources import Resource

INCLUDE_OBJECT_VALUES = ("None", "Metadata", "Object")


def _default_row(obj: Mapping[str, Any], clock: Clock) -> list[Any]:
    return [name_of(obj), rfc3339((obj.get("metadata") or {}).get("creationTimestamp"))]


# rest.NewDefaultTableConvertor: what LimitRange, Role, ClusterRole … print.
DEFAULT = printer((NAME, Column("Created At", "date", (META, "creationTimestamp"))), _default_row)

PRINTERS: dict[tuple[str, str], Printer] = {**pods.PRINTERS, **core.PRINTERS, **workloads.PRINTERS, **cluster.PRINTERS}


def printer_for(resource: Resource) -> Printer:
    return PRINTERS.get((resource.group, resource.kind), DEFAULT)


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object == "Object":
        return obj
    if include_object == "None":
        return None
    # The metadata dict is shared, not copied: the table is serialised right away.
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def _table_metadata(objects: Sequence[Mapping[str, Any]], list_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """A list's resourceVersion/continue/remainingItemCount, or one object's resourceVersion."""
    if list_meta is None:
        rv = (objects[0].get("metadata") or {}).get("resourceVersion") if len(objects) == 1 else None
        return {"resourceVersion": rv} if rv else {}
    keys = ("resourceVersion", "continue", "remainingItemCount")
    return {k: list_meta[k] for k in keys if list_meta.get(k) not in (None, "")}


def to_table(
    resource: Resource,
    objects: Sequence[Mapping[str, Any]],
    *,
    include_object: str = "Metadata",
    now: datetime | None = None,
    list_meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `Table` for `objects` of `resource`; `includeObject` as the `?includeObject=` parameter."""
    if include_object not in INCLUDE_OBJECT_VALUES:
        raise bad_request(f'unrecognized includeObject value: "{include_object}"')
    table_printer = printer_for(resource)
    clock = Clock(now)
    row, conditions = table_printer.row, table_printer.conditions
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj, clock)}
        if conditions is not None and (row_conditions := conditions(obj)):
            entry["conditions"] = row_conditions
        entry["object"] = _row_object(obj, include_object)
        rows.append(entry)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _table_metadata(objects, list_meta),
        "columnDefinitions": list(column_definitions(table_printer.columns)),
        "rows": rows,
    }
