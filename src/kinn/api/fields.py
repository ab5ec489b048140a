"""Field selectors, as k8s.io/apimachinery/pkg/fields plus each registry's selectable fields.

`parse_field_selector` reads `?fieldSelector=` (`a=b,c!=d`, `\\,` `\\=` `\\\\` escapes) exactly as
`fields.ParseSelector`, then checks every field label against the kind's field-label conversion
the way the list handler does, so an unknown label is the same 400 upstream sends
(`field label not supported: spec.foo`). Matching reads the object through per-kind getters that
mirror each registry's `ToSelectableFields`: values are strings (`"true"`, `"3"`), a missing
field reads as `""`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from kinn.api.resources import Resource
from kinn.api.selectors import SelectorError

Getter = Callable[[Mapping[str, Any]], str]


def _path(*keys: str) -> Getter:
    """A getter for a nested string field; absent → ``."""

    def get(obj: Mapping[str, Any]) -> str:
        value: Any = obj
        for key in keys:
            # Objects are decoded JSON: dict, not the Mapping ABC, whose isinstance check through
            # typing's alias cost more than the lookup itself on every watch event's selector.
            if not isinstance(value, dict):
                return ""
            value = value.get(key)
        return _as_field_value(value)

    return get


def _as_field_value(value: Any) -> str:
    """How Go formats a selectable field: FormatBool, Itoa, or the string itself."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _int_path(*keys: str) -> Getter:
    """An int32 status counter: absent is 0, as the internal type's zero value."""
    read = _path(*keys)
    return lambda obj: read(obj) or "0"


def _first_pod_ip(pod: Mapping[str, Any]) -> str:
    status = pod.get("status") or {}
    if status.get("podIP"):
        return status["podIP"]
    ips = status.get("podIPs") or []
    return ips[0].get("ip", "") if ips else ""


def _host_network(pod: Mapping[str, Any]) -> str:
    return "true" if (pod.get("spec") or {}).get("hostNetwork") else "false"


def _core_event_source(event: Mapping[str, Any]) -> str:
    # `source` falls back to the reporting controller for events written through events.k8s.io.
    return (event.get("source") or {}).get("component") or event.get("reportingComponent") or ""


_NAME = {"metadata.name": _path("metadata", "name")}
_META = {**_NAME, "metadata.namespace": _path("metadata", "namespace")}

_POD = {
    **_META,
    "spec.nodeName": _path("spec", "nodeName"),
    "spec.restartPolicy": _path("spec", "restartPolicy"),
    "spec.schedulerName": _path("spec", "schedulerName"),
    "spec.serviceAccountName": _path("spec", "serviceAccountName"),
    "spec.hostNetwork": _host_network,
    "status.phase": _path("status", "phase"),
    "status.podIP": _first_pod_ip,
    "status.nominatedNodeName": _path("status", "nominatedNodeName"),
}

_CORE_EVENT = {
    **_META,
    **{f"involvedObject.{f}": _path("involvedObject", f)
       for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "reason": _path("reason"),
    "reportingComponent": _path("reportingComponent"),
    "source": _core_event_source,
    "type": _path("type"),
}

# events.k8s.io/v1 accepts its own field names and maps them onto the core ones; the object read
# here is in the events.k8s.io shape, so each name reads its own field.
_EVENTS_V1_EVENT = {
    **_META,
    **{f"regarding.{f}": _path("regarding", f)
       for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "reason": _path("reason"),
    "reportingController": _path("reportingController"),
    "type": _path("type"),
}


@dataclass(frozen=True)
class FieldSpec:
    """The field labels one kind accepts, and how a rejected label is worded.

    `registered` says whether the kind has its own field-label conversion function upstream
    (`field label not supported: X`) or falls back to `DefaultMetaV1FieldSelectorConversion`.
    """

    getters: Mapping[str, Getter]
    registered: bool = True
    aliases: Mapping[str, str] | None = None

    def convert(self, label: str) -> str:
        label = (self.aliases or {}).get(label, label)
        if label in self.getters:
            return label
        if self.registered:
            raise SelectorError(f"field label not supported: {label}")
        raise SelectorError(f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"')


_DEFAULT = FieldSpec(_META, registered=False)

FIELD_SPECS: dict[tuple[str, str], FieldSpec] = {
    # Old clients send `spec.host`; the pod conversion renames it.
    ("", "Pod"): FieldSpec(_POD, aliases={"spec.host": "spec.nodeName"}),
    ("", "Event"): FieldSpec(_CORE_EVENT),
    ("events.k8s.io", "Event"): FieldSpec(_EVENTS_V1_EVENT),
    ("", "Node"): FieldSpec({**_NAME, "spec.unschedulable": _path("spec", "unschedulable")}),
    ("", "Namespace"): FieldSpec({**_NAME, "status.phase": _path("status", "phase")}),
    ("", "Secret"): FieldSpec({**_META, "type": _path("type")}),
    ("", "Service"): FieldSpec(_META),
    ("", "ReplicationController"): FieldSpec({**_META, "status.replicas": _int_path("status", "replicas")}),
    ("apps", "ReplicaSet"): FieldSpec({**_META, "status.replicas": _int_path("status", "replicas")}),
    ("batch", "Job"): FieldSpec({**_META, "status.successful": _int_path("status", "succeeded")}),
}


def field_spec(resource: Resource) -> FieldSpec:
    return FIELD_SPECS.get((resource.group, resource.kind), _DEFAULT)


@dataclass(frozen=True)
class Term:
    field: str
    value: str
    negated: bool = False


class FieldSelector:
    """An AND of `field=value` / `field!=value` terms bound to one kind's getters."""

    __slots__ = ("terms", "getters", "_positions")

    def __init__(self, terms: tuple[Term, ...], getters: Mapping[str, Getter]) -> None:
        self.terms = terms
        self.getters = getters
        order = list(getters)
        self._positions = tuple(order.index(term.field) for term in terms)

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for term in self.terms:
            if (self.getters[term.field](obj) == term.value) == term.negated:
                return False
        return True

    def values(self, obj: Mapping[str, Any]) -> tuple[str, ...]:
        """Every selectable field of `obj`, in the kind's order: what `matches_values` reads.

        The API server keeps these per stored object so that filtering never decodes it; the
        strings are interned, since most (phases, policies, node names) repeat across objects.
        """
        return tuple(sys.intern(get(obj)) for get in self.getters.values())

    def matches_values(self, values: tuple[str, ...]) -> bool:
        """`matches` over `values(obj)` of an object of this selector's kind."""
        for term, position in zip(self.terms, self._positions):
            if (values[position] == term.value) == term.negated:
                return False
        return True

    def exact_value(self, field: str) -> str | None:
        """The value `field` must equal, if a term pins it (`RequiresExactMatch`), for index lookups."""
        for term in self.terms:
            if term.field == field and not term.negated:
                return term.value
        return None

    def __str__(self) -> str:
        return ",".join(f"{t.field}{'!=' if t.negated else '='}{escape_value(t.value)}" for t in self.terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


# --- `fields.ParseSelector` ---

_OPERATORS = ("!=", "==", "=")


def _split_terms(text: str) -> list[str]:
    """Split on commas not escaped by a backslash; the escapes stay for `unescape_value`."""
    terms, start, in_slash = [], 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """The first operator occurrence splits; `==` is tried before `=` so no `=` leaks into the value."""
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def unescape_value(value: str) -> str:
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go formats the rune with %v: its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _parse_terms(text: str) -> list[Term]:
    terms = []
    # Upstream sorts the raw terms first, which decides which bad term an error names.
    for part in sorted(_split_terms(text)) if text else []:
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        terms.append(Term(field, unescape_value(raw), negated=op == "!="))
    return terms


def parse_field_selector(text: str, resource: Resource) -> FieldSelector:
    """Parse `?fieldSelector=` for `resource`; raises `SelectorError` (400) as the list handler does."""
    spec = field_spec(resource)
    terms = tuple(Term(spec.convert(t.field), t.value, t.negated) for t in _parse_terms(text))
    return FieldSelector(terms, spec.getters)
