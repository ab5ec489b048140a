"""Upstream's chain and comment naming for the iptables rules the reference plugins write
(plugins/pkg/utils): what `iptables-save` shows of a pod's ipMasq and portmap chains."""

from __future__ import annotations

import hashlib

CHAIN_PREFIX = "CNI-"
MAX_CHAIN_LENGTH = 28  # iptables' limit (29 with the NUL)


def format_chain_name(name: str, container_id: str, prefix: str = "") -> str:
    """utils.FormatChainNameWithPrefix: `CNI-<prefix><sha512(name+id) hex>` cut to 28 characters."""
    digest = hashlib.sha512((name + container_id).encode()).hexdigest()
    return f"{CHAIN_PREFIX}{prefix}{digest}"[:MAX_CHAIN_LENGTH]


def format_comment(name: str, container_id: str) -> str:
    """utils.FormatComment: Go's %q quoting of both values."""
    return f"name: {_quote(name)} id: {_quote(container_id)}"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
