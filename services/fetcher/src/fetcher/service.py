"""Pages through one window and publishes every page, checkpointing as it goes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import SecretStr

from common.ebay.errors import EbayAuthError, EbayTransientError
from common.ebay.fulfillment import FulfillmentClient, OrdersPage, last_modified_filter
from common.messages import PageBatch, SyncWindow
from fetcher.domain import Checkpoint, after_page, split_records
from fetcher.tokens import TokenClient

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


class OrdersFetcher:
    def __init__(
        self,
        tokens: TokenClient,
        client: FulfillmentClient,
        checkpoints: CheckpointStore,
        publish: PublishPage,
        *,
        page_size: int,
        max_page_bytes: int,
        max_passes: int,
    ) -> None:
        self._tokens = tokens
        self._client = client
        self._checkpoints = checkpoints
        self._publish = publish
        self._page_size = page_size
        self._max_page_bytes = max_page_bytes
        self._max_passes = max_passes

    async def fetch(self, window: SyncWindow) -> int:
        """Fetch the window from its checkpoint on; a redelivered window resumes, not restarts.

        Returns how many pages this call published.
        """
        checkpoint = await self._checkpoints.load(window)
        if checkpoint.done:
            return 0
        first_page_no = checkpoint.next_page_no
        assert window.window_from is not None, "orders are fetched in windows"
        order_filter = last_modified_filter(window.window_from, window.window_to)
        token = await self._tokens.access_token(window.account_id)
        while True:
            page, token = await self._get_page(window, token, order_filter, checkpoint.offset)
            chunks = split_records(page.orders, self._max_page_bytes)
            outcome = after_page(
                checkpoint,
                total=page.total,
                received=len(page.orders),
                has_next=page.has_next,
                published_pages=len(chunks),
                max_passes=self._max_passes,
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
                    )
                )
            checkpoint = outcome.checkpoint
            await self._checkpoints.save(window, checkpoint)
            if outcome.gave_up:
                raise WindowUnstableError(
                    f"orders kept moving during {self._max_passes} passes of run {window.run_id}"
                )
            if outcome.ends_window:
                log.info(
                    "run %s: %s pages for account %s",
                    window.run_id,
                    checkpoint.next_page_no - 1,
                    window.account_id,
                )
                return checkpoint.next_page_no - first_page_no

    async def _get_page(
        self, window: SyncWindow, token: SecretStr, order_filter: str, offset: int
    ) -> tuple[OrdersPage, SecretStr]:
        try:
            page = await self._client.get_orders(
                token, order_filter=order_filter, offset=offset, limit=self._page_size
            )
        except EbayAuthError:
            # The token expired or was revoked early: ask for a fresh one and try once more.
            token = await self._tokens.access_token(window.account_id, force_refresh=True)
            page = await self._client.get_orders(
                token, order_filter=order_filter, offset=offset, limit=self._page_size
            )
        return page, token
