"""Orders and their line items (Fulfillment getOrders). Written only by the writer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKeyConstraint, Integer
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, MirroredRow, Money
from common.db.upsert import mirrored
from common.families import Family


class EbayOrder(MirroredRow, Base):
    __tablename__ = "ebay_orders"

    order_id: Mapped[str] = mapped_column(primary_key=True)
    legacy_order_id: Mapped[str | None]
    creation_date: Mapped[datetime]
    last_modified_date: Mapped[datetime] = mapped_column(index=True)
    fulfillment_status: Mapped[str | None]
    payment_status: Mapped[str | None]
    cancel_state: Mapped[str | None]
    buyer_username: Mapped[str | None]
    total_value: Mapped[Decimal | None] = mapped_column(Money)
    total_currency: Mapped[str | None]


class EbayOrderLineItem(MirroredRow, Base):
    __tablename__ = "ebay_order_line_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["account_id", "order_id"], ["ebay_orders.account_id", "ebay_orders.order_id"]
        ),
    )

    order_id: Mapped[str] = mapped_column(primary_key=True)
    line_item_id: Mapped[str] = mapped_column(primary_key=True)
    legacy_item_id: Mapped[str | None]
    sku: Mapped[str | None]
    title: Mapped[str | None]
    quantity: Mapped[int | None] = mapped_column(Integer)
    line_item_cost_value: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None]
    fulfillment_status: Mapped[str | None]
    # The order's version: line items of an older order version never overwrite newer ones.
    order_last_modified_date: Mapped[datetime]


ORDERS = mirrored(EbayOrder, family=Family.ORDERS, version_column="last_modified_date")
LINE_ITEMS = mirrored(
    EbayOrderLineItem,
    version_column="order_last_modified_date",
    # A line item that leaves the order goes; the order's changed event records it.
    parent=ORDERS,
)
