"""Request limits learned from eBay's refusals, shared by every fetcher replica.

Some maxima are not in any contract (Post-Order's page size and date range, fact sheet §3 and
§10). A client that gets a 400 naming such a parameter halves the value and tries again; the
first smaller value eBay accepts is recorded here, so the next call, run and replica start with
it instead of paying for the refusal again (docs/adr/0010). A value only ever goes down.

Keys name the call and the parameter, e.g. ``postorder.inquiry.limit`` or
``postorder.return.range_minutes``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

# Below these, halving has stopped being about the size: the refusal is for something else.
MIN_LIMIT = 1
MIN_RANGE = timedelta(hours=1)


class LearnedLimits(Protocol):
    async def get(self, key: str) -> int | None: ...

    async def lower(self, key: str, value: int) -> None:
        """Record ``value`` unless a value as low or lower is recorded already."""
        ...


def halved_limit(limit: int) -> int | None:
    """The next page size to try after ``limit`` was refused; None when none is left."""
    smaller = limit // 2
    return smaller if smaller >= MIN_LIMIT else None


def halved_range(span: timedelta) -> timedelta | None:
    """The next date range to try after ``span`` was refused, in whole minutes; None below an hour.

    Whole minutes, because a chunked phase's position counts minutes (fetcher.sources.postorder).
    """
    smaller = timedelta(minutes=int(span.total_seconds() // 60) // 2)
    return smaller if smaller >= MIN_RANGE else None


class MemoryLimits:
    """Learned limits of one process (pure tests, a client without a shared store)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    async def get(self, key: str) -> int | None:
        return self.values.get(key)

    async def lower(self, key: str, value: int) -> None:
        current = self.values.get(key)
        if current is None or value < current:
            self.values[key] = value


class KvLimits:
    """Learned limits in the JetStream KV bucket ``learned_limits`` (common.streams)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def get(self, key: str) -> int | None:
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return None
        return None if entry.value is None else int(entry.value)

    async def lower(self, key: str, value: int) -> None:
        # Two replicas learning at once may both write; the higher of their values then costs
        # one more refusal later, after which the lower one is recorded. No lock is worth that.
        current = await self.get(key)
        if current is not None and current <= value:
            return
        await self._kv.put(key, str(value).encode())
        log.warning("learned %s = %d from an eBay refusal (was %s)", key, value, current)
