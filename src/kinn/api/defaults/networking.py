"""networking.k8s.io/v1 defaults, as pkg/apis/networking/v1/defaults.go.

Ingress gets none: `pathType` stays required, as it has been since v1.
"""

from __future__ import annotations

from typing import Any, Callable

Obj = dict[str, Any]


def default_network_policy(obj: Obj) -> None:
    """A policy with no policyTypes isolates ingress, and egress too when it has egress rules."""
    spec = obj.setdefault("spec", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in rule.get("ports") or []:
                port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]


def default_ingress_class(obj: Obj) -> None:
    parameters = (obj.get("spec") or {}).get("parameters")
    if parameters is not None:
        parameters.setdefault("scope", "Cluster")


DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "NetworkPolicy": default_network_policy,
    "IngressClass": default_ingress_class,
}
