"""Trading API (XML) families: messages, active listings (a snapshot) and purchases.

Written only by the writer.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, Money, SnapshotRow
from common.db.upsert import mirrored
from common.families import Family


class EbayMessage(MirroredRow, Base):
    __tablename__ = "ebay_messages"
    # A seller's messages by folder, newest first (the operator's mailbox view).
    __table_args__ = (Index("ix_ebay_messages_folder", "account_id", "folder_id", "receive_date"),)

    message_id: Mapped[str] = mapped_column(primary_key=True)
    sender: Mapped[str | None]
    recipient: Mapped[str | None]
    subject: Mapped[str | None]
    receive_date: Mapped[datetime | None] = mapped_column(index=True)
    folder_id: Mapped[int | None] = mapped_column(BigInteger)
    is_read: Mapped[bool | None]
    flagged: Mapped[bool | None]
    replied: Mapped[bool | None]
    # Filed into the folder eBay's My Messages names "Archive" (common.ebay.trading).
    archived: Mapped[bool | None]
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


MESSAGES = mirrored(EbayMessage, family=Family.MESSAGES)
ACTIVE_LISTINGS = mirrored(EbayActiveListing, family=Family.ACTIVE_INVENTORY)
PURCHASES = mirrored(EbayPurchase, family=Family.PURCHASES)
