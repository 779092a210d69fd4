"""Which table each family's pages are written to, and how its records map to rows.

To add a family: its table and :class:`UpsertSpec` in ``common.db``, its pure mapping in
``writer.mappings``, and one entry in :data:`FAMILY_TABLES` (docs/adr/0006-families.md;
``tests/test_family_specs.py`` checks the table and key against the family's ``FamilySpec``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.db.finances import PAYOUTS, TRANSACTION_FEES, TRANSACTIONS
from common.db.offers import OFFERS
from common.db.orders import LINE_ITEMS, ORDERS
from common.db.postorder import CASES, INQUIRIES, PAYMENT_DISPUTES, RETURNS
from common.db.trading import ACTIVE_LISTINGS, MESSAGES, PURCHASES
from common.db.upsert import UpsertSpec
from common.families import Family
from writer.domain import Mapped
from writer.mappings.finances import map_payout, map_transaction
from writer.mappings.offers import map_offer
from writer.mappings.orders import map_order
from writer.mappings.postorder import (
    map_case,
    map_inquiry,
    map_payment_dispute,
    map_return,
)
from writer.mappings.trading import map_active_listing, map_message, map_purchase

Mapper = Callable[[int, dict[str, Any]], Mapped]


@dataclass(frozen=True)
class FamilyTable:
    spec: UpsertSpec
    map_record: Mapper
    # Tables filled from the same records (an order's line items), written after ``spec``.
    child_specs: tuple[UpsertSpec, ...] = ()


FAMILY_TABLES: dict[Family, FamilyTable] = {
    Family.ORDERS: FamilyTable(ORDERS, map_order, (LINE_ITEMS,)),
    Family.CASES: FamilyTable(CASES, map_case),
    Family.INQUIRIES: FamilyTable(INQUIRIES, map_inquiry),
    Family.RETURNS: FamilyTable(RETURNS, map_return),
    Family.PAYMENT_DISPUTES: FamilyTable(PAYMENT_DISPUTES, map_payment_dispute),
    Family.OFFERS: FamilyTable(OFFERS, map_offer),
    Family.TRANSACTIONS: FamilyTable(TRANSACTIONS, map_transaction, (TRANSACTION_FEES,)),
    Family.FINANCES: FamilyTable(PAYOUTS, map_payout),
    Family.MESSAGES: FamilyTable(MESSAGES, map_message),
    Family.ACTIVE_INVENTORY: FamilyTable(ACTIVE_LISTINGS, map_active_listing),
    Family.PURCHASES: FamilyTable(PURCHASES, map_purchase),
}
