"""Inventory API offers: a snapshot family.

Written only by the writer.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, Money, SnapshotRow
from common.db.upsert import UpsertSpec
from common.families import Family


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


OFFERS = UpsertSpec(
    table=EbayOffer.__table__,  # type: ignore[arg-type]
    key=("account_id", "offer_id"),
    columns=(
        "sku",
        "marketplace_id",
        "format",
        "status",
        "listing_id",
        "listing_status",
        "available_quantity",
        "price_value",
        "price_currency",
        "payload",
    ),
    family=Family.OFFERS,
    entity_column="offer_id",
    # Offers carry no last-modified date: each snapshot's version simply replaces the last.
    snapshot=True,
)
