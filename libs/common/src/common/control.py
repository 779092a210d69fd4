"""Operator switches kept in the JetStream ``control`` bucket, read by the scheduler."""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from common.streams import PAUSE_ALL_KEY

ON = b"on"
OFF = b"off"


class PauseSwitch:
    """Pause-all: while on, the scheduler publishes no new windows (running ones finish)."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def is_on(self) -> bool:
        try:
            entry = await self._kv.get(PAUSE_ALL_KEY)
        except KeyNotFoundError:
            return False
        return entry.value == ON

    async def set(self, on: bool) -> None:
        await self._kv.put(PAUSE_ALL_KEY, ON if on else OFF)
