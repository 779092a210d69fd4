"""Small bounded caches: generated entities and rendered pages must not grow without limit."""

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Least-recently-used map with a fixed capacity (0 disables caching)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The cached value, refreshed as most recently used."""
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        """Store ``value``, evicting the least recently used entry when full."""
        if self.capacity <= 0:
            return value
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.capacity:
            self._data.popitem(last=False)
        return value

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The cached value, or ``make()`` stored under ``key``."""
        value = self.get(key)
        return value if value is not None else self.put(key, make())

    def clear(self) -> None:
        """Drop everything."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True, slots=True)
class Timed(Generic[V]):
    """A value computed at ``computed_ms`` that stays true until ``valid_until_ms`` (excl.)."""

    computed_ms: int
    valid_until_ms: int
    value: V

    def valid_at(self, now_ms: int) -> bool:
        """Whether the value still holds at ``now_ms`` (time only moves forward)."""
        return self.computed_ms <= now_ms < self.valid_until_ms


class TimedCache(Generic[K, V]):
    """LRU of values that hold over a time span: a hit needs ``now`` inside that span."""

    def __init__(self, capacity: int) -> None:
        self._lru: LruCache[K, Timed[V]] = LruCache(capacity)

    def get(self, key: K, now_ms: int) -> V | None:
        """The value if it is cached and still valid at ``now_ms``."""
        entry = self.entry(key, now_ms)
        return entry.value if entry is not None else None

    def entry(self, key: K, now_ms: int) -> Timed[V] | None:
        """The cached entry (value and validity) if still valid at ``now_ms``."""
        entry = self._lru.get(key)
        return entry if entry is not None and entry.valid_at(now_ms) else None

    def put(self, key: K, now_ms: int, valid_until_ms: int, value: V) -> Timed[V]:
        """Cache ``value`` for ``[now_ms, valid_until_ms)``."""
        return self._lru.put(key, Timed(now_ms, valid_until_ms, value))

    @property
    def stats(self) -> tuple[int, int, int]:
        """(entries, hits, misses)."""
        return len(self._lru), self._lru.hits, self._lru.misses
