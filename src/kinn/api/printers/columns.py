"""Column definitions, worded as upstream's `metav1.TableColumnDefinition`s.

Most upstream descriptions are `SwaggerDoc()` texts of API fields; kinn reads the same texts from
the vendored OpenAPI definitions instead of copying them, so a column's description always
matches the field's documentation that `kubectl explain` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

from kinn.api.openapi.schemas import definitions

# Definition names the descriptions come from.
META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."

Doc = str | tuple[str, str]


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    doc: Doc = ""
    priority: int = 0
    format: str = ""


def description(doc: Doc) -> str:
    """A literal description, or the OpenAPI description of (definition, field)."""
    if isinstance(doc, str):
        return doc
    definition, field = doc
    schema = definitions().get(definition if "." in definition else CORE + definition, {})
    return schema.get("properties", {}).get(field, {}).get("description", "")


NAME = Column("Name", format="name", doc=(META, "name"))
AGE = Column("Age", doc=(META, "creationTimestamp"))
CONTAINERS = Column("Containers", priority=1, doc="Names of each container in the template.")
IMAGES = Column("Images", priority=1, doc="Images referenced by each container in the template.")


def replica_columns(spec: str, status: str) -> tuple[Column, ...]:
    """DESIRED CURRENT READY of replication controllers and replica sets."""
    return (Column("Desired", "integer", (spec, "replicas")), Column("Current", "integer", (status, "replicas")),
            Column("Ready", "integer", (status, "readyReplicas")))


Cells = list[Any]
RowFunc = Callable[[Mapping[str, Any], Any], Cells]
ConditionsFunc = Callable[[Mapping[str, Any]], list[dict[str, str]] | None]


@dataclass(frozen=True)
class Printer:
    """One kind's columns and the function computing a row's cells (always the wide set, as the
    API server generates tables with `Wide: true` and lets the client drop priority-1 columns)."""

    columns: tuple[Column, ...]
    row: RowFunc
    conditions: ConditionsFunc | None = None


def printer(columns: Sequence[Column], row: RowFunc, conditions: ConditionsFunc | None = None) -> Printer:
    return Printer(tuple(columns), row, conditions)


@lru_cache(maxsize=None)
def column_definitions(columns: tuple[Column, ...]) -> tuple[dict[str, Any], ...]:
    """The JSON form; computed once per kind because descriptions come from the OpenAPI document."""
    return tuple(
        {"name": c.name, "type": c.type, "format": c.format, "description": description(c.doc), "priority": c.priority}
        for c in columns
    )
