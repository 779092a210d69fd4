"""Tables of the families that later work fills (DESIGN §1); created now so the schema is whole.

Each has its natural key, the columns operators query, the raw payload, and bookkeeping.
Written only by the writer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, SnapshotRow

Money = Numeric(14, 2)


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


class EbayOffer(SnapshotRow, Base):
    __tablename__ = "ebay_offers"

    offer_id: Mapped[str] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(index=True)
    marketplace_id: Mapped[str | None]
    format: Mapped[str | None]
    status: Mapped[str | None]
    listing_id: Mapped[str | None]
    listing_status: Mapped[str | None]
    available_quantity: Mapped[int | None] = mapped_column(Integer)
    price_value: Mapped[Decimal | None] = mapped_column(Money)
    price_currency: Mapped[str | None]


class EbayMessage(MirroredRow, Base):
    __tablename__ = "ebay_messages"

    message_id: Mapped[str] = mapped_column(primary_key=True)
    sender: Mapped[str | None]
    recipient: Mapped[str | None]
    subject: Mapped[str | None]
    receive_date: Mapped[datetime | None] = mapped_column(index=True)
    folder_id: Mapped[int | None] = mapped_column(Integer)
    is_read: Mapped[bool | None]
    item_id: Mapped[str | None]


class EbayActiveListing(SnapshotRow, Base):
    __tablename__ = "ebay_active_listings"

    item_id: Mapped[str] = mapped_column(primary_key=True)
    sku: Mapped[str | None]
    title: Mapped[str | None]
    listing_type: Mapped[str | None]
    quantity: Mapped[int | None] = mapped_column(Integer)
    quantity_available: Mapped[int | None] = mapped_column(Integer)
    current_price_value: Mapped[Decimal | None] = mapped_column(Money)
    current_price_currency: Mapped[str | None]
    start_time: Mapped[datetime | None]


class EbayPurchase(MirroredRow, Base):
    __tablename__ = "ebay_purchases"

    order_line_item_id: Mapped[str] = mapped_column(primary_key=True)
    order_id: Mapped[str | None]
    item_id: Mapped[str | None]
    transaction_id: Mapped[str | None]
    seller_user_id: Mapped[str | None]
    title: Mapped[str | None]
    quantity: Mapped[int | None] = mapped_column(Integer)
    price_value: Mapped[Decimal | None] = mapped_column(Money)
    price_currency: Mapped[str | None]
    created_date: Mapped[datetime | None] = mapped_column(index=True)


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
