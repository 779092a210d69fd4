"""Poisson arrivals of one kind of entity for one seller, with entities built on demand."""

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Generic, TypeVar

from ebay_sandbox.cache import LruCache
from ebay_sandbox.clock import DAY
from ebay_sandbox.ids import rng

V = TypeVar("V")


class ArrivalStream(Generic[V]):
    """Creation instants come from one sequential RNG (cheap, kept); entities are rebuilt from
    their index when evicted, so memory stays bounded however long the history is."""

    def __init__(
        self,
        key: tuple[object, ...],
        start_ms: int,
        per_day: float,
        build: Callable[[int, int], V],
        cache: int,
    ) -> None:
        self._gaps = rng(*key, "gaps")
        self._rate = per_day / DAY
        self._build = build
        self._created = array("q")
        self._next_ms: int | None = None
        if per_day > 0:
            self._next_ms = start_ms + self._gap()
        self._cache: LruCache[int, V] = LruCache(cache)

    def _gap(self) -> int:
        # At least 1 ms, so creation times never tie.
        return max(1, int(self._gaps.expovariate(self._rate)))

    def ensure(self, until_ms: int) -> None:
        """Know every creation instant up to ``until_ms``."""
        while self._next_ms is not None and self._next_ms <= until_ms:
            self._created.append(self._next_ms)
            self._next_ms += self._gap()

    def next_after(self, ms: int) -> int | None:
        """Creation instant of the first entity created after ``ms`` (None: there is none)."""
        self.ensure(ms)
        return self._next_ms

    def between(self, low_ms: int, high_ms: int) -> range:
        """Indexes of the entities created in ``[low_ms, high_ms]`` (oldest first)."""
        self.ensure(high_ms)
        return range(bisect_left(self._created, low_ms), bisect_right(self._created, high_ms))

    def created_ms(self, index: int) -> int:
        """Creation instant of entity ``index`` (it must have been reached by ``ensure``)."""
        return self._created[index]

    def get(self, index: int) -> V:
        """Entity ``index`` (built, or from the cache)."""
        return self._cache.get_or_make(index, lambda: self._build(index, self._created[index]))

    @property
    def built(self) -> int:
        """Entities built so far (an evicted one built again counts again)."""
        return self._cache.misses

    def known(self, index: int) -> bool:
        """Whether ``index`` has a creation instant yet."""
        return 0 <= index < len(self._created)

    def find(self, index: int, now_ms: int) -> V | None:
        """Entity ``index`` if it exists at ``now_ms``."""
        self.ensure(now_ms)
        if not self.known(index) or self._created[index] > now_ms:
            return None
        return self.get(index)
