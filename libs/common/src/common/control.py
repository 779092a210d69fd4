"""Operator switches kept in the JetStream ``control`` bucket: pauses, read by the scheduler,
and cancelled runs, read by the fetcher.

Two pauses: the platform-wide one (superadmins only) and one per org (an org's admin pauses
that org's accounts). While either applies to an account, the scheduler publishes no new
windows for it (running ones finish).
"""

from __future__ import annotations

import json
from uuid import UUID

from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from common.streams import PAUSE_ALL_KEY, PAUSED_ORGS_KEY

ON = b"on"
OFF = b"off"
# Concurrent switches of different orgs retry their compare-and-set this often at most.
_CAS_ATTEMPTS = 20


class PauseSwitch:
    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def is_on(self) -> bool:
        """The platform-wide pause."""
        try:
            entry = await self._kv.get(PAUSE_ALL_KEY)
        except KeyNotFoundError:
            return False
        return entry.value == ON

    async def set(self, on: bool) -> None:
        await self._kv.put(PAUSE_ALL_KEY, ON if on else OFF)

    async def paused_orgs(self) -> frozenset[int]:
        return (await self._read_orgs())[0]

    async def applies_to(self, org_id: int) -> bool:
        """Whether the org's accounts start no new windows: platform-wide or org pause."""
        return await self.is_on() or org_id in await self.paused_orgs()

    async def set_org(self, org_id: int, on: bool) -> None:
        for _ in range(_CAS_ATTEMPTS):
            current, revision = await self._read_orgs()
            wanted = current | {org_id} if on else current - {org_id}
            if wanted == current:
                return
            value = json.dumps(sorted(wanted)).encode()
            try:
                if revision is None:
                    await self._kv.create(PAUSED_ORGS_KEY, value)
                else:
                    await self._kv.update(PAUSED_ORGS_KEY, value, last=revision)
                return
            except KeyWrongLastSequenceError:
                continue  # another org's switch won the race: read again
        raise RuntimeError("the paused-orgs switch kept changing under us")

    async def _read_orgs(self) -> tuple[frozenset[int], int | None]:
        try:
            entry = await self._kv.get(PAUSED_ORGS_KEY)
        except KeyNotFoundError:
            return frozenset(), None
        try:
            orgs = frozenset(int(o) for o in json.loads(entry.value or b"[]"))
        except (ValueError, TypeError):
            orgs = frozenset()  # unreadable: overwritten by the next switch
        return orgs, entry.revision


CANCEL_KEY_PREFIX = "cancel."


class CancelRequests:
    """Runs an operator cancelled (``cancel.<run_id>`` keys): the admin API asks, the fetcher
    working on the run looks before each eBay call and stops."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def ask(self, run_id: UUID) -> None:
        await self._kv.put(f"{CANCEL_KEY_PREFIX}{run_id}", ON)

    async def asked(self, run_id: UUID) -> bool:
        try:
            entry = await self._kv.get(f"{CANCEL_KEY_PREFIX}{run_id}")
        except (KeyNotFoundError, KeyDeletedError):
            return False
        return entry.value == ON

    async def forget(self, run_id: UUID) -> None:
        """Once the run stopped, its key has served its purpose."""
        await self._kv.delete(f"{CANCEL_KEY_PREFIX}{run_id}")
