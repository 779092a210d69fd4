"""Pages through one window and publishes every page, checkpointing as it goes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from nats.errors import NoRespondersError
from pydantic import SecretStr
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from common.control import CancelRequests
from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayPayloadError,
    EbayQuotaError,
    EbayTransientError,
)
from common.failures import retried_in_place
from common.families import SNAPSHOT_FAMILIES, Family
from common.ledger import CallLedger, Wait, calls_for
from common.messages import PageBatch, PageNote, SyncWindow
from common.metrics import PAGE_RETRIES, QUOTA_WAITS
from common.telemetry import annotate_ebay_failure
from fetcher.checkpoints import CheckpointStore, TakenOverError
from fetcher.domain import PageOutcome, after_page, split_records
from fetcher.settings import PageRetrySettings
from fetcher.sources.base import PageRequest, Source, SourcePage
from fetcher.tokens import AccountToken, TokenClient

log = logging.getLogger(__name__)

PublishPage = Callable[[PageBatch], Awaitable[None]]


class WindowUnstableError(EbayTransientError):
    """Rows kept moving in every pass over the window; try the window again later."""


class TokenServiceUnavailableError(EbayQuotaError):
    """No token service answered (none running, or none in time). Not the account's failure:
    like a spent quota, the window waits and comes back later, and the circuit breaker is not
    told (an ``EbayQuotaError``: the handler hands it back with the delivery's backoff, 2^n s,
    logged as a warning without a traceback)."""


class UnsupportedFamilyError(ValueError):
    """The window names a family this fetcher has no source for."""


# Which failed page calls are tried again at once, at the same offset: the policy's lowest rung.
is_retried_in_page = retried_in_place


def retry_kind(exc: BaseException | None) -> str:
    """The metric label of a retried page failure."""
    if isinstance(exc, EbayPayloadError):
        return "payload"
    return "http_5xx" if getattr(exc, "status", None) is not None else "transport"


def is_single_page(outcome: PageOutcome, revision: int | None) -> bool:
    """Whether the window ended with its first page and no checkpoint exists: then none is
    written (the caught-up case, one eBay call, saves a KV write).

    A delivery redelivered after a crash then finds no checkpoint and fetches that one page
    again; it goes out under the same message id (``<run_id>:1``), so JetStream drops it within
    its duplicate window and the writer's page receipt after it: nothing lost, nothing doubled.
    A window of more pages saved a checkpoint after its first page and keeps saving them.
    """
    return outcome.ends_window and revision is None


class WindowCancelledError(Exception):
    """An operator cancelled the run: the window stops before its next eBay call."""


# At most this many notes ride on one page (PageBatch.notes): the start and the latest retries.
MAX_NOTES = 50


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
        page_retry: PageRetrySettings | None = None,
        ledger: CallLedger | None = None,
        cancels: CancelRequests | None = None,
    ) -> None:
        self._page_retry = page_retry or PageRetrySettings()
        # Where operators' cancels are looked up before each eBay call; None: never cancelled.
        self._cancels = cancels
        # Counts and limits calls against the application's daily quotas; None: unlimited.
        self._ledger = ledger
        self._tokens = tokens
        self._sources = sources
        self._checkpoints = checkpoints
        self._publish = publish
        self._max_page_bytes = max_page_bytes
        self._max_passes = max_passes

    async def fetch(self, window: SyncWindow) -> int:
        """Fetch the window from its checkpoint on; a redelivered window resumes, not restarts.

        Returns how many pages this call published. A delivery whose window another delivery
        took over stops before its next eBay call and publishes nothing more: its late ack
        then changes nothing.
        """
        with calls_for(window.account_id):
            try:
                return await self._fetch(window)
            except TakenOverError as exc:
                log.warning("%s; this delivery stops (another fetcher has the window)", exc)
                return 0
            except WindowCancelledError:
                # The admin API marked the run cancelled and logged who; the window is done.
                log.info("run %s: cancelled by an operator; stopped", window.run_id)
                if self._cancels is not None:
                    await self._cancels.forget(window.run_id)
                return 0
            finally:
                await self._flush_calls()

    async def _fetch(self, window: SyncWindow) -> int:
        source = self._sources.get(window.family)
        if source is None:
            raise UnsupportedFamilyError(f"no source for family {window.family}")
        checkpoint, revision = await self._checkpoints.load(window)
        if checkpoint.done:
            return 0
        await self._admit(window)
        first_page_no = checkpoint.next_page_no
        # A targeted window reads a few ids, never the whole snapshot: it sweeps nothing.
        snapshot = window.family in SNAPSHOT_FAMILIES and window.targets is None
        account = await self._access_token(window)
        notes = [
            PageNote(
                at=datetime.now(UTC),
                kind="start",
                message=f"fetch {source.phases[checkpoint.phase]} from offset "
                f"{checkpoint.offset} (page {checkpoint.next_page_no})",
            )
        ]
        # The checkpoint was just read: the first call needs no second look at it.
        just_loaded = True
        while True:
            request = PageRequest(
                window, account, source.phases[checkpoint.phase], checkpoint.offset
            )
            # Before every eBay call and every publish: a zombie learns here that it is one.
            if not just_loaded:
                await self._ensure_current(window, revision)
            just_loaded = False
            if self._cancels is not None and await self._cancels.asked(window.run_id):
                # Done for good: a redelivery (a lost ack) finds the checkpoint done.
                stopped = checkpoint.model_copy(update={"done": True})
                await self._checkpoints.save(window, stopped, revision)
                raise WindowCancelledError(f"run {window.run_id} was cancelled")
            page, account = await self._get_page(source, request, notes)
            await self._ensure_current(window, revision)
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
                        fence=window.fence,
                        page_no=page_no,
                        page_count=page_no if is_last else None,
                        fetched_at=now,
                        records=records,
                        snapshot_complete=(
                            not outcome.checkpoint.incomplete if is_last and snapshot else None
                        ),
                        notes=notes[-MAX_NOTES:] if index == 0 else [],
                    )
                )
            notes = []
            if page.published is not None:
                await page.published()
            checkpoint = outcome.checkpoint
            if not is_single_page(outcome, revision):
                revision = await self._checkpoints.save(window, checkpoint, revision)
            await self._flush_calls()
            if outcome.gave_up:
                raise WindowUnstableError(
                    f"{window.family} kept moving during {self._max_passes} passes "
                    f"of run {window.run_id}"
                )
            if outcome.ends_window:
                # DEBUG: one line per window is hundreds a second at scale; the run log keeps it.
                log.debug(
                    "run %s: %s pages of %s for account %s",
                    window.run_id,
                    checkpoint.next_page_no - 1,
                    window.family,
                    window.account_id,
                )
                return checkpoint.next_page_no - first_page_no

    async def _get_page(
        self, source: Source, request: PageRequest, notes: list[PageNote]
    ) -> tuple[SourcePage, AccountToken]:
        try:
            return await self._page_with_retries(source, request, notes), request.account
        except EbayAuthError:
            # The token expired or was revoked early: ask for a fresh one and try once more.
            account = await self._access_token(request.window, rejected=request.account.token)
            again = replace(request, account=account)
            return await self._page_with_retries(source, again, notes), account

    async def _ensure_current(self, window: SyncWindow, revision: int | None) -> None:
        if not await self._checkpoints.is_current(window, revision):
            raise TakenOverError(f"run {window.run_id}: another delivery moved the checkpoint")

    async def _access_token(
        self, window: SyncWindow, *, rejected: SecretStr | None = None
    ) -> AccountToken:
        """The account's token; a token service that does not answer is waited for.

        A few quick retries ride out a restart; then the window goes back to JetStream with a
        delay (:class:`TokenServiceUnavailableError`), counted as no failure of the account.
        """
        settings = self._page_retry
        retrying = AsyncRetrying(
            retry=retry_if_exception_type((NoRespondersError, TimeoutError)),
            wait=wait_random_exponential(
                multiplier=settings.initial_seconds, max=settings.max_seconds
            ),
            stop=stop_after_attempt(settings.attempts),
            reraise=True,
        )
        try:
            return await retrying(self._tokens.access_token, window.account_id, rejected=rejected)
        except (NoRespondersError, TimeoutError) as exc:
            QUOTA_WAITS.labels(window.family, "token_service").inc()
            raise TokenServiceUnavailableError(
                f"token service unavailable for account {window.account_id} "
                f"({type(exc).__name__}); the window waits"
            ) from exc

    async def _page_with_retries(
        self, source: Source, request: PageRequest, notes: list[PageNote]
    ) -> SourcePage:
        """One page, retried at the same offset after a 5xx, a timeout or a dropped connection.

        Nothing is published before the page succeeds, so a retry duplicates nothing.
        """
        settings = self._page_retry
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retried_in_page),
            wait=wait_random_exponential(
                multiplier=settings.initial_seconds, max=settings.max_seconds
            ),
            stop=stop_after_attempt(settings.attempts),
            before_sleep=lambda state: self._log_retry(request, state, notes),
            reraise=True,
        )
        try:
            return await retrying(source.page, request)
        except EbayError as exc:
            annotate_ebay_failure(exc.request_id, str(exc))
            if not isinstance(exc, EbayQuotaError):
                raise
            # The window goes back with the time until the reset; while it waits, its
            # (account, family) pair stays in flight, which pauses exactly this pair.
            QUOTA_WAITS.labels(request.window.family, "ebay").inc()
            log.warning(
                "run %s: eBay quota spent for account %s; %s paused for %.0fs until the reset: %s",
                request.window.run_id,
                request.window.account_id,
                request.window.family,
                exc.retry_after or 0.0,
                exc,
            )
            raise

    def _log_retry(
        self, request: PageRequest, state: RetryCallState, notes: list[PageNote]
    ) -> None:
        exc = state.outcome.exception() if state.outcome else None
        request_id = exc.request_id if isinstance(exc, EbayError) else None
        annotate_ebay_failure(request_id, str(exc))
        notes.append(
            PageNote(
                at=datetime.now(UTC),
                kind="retry",
                message=f"{request.phase} page at offset {request.offset} failed ({exc}); "
                f"attempt {state.attempt_number + 1} of {self._page_retry.attempts} "
                f"in {state.upcoming_sleep:.2f}s",
                ebay_request_id=request_id,
            )
        )
        PAGE_RETRIES.labels(request.window.family, retry_kind(exc)).inc()
        log.warning(
            "run %s: %s page at offset %s failed (%s); attempt %d of %d in %.2fs",
            request.window.run_id,
            request.window.family,
            request.offset,
            exc,
            state.attempt_number + 1,
            self._page_retry.attempts,
            state.upcoming_sleep,
        )

    async def _admit(self, window: SyncWindow) -> None:
        """Hand the window back until the quota resets when the call ledger says wait."""
        if self._ledger is None:
            return
        decision = await self._ledger.check(window.family, window.account_id)
        if isinstance(decision, Wait):
            QUOTA_WAITS.labels(window.family, decision.reason).inc()
            log.warning(
                "run %s: %s of account %s waits %.0fs for the quota reset (%s)",
                window.run_id,
                window.family,
                window.account_id,
                decision.seconds,
                decision.reason,
            )
            raise EbayQuotaError(
                f"daily {window.family} call quota: {decision.reason}",
                retry_after=decision.seconds,
            )

    async def _flush_calls(self) -> None:
        if self._ledger is not None:
            await self._ledger.flush_if_due()
