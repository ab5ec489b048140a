"""Setting a process's OOM score adjustment (pkg/util/oom), within what this host allows.

`oom_score_adj` shifts how readily the kernel's OOM killer picks a process (-1000 never … 1000
first). Lowering it below a process's own needs CAP_SYS_RESOURCE, which root in a container
lacks (as on some CI machines): there the runtime clamps what the kubelet asks for to its own
score, as containerd's `restrict_oom_score_adj` does for nodes in user namespaces (kind's).
"""

from __future__ import annotations

import functools
from pathlib import Path

CAP_SYS_RESOURCE = 24


def set_oom_score_adj(adjust: int, pid: int | str = "self") -> None:
    Path(f"/proc/{pid}/oom_score_adj").write_text(str(adjust))


@functools.cache
def _may_lower() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return False


def restrict_oom_score_adj(preferred: int) -> int:
    """The score a process started by this one can have: `preferred`, or this process's own score
    if that is higher and this process may not go below it."""
    if _may_lower():
        return preferred
    return max(preferred, int(Path("/proc/self/oom_score_adj").read_text()))
