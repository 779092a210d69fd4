"""Fetch checkpoints: where a redelivered window resumes, and how a zombie delivery learns
that another one took its window over."""

from __future__ import annotations

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from common.messages import SyncWindow
from fetcher.domain import Checkpoint


class TakenOverError(Exception):
    """Another delivery of the window moved its checkpoint: this one is a zombie (a fetcher
    that was paused past ack_wait while JetStream gave the window to another replica)."""


class CheckpointStore:
    """Fetch checkpoints in a KV bucket, one key per run, written compare-and-set.

    Each delivery of a window remembers the revision it last read or wrote; a save or a check
    against another revision means another delivery has taken the window over.
    """

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def load(self, window: SyncWindow) -> tuple[Checkpoint, int | None]:
        """The checkpoint and its revision (None: no checkpoint yet)."""
        try:
            entry = await self._kv.get(str(window.run_id))
        except KeyNotFoundError:
            return Checkpoint(), None
        if entry.value is None:
            return Checkpoint(), entry.revision
        return Checkpoint.model_validate_json(entry.value), entry.revision

    async def save(self, window: SyncWindow, checkpoint: Checkpoint, last: int | None) -> int:
        """Store the checkpoint if it is still at revision ``last``; returns the new revision."""
        value = checkpoint.model_dump_json().encode()
        try:
            if last is None:
                return await self._kv.create(str(window.run_id), value)
            return await self._kv.update(str(window.run_id), value, last=last)
        except KeyWrongLastSequenceError as exc:
            raise TakenOverError(f"run {window.run_id}: checkpoint moved past {last}") from exc

    async def is_current(self, window: SyncWindow, revision: int | None) -> bool:
        """Whether the checkpoint is still at ``revision`` (nobody else moved it)."""
        try:
            entry = await self._kv.get(str(window.run_id))
        except KeyNotFoundError:
            return revision is None
        return entry.revision == revision
