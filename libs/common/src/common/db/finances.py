"""Finances API: transactions and payouts (apiz host; EU/UK sellers sign their calls).

Written only by the writer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKeyConstraint, Integer
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, Money
from common.db.upsert import mirrored
from common.families import Family


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
    # Migration 0004: what finance reports filter and sum on besides the amount.
    fee_type: Mapped[str | None]
    total_fee_value: Mapped[Decimal | None] = mapped_column(Money)
    total_fee_currency: Mapped[str | None]
    buyer_username: Mapped[str | None]


class EbayTransactionFee(MirroredRow, Base):
    """A fee eBay deducted for one line item of a transaction (``orderLineItems[]
    .marketplaceFees[]``); several fees of one type on one line item are one row, summed."""

    __tablename__ = "ebay_transaction_fees"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "transaction_id", "transaction_type"],
            [
                "ebay_transactions.account_id",
                "ebay_transactions.transaction_id",
                "ebay_transactions.transaction_type",
            ],
        ),
    )

    transaction_id: Mapped[str] = mapped_column(primary_key=True)
    transaction_type: Mapped[str] = mapped_column(primary_key=True)
    line_item_id: Mapped[str] = mapped_column(primary_key=True)
    fee_type: Mapped[str] = mapped_column(primary_key=True)
    amount_value: Mapped[Decimal | None] = mapped_column(Money)
    amount_currency: Mapped[str | None]


class EbayPayout(MirroredRow, Base):
    __tablename__ = "ebay_payouts"

    payout_id: Mapped[str] = mapped_column(primary_key=True)
    payout_status: Mapped[str | None]
    payout_date: Mapped[datetime | None] = mapped_column(index=True)
    amount_value: Mapped[Decimal | None] = mapped_column(Money)
    amount_currency: Mapped[str | None]
    # Migration 0004: failed payout attempts and how many transactions a payout settles.
    last_attempted_payout_date: Mapped[datetime | None]
    transaction_count: Mapped[int | None] = mapped_column(Integer)


# Transactions and payouts carry no last-modified date: their status moves on (a payout goes
# INITIATED -> SUCCEEDED) while the date the window filters on stays, so a later window does
# not see the change; the row is as fresh as the last window that covered its date.
TRANSACTIONS = mirrored(EbayTransaction, family=Family.TRANSACTIONS)
PAYOUTS = mirrored(EbayPayout, family=Family.FINANCES)
# Written with its transaction, in the same transaction; a fee the transaction no longer
# lists is deleted (the transaction's changed event records the old and new fees).
TRANSACTION_FEES = mirrored(EbayTransactionFee, parent=TRANSACTIONS)
