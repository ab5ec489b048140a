"""`/healthz`, `/livez` and `/readyz` with their named checks, as k8s.io/apiserver's healthz package.

Scripts and docs ask for `kubectl get --raw '/readyz?verbose'` (one `[+]<check> ok` line per check,
then `readyz check passed`), for one check by name (`/livez/etcd`, `/readyz/ping`), or leave some
out (`?exclude=etcd`). kinn's checks are upstream's names for what it has: the store lives in the
API server's process and is open while the server answers, so every check passes when it answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# Each endpoint's checks, in upstream's order (without its post-start hooks, which kinn has none of).
CHECKS: dict[str, tuple[str, ...]] = {
    "healthz": ("ping", "log", "etcd"),
    "livez": ("ping", "log", "etcd"),
    "readyz": ("ping", "log", "etcd", "etcd-readiness", "shutdown"),
}


def health_check(path: str, query: Mapping[str, str], excluded: Sequence[str]) -> tuple[int, str] | None:
    """(status, text) for a health path (`/readyz`, `/readyz/ping`), or None if it is not one.

    `excluded` is every `exclude` parameter of the query; a name no check has is warned about in the
    verbose listing, as upstream does.
    """
    endpoint, _, check = path.strip("/").partition("/")
    checks = CHECKS.get(endpoint)
    if checks is None or (check and check not in checks):
        return None
    if check:
        return 200, "ok"
    if "verbose" not in query:
        return 200, "ok"
    unknown = sorted(set(excluded) - set(checks))
    lines = [f"[+]{name} excluded: ok" if name in excluded else f"[+]{name} ok" for name in checks]
    if unknown:
        quoted = ",".join(f'"{name}"' for name in unknown)
        lines.append(f"warn: some health checks cannot be excluded: no matches for {quoted}")
    return 200, "".join(line + "\n" for line in lines) + f"{endpoint} check passed\n"
