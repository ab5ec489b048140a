"""Event recording (k8s.io/client-go/tools/record): what `kubectl describe` shows under Events.

Events are core/v1 Events named `<object>.<hex timestamp>`, as upstream names them. A repeat of
the same (object, type, reason, message) within ten minutes increments `count` and
`lastTimestamp` of the existing Event instead of creating another, as the correlator does, so a
pod that fails to schedule every few seconds shows `(x12 over 2m)` rather than twelve rows.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource

log = logging.getLogger("kinn.client.events")
EVENTS = resource("v1", "events")
AGGREGATION_WINDOW = 600.0

Obj = dict[str, Any]


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def object_reference(obj: Obj) -> Obj:
    meta = obj.get("metadata", {})
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


class EventRecorder:
    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._recent: dict[tuple[str, str, str, str], tuple[str, str, float, int]] = {}

    async def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record; failures are logged, never raised: events are best effort, as upstream."""
        ref = object_reference(obj)
        namespace = ref.get("namespace") or "default"
        key = (ref["uid"], type_, reason, message)
        now = datetime.now(timezone.utc)
        try:
            previous = self._recent.get(key)
            if previous and time.monotonic() - previous[2] < AGGREGATION_WINDOW:
                name, _, _, count = previous
                await self.client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": _rfc3339(now)}, namespace)
                self._recent[key] = (name, namespace, time.monotonic(), count + 1)
                return
            name = f"{ref['name']}.{time.time_ns():x}"
            source: Obj = {"component": self.component}
            if self.host:
                source["host"] = self.host
            await self.client.create(EVENTS, {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                "source": source, "firstTimestamp": _rfc3339(now), "lastTimestamp": _rfc3339(now), "count": 1,
                "reportingComponent": self.component, "reportingInstance": self.host,
            }, namespace)
            self._recent[key] = (name, namespace, time.monotonic(), 1)
        except StatusError as e:
            self._recent.pop(key, None)
            log.debug("event %s %s dropped: %s", reason, ref["name"], e.message)
        except OSError as e:
            log.debug("event %s %s dropped: %s", reason, ref["name"], e)
