"""Which table each family's pages are written to, and how its records map to rows.

To add a family: its table and :class:`UpsertSpec` in ``common.db``, its pure mapping in
``writer.mappings``, and one entry in :data:`FAMILY_TABLES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from common.db.orders import LINE_ITEMS, ORDERS
from common.db.upsert import UpsertSpec
from common.families import Family
from writer.domain import Mapped
from writer.mappings.orders import map_order

Mapper = Callable[[int, dict[str, Any]], Mapped]


@dataclass(frozen=True)
class FamilyTable:
    spec: UpsertSpec
    map_record: Mapper
    # Tables filled from the same records (an order's line items), written after ``spec``.
    child_specs: tuple[UpsertSpec, ...] = ()


FAMILY_TABLES: dict[Family, FamilyTable] = {
    Family.ORDERS: FamilyTable(ORDERS, map_order, (LINE_ITEMS,)),
}
