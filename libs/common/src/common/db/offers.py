"""Inventory API offers: a snapshot family.

Written only by the writer.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from common.db.base import Base, Money, SnapshotRow
from common.db.upsert import mirrored
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


# Offers carry no last-modified date: each snapshot's version simply replaces the last.
OFFERS = mirrored(EbayOffer, family=Family.OFFERS)
