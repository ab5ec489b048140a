"""Label and field selection of a list or watch request."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from kinn.api.fields import FieldSelector, Getter, parse_field_selector
from kinn.api.resources import Resource
from kinn.api.selectors import LabelSelector, parse_label_selector
from kinn.storage.interface import StoredObject, Trigger

# The fields upstream's registries declare as watch-cache triggers (pods: NodeNameTriggerFunc).
TRIGGER_FIELDS = {("", "pods"): "spec.nodeName"}

Obj = dict[str, Any]


class Selectable:
    """What selectors read of one stored revision; cached on it as `StoredObject.selectable`.

    The store keeps objects encoded, so a list or watch with selectors would decode every object
    it scans, on every request; these few strings are all filtering needs, read once per
    revision. `getters` names the field set `fields` follows: one stored Event is served by two
    endpoints (core and events.k8s.io) with different selectable fields.
    """

    __slots__ = ("getters", "labels", "fields")

    def __init__(self, selector: FieldSelector, obj: Obj) -> None:
        self.getters: Mapping[str, Getter] = selector.getters
        labels = obj.get("metadata", {}).get("labels")
        self.labels = {sys.intern(k): sys.intern(v) for k, v in labels.items()} if labels else None
        self.fields = selector.values(obj)


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

    def matches(self, stored: StoredObject, decode: Callable[[StoredObject], Obj]) -> bool:
        """Whether the object `decode(stored)` is selected; it is decoded only the first time."""
        seen = self._selectable(stored, decode)
        return self.labels.matches(seen.labels) and self.fields.matches_values(seen.fields)

    def _selectable(self, stored: StoredObject, decode: Callable[[StoredObject], Obj]) -> Selectable:
        seen = stored.selectable
        if seen is None or seen.getters is not self.fields.getters:
            seen = stored.selectable = Selectable(self.fields, decode(stored))
        return seen

    def trigger(self, resource: Resource, scope: str, decode: Callable[[StoredObject], Obj]) -> Trigger | None:
        """The watch index this selection pins, if any, over the resource's keys (`scope`):
        upstream's cacher indexes pods by spec.nodeName, so that each kubelet's watch is offered
        its own node's pods only."""
        field = TRIGGER_FIELDS.get((resource.group, resource.plural))
        value = self.fields.exact_value(field) if field else None
        if value is None:
            return None
        position = list(self.fields.getters).index(field)
        return Trigger(scope, value, lambda stored: self._selectable(stored, decode).fields[position])

    def exact_name(self) -> str | None:
        """`metadata.name=X` lets a list read one key instead of scanning (kubectl wait, delete -w)."""
        return self.fields.exact_value("metadata.name")
