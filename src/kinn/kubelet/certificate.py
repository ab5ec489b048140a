"""The kubelet's self-signed serving certificate (`pki/kubelet.crt` under its root dir), as a kubelet
without --tls-cert-file keeps it: made on first start, reused as found on every later one.

cryptography, which makes it, is imported only to make one: it costs each agent ~8 MB and ~60 ms,
and `kinn up` makes the nodes' certificates before their agents start (kinn.cluster.files), so an
agent of a `kinn up` cluster never loads it.
"""

from __future__ import annotations

import time
from pathlib import Path


def certificate_paths(root_dir: Path) -> tuple[Path, Path]:
    return root_dir / "pki" / "kubelet.crt", root_dir / "pki" / "kubelet.key"


def ensure_serving_certificate(root_dir: Path, node_name: str, node_ip: str) -> tuple[Path, Path]:
    """The certificate and key, made now if either is missing (CN `<node>@<unix time>`, as upstream)."""
    cert, key = certificate_paths(root_dir)
    if not (cert.exists() and key.exists()):
        from kinn.apiserver.certs import ensure_self_signed_certificate
        ensure_self_signed_certificate(cert, key, f"{node_name}@{int(time.time())}", [node_name, node_ip])
    return cert, key
