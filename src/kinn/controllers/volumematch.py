"""Which PersistentVolume a claim binds to (pkg/controller/volume/persistentvolume/index.go).

A volume qualifies when it is free (or pre-bound to this very claim), not being deleted, of the
claim's storage class and volume mode, labelled as the claim's selector asks, offers every access
mode the claim requests and at least the requested storage. Among qualifying volumes upstream
tries the access-mode sets with the fewest modes first and, within one, the smallest capacity —
so a 1Gi claim takes the 2Gi RWO volume rather than the 10Gi one or an RWO+RWX one.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Iterable

from kinn.api.quantity import parse_quantity
from kinn.api.selectors import SelectorError, label_selector_from_object

Obj = dict[str, Any]


def capacity(volume: Obj) -> Fraction:
    return parse_quantity(((volume.get("spec") or {}).get("capacity") or {}).get("storage") or "0")


def requested(claim: Obj) -> Fraction:
    resources = (claim.get("spec") or {}).get("resources") or {}
    return parse_quantity((resources.get("requests") or {}).get("storage") or "0")


def claim_class(claim: Obj) -> str:
    return (claim.get("spec") or {}).get("storageClassName") or ""


def is_prebound_to(volume: Obj, claim: Obj) -> bool:
    """The volume's claimRef names this claim (and, once it has one, its uid)."""
    ref = (volume.get("spec") or {}).get("claimRef")
    meta = claim["metadata"]
    if not ref or ref.get("name") != meta["name"] or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref["uid"] == meta.get("uid")


def satisfies(volume: Obj, claim: Obj) -> bool:
    """Every static requirement of the claim holds for the volume (checkVolumeSatisfyClaim + selector)."""
    vspec, cspec = volume.get("spec") or {}, claim.get("spec") or {}
    if (vspec.get("storageClassName") or "") != claim_class(claim):
        return False
    if (vspec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(vspec.get("accessModes") or []):
        return False
    if capacity(volume) < requested(claim):
        return False
    selector = cspec.get("selector")
    if selector is None:
        return True
    try:
        return label_selector_from_object(selector).matches(volume.get("metadata", {}).get("labels") or {})
    except SelectorError:
        return False


def find_best_match(volumes: Iterable[Obj], claim: Obj) -> Obj | None:
    """The volume pre-bound to the claim if it fits, else the free fit with fewest modes, then least storage."""
    candidates = []
    for volume in volumes:
        if volume.get("metadata", {}).get("deletionTimestamp") or not satisfies(volume, claim):
            continue
        if is_prebound_to(volume, claim):
            return volume
        if not (volume.get("spec") or {}).get("claimRef"):
            candidates.append(volume)
    if not candidates:
        return None
    return min(candidates, key=lambda v: (len(set(v["spec"].get("accessModes") or [])), capacity(v),
                                          v["metadata"]["name"]))
