"""Pages through one window and publishes every page, checkpointing as it goes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from common.ebay.errors import EbayAuthError, EbayTransientError
from common.families import SNAPSHOT_FAMILIES, Family
from common.messages import PageBatch, SyncWindow
from fetcher.domain import Checkpoint, after_page, split_records
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.tokens import AccountToken, TokenClient

log = logging.getLogger(__name__)

PublishPage = Callable[[PageBatch], Awaitable[None]]


class WindowUnstableError(EbayTransientError):
    """Rows kept moving in every pass over the window; try the window again later."""


class CheckpointStore:
    """Fetch checkpoints in a KV bucket, one key per run."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv

    async def load(self, window: SyncWindow) -> Checkpoint:
        try:
            entry = await self._kv.get(str(window.run_id))
        except KeyNotFoundError:
            return Checkpoint()
        return Checkpoint() if entry.value is None else Checkpoint.model_validate_json(entry.value)

    async def save(self, window: SyncWindow, checkpoint: Checkpoint) -> None:
        await self._kv.put(str(window.run_id), checkpoint.model_dump_json().encode())


class UnsupportedFamilyError(ValueError):
    """The window names a family this fetcher has no source for."""


class WindowFetcher:
    """Fetches any family's window through that family's :class:`Source`."""

    def __init__(
        self,
        tokens: TokenClient,
        sources: Mapping[Family, Source],
        checkpoints: CheckpointStore,
        publish: PublishPage,
        *,
        max_page_bytes: int,
        max_passes: int,
    ) -> None:
        self._tokens = tokens
        self._sources = sources
        self._checkpoints = checkpoints
        self._publish = publish
        self._max_page_bytes = max_page_bytes
        self._max_passes = max_passes

    async def fetch(self, window: SyncWindow) -> int:
        """Fetch the window from its checkpoint on; a redelivered window resumes, not restarts.

        Returns how many pages this call published.
        """
        source = self._sources.get(window.family)
        if source is None:
            raise UnsupportedFamilyError(f"no source for family {window.family}")
        checkpoint = await self._checkpoints.load(window)
        if checkpoint.done:
            return 0
        first_page_no = checkpoint.next_page_no
        snapshot = window.family in SNAPSHOT_FAMILIES
        account = await self._tokens.access_token(window.account_id)
        while True:
            request = PageRequest(
                window, account, source.phases[checkpoint.phase], checkpoint.offset
            )
            page, account = await self._get_page(source, request)
            chunks = split_records(page.records, self._max_page_bytes)
            outcome = after_page(
                checkpoint,
                page.shape,
                published_pages=len(chunks),
                max_passes=self._max_passes,
                phases=len(source.phases),
                snapshot=snapshot,
            )
            now = datetime.now(UTC)
            for index, records in enumerate(chunks):
                page_no = checkpoint.next_page_no + index
                is_last = outcome.ends_window and index == len(chunks) - 1
                await self._publish(
                    PageBatch(
                        run_id=window.run_id,
                        account_id=window.account_id,
                        family=window.family,
                        window_from=window.window_from,
                        window_to=window.window_to,
                        trigger=window.trigger,
                        page_no=page_no,
                        page_count=page_no if is_last else None,
                        fetched_at=now,
                        records=records,
                        snapshot_complete=(
                            not outcome.checkpoint.incomplete if is_last and snapshot else None
                        ),
                    )
                )
            checkpoint = outcome.checkpoint
            await self._checkpoints.save(window, checkpoint)
            if outcome.gave_up:
                raise WindowUnstableError(
                    f"{window.family} kept moving during {self._max_passes} passes "
                    f"of run {window.run_id}"
                )
            if outcome.ends_window:
                log.info(
                    "run %s: %s pages of %s for account %s",
                    window.run_id,
                    checkpoint.next_page_no - 1,
                    window.family,
                    window.account_id,
                )
                return checkpoint.next_page_no - first_page_no

    async def _get_page(
        self, source: Source, request: PageRequest
    ) -> tuple[SourcePage, AccountToken]:
        try:
            return await source.page(request), request.account
        except EbayAuthError:
            # The token expired or was revoked early: ask for a fresh one and try once more.
            account = await self._tokens.access_token(request.window.account_id, force_refresh=True)
            return await source.page(replace(request, account=account)), account
