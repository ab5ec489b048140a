"""ControllerExpectations: don't act again on a cache that has not yet seen our own last actions.

After a controller creates three pods, its informer shows them a few milliseconds later; a sync
in between would count too few pods and create three more. As upstream
(pkg/controller/controller_utils.go), a controller records how many creations and deletions it
expects to observe per key, the pod event handlers count them down, and `satisfied(key)` is false
until they reach zero — or until the expectations are five minutes old, so a lost watch event can
never wedge a controller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Expectation:
    add: int = 0
    delete: int = 0
    timestamp: float = field(default_factory=time.monotonic)

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0

    def expired(self) -> bool:
        return time.monotonic() - self.timestamp > EXPECTATIONS_TIMEOUT


class ControllerExpectations:
    def __init__(self) -> None:
        self._store: dict[str, _Expectation] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending (or the record is stale or absent): the cache can be trusted."""
        expectation = self._store.get(key)
        return expectation is None or expectation.fulfilled() or expectation.expired()

    def expect(self, key: str, add: int = 0, delete: int = 0) -> None:
        """Reset `key`'s expectations (SetExpectations) before issuing `add` creates and `delete` deletes."""
        self._store[key] = _Expectation(add, delete)

    def expect_creations(self, key: str, count: int) -> None:
        self.expect(key, add=count)

    def expect_deletions(self, key: str, count: int) -> None:
        self.expect(key, delete=count)

    def creation_observed(self, key: str) -> None:
        """A create was seen by the informer — or failed, so it never will be (CreationObserved)."""
        if expectation := self._store.get(key):
            expectation.add -= 1

    def deletion_observed(self, key: str) -> None:
        if expectation := self._store.get(key):
            expectation.delete -= 1

    def delete(self, key: str) -> None:
        self._store.pop(key, None)
