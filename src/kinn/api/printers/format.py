"""Cell formatting shared by every printer: ages, durations, container lists, addresses.

Ages follow `duration.HumanDuration` from k8s.io/apimachinery, the function behind every AGE
column, so `kubectl get` output reads the same (`5s`, `3m20s`, `10m`, `5h3m`, `2d5h`, `3y`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from kinn.api import timestamps

UNKNOWN = "<unknown>"
NONE = "<none>"


def human_duration(seconds: float) -> str:
    """`duration.HumanDuration`: about two significant figures; up to 2 s in the future reads `0s`."""
    whole = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        years = hours // 24 // 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def parse_time(value: str | None) -> float | None:
    """Seconds since the epoch of an RFC 3339 `metav1.Time`/`MicroTime`, or None when unset."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


class Clock:
    """The one `now` a whole table is printed against, so every row ages consistently."""

    __slots__ = ("now",)

    def __init__(self, now: datetime | None = None) -> None:
        self.now = (now or datetime.now(timezone.utc)).timestamp()

    def since(self, timestamp: str | None) -> str:
        """`translateTimestampSince`: `<unknown>` for an unset time."""
        at = parse_time(timestamp)
        return UNKNOWN if at is None else human_duration(self.now - at)

    def age(self, obj: Mapping[str, Any]) -> str:
        return self.since((obj.get("metadata") or {}).get("creationTimestamp"))


def rfc3339(timestamp: str | None) -> str:
    """A `metav1.Time` as Go's time.RFC3339 in UTC; the zero time when unset, as upstream prints it."""
    at = parse_time(timestamp)
    if at is None:
        return "0001-01-01T00:00:00Z"
    return timestamps.rfc3339(datetime.fromtimestamp(int(at), timezone.utc))


def name_of(obj: Mapping[str, Any]) -> str:
    return (obj.get("metadata") or {}).get("name", "")


def containers_cells(containers: Sequence[Mapping[str, Any]] | None) -> tuple[str, str]:
    """`layoutContainerCells`: comma-joined names and images."""
    containers = containers or ()
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def join_host_port(host: str, port: Any) -> str:
    """`net.JoinHostPort`: brackets around IPv6 addresses."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def list_with_more(items: Iterable[str], limit: int = 3, empty: str = "<unset>") -> str:
    """`listWithMoreString`: the first `limit` items, then `+ N more...`."""
    items = list(items)
    text = ",".join(items[:limit])
    if len(items) > limit:
        return f"{text} + {len(items) - limit} more..."
    return text or empty


def bool_ptr(value: bool | None) -> str:
    """`printBoolPtr`: `True`/`False`, or `<unset>` for nil."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"


def owner_controller(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """`metav1.GetControllerOf`: the owner reference marked `controller: true`."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None
