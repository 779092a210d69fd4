"""What the writer refuses before it writes a page (docs/adr/0008-the-subject-is-the-identity.md).

The pair comes from the subject (checked by :mod:`common.intake` before the handler runs); here:

* the pair's account must exist and be active — a page for any other is dead-lettered at once
  (checked by :class:`writer.service.PageWriter` with the first statement of the page's
  transaction, which locks the pair anyway: no second round trip);
* nothing may lie in the future: ``window_to`` would move the forward-only cursor past every
  genuine window, and a record's version (``lastModifiedDate``) past every genuine update. Both
  are bounded by the deployment's "now" plus a small skew.

The decisions are pure; :class:`PageGate` only reads the clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from common.db.accounts import EbayAccount
from common.messages import PageBatch
from writer.families import FAMILY_TABLES


class RefusedPageError(ValueError):
    """A page refused before it is written (unknown account, future dates): dead-lettered."""


def account_refusal(account_id: int, account: EbayAccount | bool | None) -> str | None:
    """Why a page of ``account_id`` may not be written to ``account`` (or to an account whose
    ``active`` flag is given), or None."""
    if account is None:
        return f"account {account_id} does not exist"
    active = account if isinstance(account, bool) else account.active
    if not active:
        return f"account {account_id} is deactivated"
    return None


def future_refusal(page: PageBatch, now: datetime, skew: timedelta) -> str | None:
    """Why the page reaches beyond ``now + skew``, or None.

    Raises :class:`writer.domain.MalformedRecordError` for a record that does not map at all.
    """
    limit = now + skew
    if page.window_to > limit:
        return (
            f"window_to {page.window_to.isoformat()} lies beyond now + {skew} ({limit.isoformat()})"
        )
    table = FAMILY_TABLES.get(page.family)
    version = table.spec.version_column if table is not None else None
    if table is None or version is None:
        return None
    for raw in page.records:
        row = table.map_record(page.account_id, raw).row
        stamp = row[version]
        if stamp is not None and stamp > limit:
            key = "/".join(str(row[k]) for k in table.spec.key if k != "account_id")
            return (
                f"{table.spec.table.name} {key}: {version} {stamp.isoformat()} lies beyond "
                f"now + {skew} ({limit.isoformat()})"
            )
    return None


@dataclass(frozen=True)
class PageGate:
    clock: Callable[[], datetime]
    future_skew: timedelta
    # Re-reads a remote clock (common.clock.FollowingClock.sync): a sandbox clock moved ahead
    # since the last reading must not make genuine pages look forged.
    resync_clock: Callable[[], Awaitable[None]] | None = None

    async def refusal(self, page: PageBatch) -> str | None:
        """Why the page must be dead-lettered instead of written, or None to write it."""
        refused = future_refusal(page, self.clock(), self.future_skew)
        if refused is not None and self.resync_clock is not None:
            await self.resync_clock()
            refused = future_refusal(page, self.clock(), self.future_skew)
        return refused
