"""Detail calls after a search page, made only for the entities whose summary changed.

Post-Order searches return summaries; an inquiry's or return's history, tracking and refund
lines come only from its detail call (``GET /post-order/v2/inquiry/{id}``, ``/return/{id}``),
and a payment dispute's evidence and activity from ``getPaymentDispute``. Calling them for
every entity of every page would spend the daily quota on entities that did not change, so
the fetcher keeps a digest of each entity's last published summary (in its own bucket,
``fetch_checkpoints``, whose keys expire after two days: a digest seen again is renewed after a
day, so the entities a run still reads keep theirs and the ones no phase reads any more fade)
and calls the detail only when the summary's digest differs. The detail rides in the
record under :data:`DETAIL_KEY`; the writer keeps it apart from the summary (its own table), so
a record without one never erases it. A digest is stored only after its page was published:
a window that fails before that asks again on its retry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from common.families import DETAIL_KEY, Family
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.tokens import AccountToken

__all__ = ["DETAIL_KEY", "Digests", "KvDigests", "MemoryDigests", "WithDetails"]

FetchDetail = Callable[[AccountToken, str], Awaitable[dict[str, Any]]]


# A digest seen again is written again after this long, so it outlives the bucket's TTL.
RENEW_AFTER_SECONDS = 86_400


@dataclass(frozen=True)
class Seen:
    digest: str
    at: float  # epoch seconds it was stored


class Digests(Protocol):
    async def get(self, key: str) -> Seen | None: ...

    async def put(self, key: str, seen: Seen) -> None: ...


@dataclass
class MemoryDigests:
    """Digests of one process (tests, and sources built without the bucket)."""

    values: dict[str, Seen] = field(default_factory=dict)

    async def get(self, key: str) -> Seen | None:
        return self.values.get(key)

    async def put(self, key: str, seen: Seen) -> None:
        self.values[key] = seen


class KvDigests:
    """Digests in the fetcher's ``fetch_checkpoints`` bucket, shared by every replica."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def get(self, key: str) -> Seen | None:
        try:
            entry = await self._kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        digest, _, at = (entry.value or b"").decode().partition(" ")
        try:
            return Seen(digest, float(at))
        except ValueError:
            return None  # unreadable: asked again

    async def put(self, key: str, seen: Seen) -> None:
        await self._kv.put(key, f"{seen.digest} {seen.at}".encode())


def summary_digest(record: dict[str, Any]) -> str:
    """A stable digest of a summary: any change to any field changes it."""
    return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def digest_key(family: Family, account_id: int, entity_id: str) -> str:
    # KV keys allow few characters; the entity id is hashed into one.
    entity = hashlib.sha256(entity_id.encode()).hexdigest()[:24]
    return f"detail.{family}.{account_id}.{entity}"


@dataclass(frozen=True)
class WithDetails:
    """A search source whose changed entities also carry their detail."""

    inner: Source
    # The summary field naming the entity (``inquiryId``, ``returnId``, ``paymentDisputeId``).
    id_field: str
    fetch_detail: FetchDetail
    digests: Digests

    @property
    def family(self) -> Family:
        return self.inner.family

    @property
    def phases(self) -> tuple[str, ...]:
        return self.inner.phases

    async def page(self, request: PageRequest) -> SourcePage:
        page = await self.inner.page(request)
        now = time.time()
        records: list[dict[str, Any]] = []
        seen: list[tuple[str, Seen]] = []
        for record in page.records:
            raw_id = record.get(self.id_field)  # Post-Order sends some ids as numbers
            if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or raw_id == "":
                records.append(record)  # the writer refuses it, with the reason
                continue
            entity_id = str(raw_id)
            key = digest_key(self.family, request.window.account_id, entity_id)
            current = Seen(summary_digest(record), now)
            stored = await self.digests.get(key)
            if stored is not None and stored.digest == current.digest:
                records.append(record)
                if now - stored.at >= RENEW_AFTER_SECONDS:
                    seen.append((key, current))
                continue
            detail = await self.fetch_detail(request.account, entity_id)
            records.append({**record, DETAIL_KEY: detail})
            seen.append((key, current))

        async def remember() -> None:
            for key, digest in seen:
                await self.digests.put(key, digest)

        published = page.published
        if seen:
            inner = page.published

            async def published_and_remembered() -> None:
                if inner is not None:
                    await inner()
                await remember()

            published = published_and_remembered
        return replace(page, records=records, published=published)
