"""Post-Order cases, inquiries and returns, and Fulfillment payment disputes.

Written only by the writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, Money
from common.db.upsert import mirrored
from common.families import Family


class _ClaimSummaryRow(MirroredRow):
    """What a case summary and an inquiry summary both carry (CaseSummaryType and the
    inquiry search's member name the same fields), after each one's id and status."""

    item_id: Mapped[str | None]
    transaction_id: Mapped[str | None]
    buyer: Mapped[str | None]
    claim_amount_value: Mapped[Decimal | None] = mapped_column(Money)
    claim_amount_currency: Mapped[str | None]
    creation_date: Mapped[datetime | None] = mapped_column(index=True)
    last_modified_date: Mapped[datetime | None]
    respond_by_date: Mapped[datetime | None]


class EbayCase(_ClaimSummaryRow, Base):
    __tablename__ = "ebay_cases"

    case_id: Mapped[str] = mapped_column(primary_key=True)
    case_status: Mapped[str | None] = mapped_column(index=True)


class EbayInquiry(_ClaimSummaryRow, Base):
    __tablename__ = "ebay_inquiries"

    inquiry_id: Mapped[str] = mapped_column(primary_key=True)
    inquiry_status: Mapped[str | None] = mapped_column(index=True)


class EbayReturn(MirroredRow, Base):
    __tablename__ = "ebay_returns"

    return_id: Mapped[str] = mapped_column(primary_key=True)
    state: Mapped[str | None] = mapped_column(index=True)
    status: Mapped[str | None]
    current_type: Mapped[str | None]
    item_id: Mapped[str | None]
    transaction_id: Mapped[str | None]
    buyer_login_name: Mapped[str | None]
    seller_total_refund_value: Mapped[Decimal | None] = mapped_column(Money)
    seller_total_refund_currency: Mapped[str | None]
    creation_date: Mapped[datetime | None] = mapped_column(index=True)
    seller_response_due: Mapped[datetime | None]


class EbayPaymentDispute(MirroredRow, Base):
    __tablename__ = "ebay_payment_disputes"

    payment_dispute_id: Mapped[str] = mapped_column(primary_key=True)
    payment_dispute_status: Mapped[str | None] = mapped_column(index=True)
    reason: Mapped[str | None]
    order_id: Mapped[str | None]
    amount_value: Mapped[Decimal | None] = mapped_column(Money)
    amount_currency: Mapped[str | None]
    open_date: Mapped[datetime | None] = mapped_column(index=True)
    closed_date: Mapped[datetime | None]
    respond_by_date: Mapped[datetime | None]


# Cases and inquiries carry lastModifiedDate (CaseSummaryType; the inquiry member likewise), so
# an older version never overwrites a newer one. Return and dispute summaries carry no
# last-modified date: their rows simply take the latest page written.
CASES = mirrored(EbayCase, family=Family.CASES, version_column="last_modified_date")
INQUIRIES = mirrored(EbayInquiry, family=Family.INQUIRIES, version_column="last_modified_date")
RETURNS = mirrored(EbayReturn, family=Family.RETURNS)
PAYMENT_DISPUTES = mirrored(EbayPaymentDispute, family=Family.PAYMENT_DISPUTES)


class EbayClaimDetail(Base):
    """The detail call's answer for an inquiry, a return or a payment dispute (history,
    tracking, refund lines; evidence and activity), read when its summary changed
    (fetcher.sources.details). Kept apart from the summary's row, so a page whose summary did
    not change (and so carries no detail) never erases it."""

    __tablename__ = "ebay_claim_details"

    account_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ebay_accounts.id"), primary_key=True
    )
    family: Mapped[str] = mapped_column(String, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String, primary_key=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fetched_at: Mapped[datetime]
    last_run_id: Mapped[UUID]


async def upsert_details(
    session: AsyncSession,
    family: Family,
    account_id: int,
    details: Mapping[str, dict[str, Any]],
    *,
    run_id: UUID,
    now: datetime,
) -> None:
    """Store each entity's latest detail (by entity id), in the page's transaction."""
    if not details:
        return
    rows = [
        {
            "account_id": account_id,
            "family": str(family),
            "entity_id": entity_id,
            "detail": detail,
            "fetched_at": now,
            "last_run_id": run_id,
        }
        for entity_id, detail in sorted(details.items())  # key order: no deadlock
    ]
    stmt = insert(EbayClaimDetail).values(rows)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["account_id", "family", "entity_id"],
            set_={
                "detail": stmt.excluded.detail,
                "fetched_at": stmt.excluded.fetched_at,
                "last_run_id": stmt.excluded.last_run_id,
            },
        )
    )
