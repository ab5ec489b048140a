"""events.k8s.io/v1 validation, as `ValidateEventCreate`/`ValidateEventUpdate` in
pkg/apis/core/validation/events.go for requests of that group version.

Upstream validates the internal (core-shaped) Event, so errors name core fields (`firstTimestamp`,
`count`, `source`) even for events.k8s.io requests. So does kinn: the registry converts the request
to the stored core/v1 form (`EventsV1Strategy.to_internal`) before it validates.
"""

from __future__ import annotations

from typing import Callable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import names
from kinn.api.validation.common import Obj, immutable, object_meta, object_meta_update

# Upstream length limits for new-style events.
REPORTING_INSTANCE_LENGTH_LIMIT = 128
ACTION_LENGTH_LIMIT = 128
REASON_LENGTH_LIMIT = 128
NOTE_LENGTH_LIMIT = 1024


def _too_long(name: str, value: str, limit: int) -> ErrorList:
    if len(value) > limit:
        return [field.invalid(Path(name), "", f"can have at most {limit} characters")]
    return []


def validate_legacy_event(event: Obj) -> ErrorList:
    """`legacyValidateEvent`: namespace agreement, and for events with an eventTime the reporting
    fields new-style recorders must fill."""
    errs: ErrorList = []
    namespace = (event.get("metadata") or {}).get("namespace", "")
    involved_namespace = (event.get("involvedObject") or {}).get("namespace", "")
    involved_path = Path("involvedObject", "namespace")
    if not event.get("eventTime"):
        if involved_namespace and namespace != involved_namespace or not involved_namespace and namespace not in ("", "default"):
            errs.append(field.invalid(involved_path, involved_namespace, "does not match event.namespace"))
    else:
        if not involved_namespace and namespace not in ("default", "kube-system"):
            errs.append(field.invalid(involved_path, involved_namespace, "does not match event.namespace"))
        controller = event.get("reportingComponent", "")
        if not controller:
            errs.append(field.required(Path("reportingController")))
        errs += [field.invalid(Path("reportingController"), controller, msg) for msg in names.is_qualified_name(controller)]
        for name, limit in (("reportingInstance", REPORTING_INSTANCE_LENGTH_LIMIT), ("action", ACTION_LENGTH_LIMIT),
                            ("reason", REASON_LENGTH_LIMIT)):
            if not event.get(name):
                errs.append(field.required(Path(name)))
            errs += _too_long(name, event.get(name, ""), limit)
        errs += _too_long("message", event.get("message", ""), NOTE_LENGTH_LIMIT)
    errs += [field.invalid(Path("namespace"), namespace, msg) for msg in names.is_dns1123_subdomain(namespace)]
    return errs


def _validate_series(event: Obj) -> ErrorList:
    series = event.get("series")
    if series is None:
        return []
    errs: ErrorList = []
    if series.get("count", 0) < 2:
        errs.append(field.invalid(Path("series.count"), "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(field.required(Path("series.lastObservedTime")))
    return errs


def validate_event(event: Obj) -> ErrorList:
    """Strict checks for events created through events.k8s.io: new-style fields only."""
    errs = validate_legacy_event(event)
    errs += object_meta(event, True, names.name_is_dns_subdomain)
    errs += _validate_series(event)
    if not event.get("eventTime"):
        errs.append(field.required(Path("eventTime")))
    if event.get("type") not in ("Normal", "Warning"):
        errs.append(field.invalid(Path("type"), "", f"has invalid value: {event.get('type', '')}"))
    for name in ("firstTimestamp", "lastTimestamp", "count"):
        if event.get(name):
            errs.append(field.invalid(Path(name), "", "needs to be unset"))
    if any((event.get("source") or {}).values()):
        errs.append(field.invalid(Path("source"), "", "needs to be unset"))
    return errs


# What an events.k8s.io update may not change, in upstream's order (core field names).
_IMMUTABLE = (
    "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime",
    "action", "related", "reportingComponent", "reportingInstance",
)


def validate_event_update(new: Obj, old: Obj) -> ErrorList:
    errs = validate_legacy_event(new) + object_meta_update(new, old)
    if new.get("series") != old.get("series"):
        errs += _validate_series(new)
    for name in _IMMUTABLE:
        path = Path("reportingController" if name == "reportingComponent" else name)
        errs += immutable(new.get(name), old.get(name), path)
    return errs


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {"Event": validate_event}
UPDATE: dict[str, Check] = {"Event": validate_event_update}
STATUS_UPDATE: dict[str, Check] = {}
