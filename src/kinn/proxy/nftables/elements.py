"""The elements of kube-proxy's sets and maps: which are in the kernel, and which Service wants each.

A partial sync must touch only the elements that changed (that is what makes the nftables mode's
syncs cost O(changes): upstream's nftElementStorage). Two Services may claim the same key — two
ports of one Service share their ClusterIP in `cluster-ips`, and nothing stops two Services from
listing the same externalIP and port — so an element goes only when no Service claims it any more;
among several claims the Service first in (namespace, name) order wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from kinn.proxy.changes import ServiceKey
from kinn.proxy.nftables.transaction import Transaction

ElementKey = tuple[str, str]  # (set or map, key)


@dataclass(frozen=True)
class Element:
    container: str  # the set or map
    key: str  # its fields joined with " . ", as nft writes them
    value: str = ""  # a map element's verdict
    comment: str = ""

    @property
    def ident(self) -> ElementKey:
        return self.container, self.key


class ElementStore:
    def __init__(self) -> None:
        self.applied: dict[ElementKey, Element] = {}
        self._claims: dict[ElementKey, dict[ServiceKey, Element]] = {}

    def claim(self, owner: ServiceKey, old: Iterable[Element], new: Iterable[Element]) -> list[ElementKey]:
        """Replace `owner`'s claims; returns the keys whose element may have changed, in first-seen order."""
        touched: dict[ElementKey, None] = {}
        for element in old:
            claims = self._claims.get(element.ident, {})
            claims.pop(owner, None)
            if not claims:
                self._claims.pop(element.ident, None)
            touched[element.ident] = None
        for element in new:
            self._claims.setdefault(element.ident, {})[owner] = element
            touched[element.ident] = None
        return list(touched)

    def reconcile(self, tx: Transaction, keys: Iterable[ElementKey]) -> None:
        """Write the element changes for `keys` (a changed verdict is a delete and an add, as
        upstream) and record them as applied."""
        for ident in keys:
            claims = self._claims.get(ident)
            want = claims[min(claims)] if claims else None
            have = self.applied.get(ident)
            if want == have:
                continue
            if have is not None:
                tx.delete_element(have.container, have.key)
                del self.applied[ident]
            if want is not None:
                tx.add_element(want.container, want.key, want.value, want.comment)
                self.applied[ident] = want
