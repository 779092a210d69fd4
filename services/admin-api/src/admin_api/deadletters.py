"""Dead letters in the ``SYNC_DLQ`` stream: list, inspect, replay, discard.

Each stream message is a :class:`common.messages.DeadLetter`. Replaying republishes the
original body with its original headers to its original subject (its stream takes it from
there), then deletes the dead letter; JetStream's own answers decide whether that is allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, NotFoundError
from pydantic import ValidationError

from admin_api.commands import BusError, InFlight
from common.messages import DeadLetter, PageBatch
from common.scheduling import MAX_MSGS_PER_SUBJECT_EXCEEDED
from common.streams import DLQ_STREAM

SUBJECTS = f"{DeadLetter.SUBJECT_PREFIX}.>"


class ReplayRefused(BusError):
    pass


@dataclass(frozen=True)
class StoredDeadLetter:
    sequence: int
    stored_at: datetime | None
    letter: DeadLetter

    @property
    def account_id(self) -> int | None:
        """Its account, or the last token of a ``sync.<kind>.<family>.<account>`` subject."""
        if self.letter.account_id is not None:
            return self.letter.account_id
        subject = self.letter.original_subject
        last = subject.rpartition(".")[2]
        return int(last) if subject.startswith("sync.") and last.isdigit() else None

    @property
    def text(self) -> str | None:
        try:
            return self.letter.original_data.decode()
        except UnicodeDecodeError:
            return None

    @property
    def json(self) -> object:
        text = self.text
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None


def may_see(
    account_id: int | None, org_ids: set[int], owned_ids: set[int], *, is_superadmin: bool
) -> bool:
    """Whether a caller sees a dead letter of ``account_id``.

    The org that owns the letter's account sees it; a letter that names no account, or one no
    org owns (a page for an unknown account), would be invisible to all, so superadmins (the
    platform's operators, ``ADMIN_API_SUPERADMIN_EMAILS``) see it.
    """
    if account_id is not None and account_id in org_ids:
        return True
    return is_superadmin and (account_id is None or account_id not in owned_ids)


class DeadLetterStore:
    def __init__(self, js: JetStreamContext, timeout: float, scan_limit: int = 5000) -> None:
        self._js = js
        self._timeout = timeout
        self._scan_limit = scan_limit

    async def list(self) -> list[StoredDeadLetter]:
        """The dead letters, newest first (scanning a bounded window); the caller filters
        them with :func:`may_see`."""
        found: list[StoredDeadLetter] = []
        seq = 1
        for _ in range(self._scan_limit):
            try:
                raw = await self._js.get_msg(DLQ_STREAM, seq=seq, subject=SUBJECTS, next=True)
            except NotFoundError:
                break
            if raw.seq is None:
                break
            stored = _parse(raw.seq, raw.time, raw.data)
            if stored is not None:
                found.append(stored)
            seq = raw.seq + 1
        return sorted(found, key=lambda s: s.sequence, reverse=True)

    async def get(self, sequence: int) -> StoredDeadLetter | None:
        try:
            raw = await self._js.get_msg(DLQ_STREAM, seq=sequence)
        except (NotFoundError, APIError):
            return None
        if raw.seq is None or not (raw.subject or "").startswith(f"{DeadLetter.SUBJECT_PREFIX}."):
            return None
        return _parse(raw.seq, raw.time, raw.data)

    async def replay(self, stored: StoredDeadLetter) -> PubAck:
        letter = stored.letter
        if letter.original_subject.startswith(f"{PageBatch.SUBJECT_PREFIX}."):
            # Only the fetcher may publish pages (docs/adr/0008): a page is fetched again.
            raise ReplayRefused(
                "a page is not replayed but fetched again: repair the pair "
                "(POST /api/accounts/{id}/families/{family}/repair), which re-syncs its window"
            )
        headers = {
            k: v for k, v in letter.original_headers.items() if not k.startswith("Nats-Expected")
        }
        ack = await self._publish(letter, headers)
        if ack.duplicate and "Nats-Msg-Id" in headers:
            # The original is still within its stream's duplicate window (a message dead-lettered
            # minutes ago): the replay is a new publish of the operator's, so it gets its own id.
            # Consumers never read the id: receipts and checkpoints make a repeat harmless.
            headers["Nats-Msg-Id"] = f"{headers['Nats-Msg-Id']}:replay:{stored.sequence}"
            ack = await self._publish(letter, headers)
        if ack.duplicate:
            raise ReplayRefused(
                "JetStream dropped the replay as a duplicate (same Nats-Msg-Id within the "
                "stream's duplicate window); try again later"
            )
        await self.discard(stored.sequence)
        return ack

    async def _publish(self, letter: DeadLetter, headers: dict[str, str]) -> PubAck:
        try:
            return await self._js.publish(
                letter.original_subject,
                letter.original_data,
                headers=headers or None,
                timeout=self._timeout,
            )
        except APIError as exc:
            if exc.err_code == MAX_MSGS_PER_SUBJECT_EXCEEDED:
                raise InFlight("a window of this pair is in flight; replay it later") from exc
            raise ReplayRefused(f"JetStream refused the replay: {exc.description}") from exc
        except nats.errors.NoRespondersError as exc:
            raise ReplayRefused(f"no stream stores {letter.original_subject}") from exc

    async def discard(self, sequence: int) -> bool:
        try:
            return bool(await self._js.delete_msg(DLQ_STREAM, sequence))
        except (NotFoundError, APIError):
            return False


def _parse(
    sequence: int, stored_at: datetime | None, data: bytes | None
) -> StoredDeadLetter | None:
    try:
        letter = DeadLetter.model_validate_json(data or b"")
    except ValidationError:
        return None
    return StoredDeadLetter(sequence=sequence, stored_at=stored_at, letter=letter)
