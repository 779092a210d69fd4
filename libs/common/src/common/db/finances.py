"""Finances API: transactions and payouts (apiz host; EU/UK sellers sign their calls).

Written only by the writer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, Money


class EbayTransaction(MirroredRow, Base):
    __tablename__ = "ebay_transactions"

    transaction_id: Mapped[str] = mapped_column(primary_key=True)
    transaction_type: Mapped[str] = mapped_column(primary_key=True)
    transaction_status: Mapped[str | None]
    transaction_date: Mapped[datetime] = mapped_column(index=True)
    order_id: Mapped[str | None]
    payout_id: Mapped[str | None]
    amount_value: Mapped[Decimal | None] = mapped_column(Money)
    amount_currency: Mapped[str | None]
    booking_entry: Mapped[str | None]


class EbayPayout(MirroredRow, Base):
    __tablename__ = "ebay_payouts"

    payout_id: Mapped[str] = mapped_column(primary_key=True)
    payout_status: Mapped[str | None]
    payout_date: Mapped[datetime | None] = mapped_column(index=True)
    amount_value: Mapped[Decimal | None] = mapped_column(Money)
    amount_currency: Mapped[str | None]
