"""Declarative base, shared column types and the naming convention every table follows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, MetaData, Numeric, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        str: Text,
        int: BigInteger,
    }


# eBay amounts: two decimals are enough for every currency eBay settles in.
Money = Numeric(14, 2)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


class MirroredRow:
    """Columns every mirrored eBay entity has: its account, raw payload and bookkeeping."""

    # First in the key and in the table: every query and index is per account.
    account_id: Mapped[int] = mapped_column(primary_key=True, sort_order=-10)
    payload: Mapped[dict[str, Any]]
    first_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_run_id: Mapped[UUID]


class SnapshotRow(MirroredRow):
    """A row of a snapshot family: a complete snapshot that misses it marks it ended."""

    ended_at: Mapped[datetime | None]
