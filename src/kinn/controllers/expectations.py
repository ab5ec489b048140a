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


class UIDTrackingControllerExpectations(ControllerExpectations):
    """Expectations that also remember *which* pods a controller deleted (UIDTrackingControllerExpectations).

    A graceful delete is seen twice — once as deletionTimestamp being set, once as the final
    removal — and pods are also deleted by others; counting every sighting would satisfy the
    expectations early and let the next sync delete more pods than asked. Only the first sighting
    of a pod we deleted ourselves lowers the count.
    """

    def __init__(self) -> None:
        super().__init__()
        self._deleting: dict[str, set[str]] = {}

    def expect_deletions_of(self, key: str, pod_keys: list[str]) -> None:
        self._deleting[key] = set(pod_keys)
        self.expect_deletions(key, len(pod_keys))

    def deletion_observed_of(self, key: str, pod_key: str) -> None:
        pending = self._deleting.get(key)
        if pending is not None and pod_key in pending:
            pending.discard(pod_key)
            self.deletion_observed(key)

    def delete(self, key: str) -> None:
        super().delete(key)
        self._deleting.pop(key, None)
