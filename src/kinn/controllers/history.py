"""ControllerRevisions: the template history DaemonSets and StatefulSets roll between (pkg/controller/history).

A revision stores the owner's pod template as a `$patch: replace` patch, is named
`<owner>-<hash>` and labelled `controller-revision-hash`, and carries an increasing `revision`
number. The hash is FNV-32a over the revision data plus the owner's collisionCount, printed in
decimal and mapped onto the consonant-and-digit alphabet of `rand.SafeEncodeString` — the same
recipe as upstream, so a changed template yields a new name and an unchanged one finds its own.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

import orjson

from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource
from kinn.controllers.podutil import controller_ref, is_controlled_by

Obj = dict[str, Any]
CONTROLLER_REVISIONS = resource("apps/v1", "controllerrevisions")
REVISION_HASH_LABEL = "controller-revision-hash"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class HashCollision(Exception):
    """A revision with our name holds different data: the owner must bump status.collisionCount."""


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def template_patch(template: Obj) -> Obj:
    """The revision data: the pod template as a patch that replaces the owner's whole template."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def hash_revision(data: Obj, collision_count: int | None) -> str:
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        raw += collision_count.to_bytes(4, "little")
    return safe_encode(str(fnv32a(raw)))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:223]}-{hash_}"


def owned_revisions(revisions: Iterable[Obj], owner: Obj) -> list[Obj]:
    """The owner's revisions, oldest revision number first."""
    mine = [r for r in revisions if is_controlled_by(r, owner)]
    return sorted(mine, key=lambda r: (r.get("revision", 0), r["metadata"]["name"]))


def next_revision_number(revisions: list[Obj]) -> int:
    return max((r.get("revision", 0) for r in revisions), default=0) + 1


async def ensure_revision(client: Client, owner: Obj, revisions: list[Obj], data: Obj, hash_: str,
                          labels: dict[str, str]) -> Obj:
    """The revision for `data`: reuse an equal one (renumbered to be newest), else create it.

    Raises HashCollision when the name is taken by different data, as upstream's history.CreateControllerRevision.
    """
    name = revision_name(owner["metadata"]["name"], hash_)
    number = next_revision_number(revisions)
    existing = next((r for r in revisions if r["metadata"]["name"] == name), None)
    if existing is not None:
        if existing.get("data") != data:
            raise HashCollision(name)
        if existing.get("revision", 0) == number - 1:
            return existing
        return await client.update(CONTROLLER_REVISIONS, {**existing, "revision": number})
    body = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                         "labels": {**labels, REVISION_HASH_LABEL: hash_},
                         "ownerReferences": [controller_ref(owner)]},
            "data": data, "revision": number}
    try:
        return await client.create(CONTROLLER_REVISIONS, body)
    except StatusError as e:
        if e.code != 409:
            raise
        live = await client.get(CONTROLLER_REVISIONS, name, owner["metadata"]["namespace"])
        if live.get("data") != data or not is_controlled_by(live, owner):
            raise HashCollision(name) from e
        return live


async def truncate_history(client: Client, revisions: list[Obj], live: set[str], limit: int) -> None:
    """Delete the oldest revisions no pod uses beyond revisionHistoryLimit (truncateHistory)."""
    historic = [r for r in revisions if r["metadata"]["name"] not in live]
    for revision in historic[:max(0, len(historic) - limit)]:
        try:
            await client.delete(CONTROLLER_REVISIONS, revision["metadata"]["name"], revision["metadata"]["namespace"])
        except StatusError as e:
            if e.code != 404:
                raise
