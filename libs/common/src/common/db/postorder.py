"""Post-Order cases, inquiries and returns, and Fulfillment payment disputes.

Written only by the writer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, Money


class EbayCase(MirroredRow, Base):
    __tablename__ = "ebay_cases"

    case_id: Mapped[str] = mapped_column(primary_key=True)
    case_status: Mapped[str | None] = mapped_column(index=True)
    item_id: Mapped[str | None]
    transaction_id: Mapped[str | None]
    buyer: Mapped[str | None]
    claim_amount_value: Mapped[Decimal | None] = mapped_column(Money)
    claim_amount_currency: Mapped[str | None]
    creation_date: Mapped[datetime | None] = mapped_column(index=True)
    last_modified_date: Mapped[datetime | None]
    respond_by_date: Mapped[datetime | None]


class EbayInquiry(MirroredRow, Base):
    __tablename__ = "ebay_inquiries"

    inquiry_id: Mapped[str] = mapped_column(primary_key=True)
    inquiry_status: Mapped[str | None] = mapped_column(index=True)
    item_id: Mapped[str | None]
    transaction_id: Mapped[str | None]
    buyer: Mapped[str | None]
    claim_amount_value: Mapped[Decimal | None] = mapped_column(Money)
    claim_amount_currency: Mapped[str | None]
    creation_date: Mapped[datetime | None] = mapped_column(index=True)
    last_modified_date: Mapped[datetime | None]
    respond_by_date: Mapped[datetime | None]


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
