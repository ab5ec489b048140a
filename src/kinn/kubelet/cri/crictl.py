"""crictl's output, character for character: `pods`, `ps`, `inspect` and `inspectp`.

Tables go through Go's text/tabwriter as crictl configures it (minwidth 20, padding 3, spaces; the
last column is not padded), IDs are cut to 13 characters, ages are go-units' HumanDuration plus
" ago", and rows come newest first. `inspect`/`inspectp` print `{"info": …, "status": …}` as
crictl does: the status with its timestamps in RFC 3339 (local time, as Go's time.Unix), each
JSON-valued info entry parsed, keys sorted (Go marshals maps sorted), two-space indentation.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any, Sequence

Obj = dict[str, Any]
TRUNCATED_ID_LEN = 13
MIN_WIDTH, PADDING = 20, 3
POD_COLUMNS = ("POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME")
CONTAINER_COLUMNS = ("CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD", "NAMESPACE")
POD_STATES = {"SANDBOX_READY": "Ready", "SANDBOX_NOTREADY": "NotReady"}
CONTAINER_STATES = {"CONTAINER_CREATED": "Created", "CONTAINER_RUNNING": "Running", "CONTAINER_EXITED": "Exited",
                    "CONTAINER_UNKNOWN": "Unknown"}
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's time.Time{} in RFC 3339


def tabwriter(rows: Sequence[Sequence[str]], min_width: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """text/tabwriter over tab-joined rows: each cell but a row's last is padded with spaces to its
    column's width, the widest cell plus `padding`, at least `min_width`."""
    columns = max((len(row) for row in rows), default=0) - 1
    widths = [max([min_width, *(len(row[i]) + padding for row in rows if i < len(row) - 1)]) for i in range(columns)]
    return "".join("".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + row[-1] + "\n"
                   for row in rows)


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: how `docker ps` and crictl say how long ago something happened."""
    if (whole := int(seconds)) < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    if (minutes := int(seconds / 60)) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    if (hours := int(seconds / 3600 + 0.5)) == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def truncated_id(value: str, prefix: str = "") -> str:
    """getTruncatedID: the prefix removed, then the first 13 characters."""
    return value.removeprefix(prefix)[:TRUNCATED_ID_LEN]


def _ago(created_at: str, now: float) -> str:
    return human_duration(now - int(created_at) / 1e9) + " ago"


def _newest_first(items: list[Obj]) -> list[Obj]:
    return sorted(items, key=lambda item: int(item["createdAt"]), reverse=True)


def pods_table(items: list[Obj], now: float) -> str:
    """`crictl pods`."""
    rows = [POD_COLUMNS] + [(truncated_id(pod["id"]), _ago(pod["createdAt"], now), POD_STATES[pod["state"]],
                             pod["metadata"]["name"], pod["metadata"]["namespace"], str(pod["metadata"]["attempt"]),
                             pod.get("runtimeHandler") or "(default)") for pod in _newest_first(items)]
    return tabwriter(rows)


def _image_column(image: str) -> str:
    """The image as `crictl ps` shows it: a digest (what the kubelet creates containers by) cut to 13."""
    return truncated_id(image, "sha256:") if DIGEST.fullmatch(image) else image


def ps_table(containers: list[Obj], now: float) -> str:
    """`crictl ps [-a]`."""
    rows = [CONTAINER_COLUMNS] + [
        (truncated_id(c["id"]), _image_column(c["image"]["image"]), _ago(c["createdAt"], now),
         CONTAINER_STATES[c["state"]], c["metadata"]["name"], str(c["metadata"]["attempt"]),
         truncated_id(c["podSandboxId"]), c["labels"].get("io.kubernetes.pod.name", "unknown"),
         c["labels"].get("io.kubernetes.pod.namespace", "unknown")) for c in _newest_first(containers)]
    return tabwriter(rows)


def rfc3339_nano(nanoseconds: int) -> str:
    """Go's time.Unix(0, ns).Format(time.RFC3339Nano): local time, trailing zeros of the fraction dropped."""
    seconds, fraction = divmod(nanoseconds, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, timezone.utc).astimezone()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction:09d}".rstrip("0") if fraction else "")
    offset = moment.strftime("%z")
    return text + ("Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}")


def _container_times(status: Obj) -> Obj:
    """marshalContainerStatus: startedAt once started, finishedAt once exited, else Go's zero time."""
    state = status["state"]
    started = state != "CONTAINER_CREATED"
    finished = state == "CONTAINER_EXITED" or (state == "CONTAINER_UNKNOWN" and int(status["finishedAt"]) > 0)
    return {"createdAt": rfc3339_nano(int(status["createdAt"])),
            "startedAt": rfc3339_nano(int(status["startedAt"])) if started else ZERO_TIME,
            "finishedAt": rfc3339_nano(int(status["finishedAt"])) if finished else ZERO_TIME}


def _status_data(status: Obj, info: dict[str, str]) -> Obj:
    """outputStatusData's map for one response: the status, and each info value (JSON objects parsed)."""
    data: Obj = {"status": status}
    for key, value in info.items():
        data[key] = json.loads(value) if value.startswith("{") else value.strip('"')
    return data


def _print_json(results: list[Obj]) -> str:
    """One result alone, several as an array (crictl's "old behavior"), sorted keys, 2-space indent."""
    return json.dumps(results[0] if len(results) == 1 else results, indent=2, sort_keys=True, ensure_ascii=False)


def inspect_output(responses: list[Obj]) -> str:
    """`crictl inspect ID…` for ContainerStatus responses."""
    return _print_json([_status_data({**r["status"], **_container_times(r["status"])}, r.get("info") or {})
                        for r in responses])


def inspectp_output(responses: list[Obj]) -> str:
    """`crictl inspectp ID…` for PodSandboxStatus responses."""
    return _print_json([_status_data({**r["status"], "createdAt": rfc3339_nano(int(r["status"]["createdAt"]))},
                                     r.get("info") or {}) for r in responses])
