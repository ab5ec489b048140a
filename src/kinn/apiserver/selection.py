"""Label and field selection of a list or watch request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kinn.api.fields import FieldSelector, parse_field_selector
from kinn.api.resources import Resource
from kinn.api.selectors import LabelSelector, parse_label_selector

Obj = dict[str, Any]


@dataclass(frozen=True)
class Selection:
    labels: LabelSelector
    fields: FieldSelector

    @classmethod
    def from_query(cls, query: Any, resource: Resource) -> "Selection":
        return cls(
            parse_label_selector(query.get("labelSelector", "")),
            parse_field_selector(query.get("fieldSelector", ""), resource),
        )

    @property
    def empty(self) -> bool:
        return self.labels.empty and self.fields.empty

    def matches(self, obj: Obj) -> bool:
        return self.labels.matches(obj.get("metadata", {}).get("labels")) and self.fields.matches(obj)

    def exact_name(self) -> str | None:
        """`metadata.name=X` lets a list read one key instead of scanning (kubectl wait, delete -w)."""
        return self.fields.exact_value("metadata.name")
