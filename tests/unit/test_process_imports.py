"""What each kinn process imports is start-up time and resident memory, paid once per process:
pyroute2 is ~230 ms and ~11 MB, cryptography ~60 ms and ~8 MB, aiohttp ~14 MB (servers need it; the
API client does not). Processes that never program a link, make a certificate or serve HTTP must
not load them (see kinn.netlink, kinn.kubelet.certificate and kinn.client.transport)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def imported_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())


@pytest.mark.parametrize(("module", "left_out"), [
    ("kinn.cli.cluster", {"pyroute2", "aiohttp", "cryptography"}),  # kinn down, kinn get clusters
    ("kinn.cli.nodes", {"pyroute2", "aiohttp", "cryptography"}),    # kinn node exec
    ("kinn.apiserver.server", {"pyroute2"}),                        # lists and enters namespaces only
    ("kinn.cli.agent", {"cryptography"}),                           # kinn up made the kubelet's certificate
    ("kinn.cli.dns", {"aiohttp", "pyroute2"}),                      # a client of the API server, and UDP
    ("kinn.cli.ingress", {"aiohttp", "pyroute2"}),                  # a client of the API server, and nginx
])
def test_process_leaves_out_what_it_does_not_use(module: str, left_out: set[str]) -> None:
    assert imported_by(module) & left_out == set()
