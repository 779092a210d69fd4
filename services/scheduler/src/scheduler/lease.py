"""A leader lease in a JetStream KV bucket whose TTL is the lease's (STACK-NOTES §5.4)."""

from __future__ import annotations

import logging

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)


class LeaderLease:
    """``hold()`` acquires or renews; call it more often than a third of the bucket TTL.

    ``create`` is atomic and ``update(last=revision)`` is compare-and-set, so two replicas can
    never both believe they hold the lease for the same revision.
    """

    def __init__(self, kv: KeyValue, key: str, holder: str) -> None:
        self._kv = kv
        self._key = key
        self._holder = holder.encode()
        self._revision: int | None = None

    @property
    def held(self) -> bool:
        return self._revision is not None

    async def hold(self) -> bool:
        try:
            if self._revision is None:
                self._revision = await self._kv.create(self._key, self._holder)
                log.info("became leader (%s)", self._holder.decode())
            else:
                self._revision = await self._kv.update(self._key, self._holder, last=self._revision)
        except KeyWrongLastSequenceError:
            if self._revision is not None:
                log.warning("lost the leader lease")
            self._revision = None
        return self._revision is not None

    async def release(self) -> None:
        if self._revision is not None:
            await self._kv.delete(self._key, last=self._revision)
            self._revision = None
