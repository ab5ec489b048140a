"""core/v1 Event ⇄ events.k8s.io/v1 Event, as pkg/apis/events/v1/conversion.go.

Both APIs serve the same stored objects, kept in the core/v1 form (as upstream stores them), so a
kubelet's `reason`/`message` event reads back as `reason`/`note` through events.k8s.io and vice
versa. Output follows Go's JSON encoding of each version: a zero `metav1.Time` is written as
`null` (`omitempty` does not drop structs), an empty struct as `{}`, and fields without
`omitempty` (`reportingComponent`, `reportingInstance` in core/v1) are always present.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

CORE_API_VERSION = "v1"
EVENTS_API_VERSION = "events.k8s.io/v1"

# (core/v1 field, events.k8s.io/v1 field) pairs that carry the same value under another name.
_RENAMED = (
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("count", "deprecatedCount"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("reportingComponent", "reportingController"),
)
_SHARED = ("metadata", "eventTime", "series", "related", "action", "reason", "type", "reportingInstance")


def _convert(event: Obj, api_version: str, renames: dict[str, str]) -> Obj:
    out: Obj = {"kind": "Event", "apiVersion": api_version}
    for key, value in event.items():
        if key in _SHARED:
            out[key] = value
        elif key in renames:
            out[renames[key]] = value
    return out


def _drop_empty(event: Obj, keys: tuple[str, ...]) -> None:
    """Fields tagged `omitempty` that Go drops when they hold the zero value."""
    for key in keys:
        if event.get(key) in ("", 0, None):
            event.pop(key, None)


def to_events_v1(core_event: Obj) -> Obj:
    """The events.k8s.io/v1 view of a stored core/v1 Event."""
    out = _convert(core_event, EVENTS_API_VERSION, {core: events for core, events in _RENAMED})
    out.setdefault("eventTime", None)
    out.setdefault("deprecatedFirstTimestamp", None)
    out.setdefault("deprecatedLastTimestamp", None)
    if not out.get("regarding"):
        out["regarding"] = {}
    if not out.get("deprecatedSource"):
        out["deprecatedSource"] = {}
    _drop_empty(out, ("reportingController", "reportingInstance", "action", "reason", "note", "type", "deprecatedCount"))
    return out


def from_events_v1(event: Obj) -> Obj:
    """The core/v1 form (the stored form) of an events.k8s.io/v1 Event."""
    out = _convert(event, CORE_API_VERSION, {events: core for core, events in _RENAMED})
    out.setdefault("involvedObject", {})
    out.setdefault("source", {})
    out.setdefault("firstTimestamp", None)
    out.setdefault("lastTimestamp", None)
    out.setdefault("eventTime", None)
    out.setdefault("reportingComponent", "")
    out.setdefault("reportingInstance", "")
    _drop_empty(out, ("reason", "message", "type", "action", "count"))
    return out
