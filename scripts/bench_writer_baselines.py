"""The raw baselines ``scripts/bench_writer.py`` compares the pipeline with: one upsert per row
(naive), and COPY into a stage table with one upsert per table and page (bulk)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped, unused-ignore]
import orjson

from common.db.orders import LINE_ITEMS, ORDERS
from common.db.upsert import BOOKKEEPING
from writer.mappings.orders import map_order

Order = dict[str, Any]
Row = dict[str, Any]


def mapped(account_id: int, orders: Sequence[Order]) -> tuple[list[Row], list[Row]]:
    """The same rows the writer writes (its own pure mapping), as asyncpg takes them."""
    order_rows: list[Row] = []
    item_rows: list[Row] = []
    for raw in orders:
        result = map_order(account_id, raw)
        order_rows.append(result.row)
        for children in result.children.values():
            item_rows.extend(children)
    return order_rows, item_rows


def bookkeeping(row: Row, now: datetime, run_id: uuid.UUID) -> Row:
    return {
        **row,
        "payload": orjson.dumps(row["payload"]).decode(),
        "first_seen_at": now,
        "updated_at": now,
        "last_run_id": run_id,
    }


def copy_records(
    rows: Sequence[Row], columns: Sequence[str], now: datetime, run_id: uuid.UUID
) -> list[tuple[Any, ...]]:
    return [tuple(bookkeeping(row, now, run_id)[c] for c in columns) for row in rows]


ORDER_KEY = ORDERS.key
ITEM_KEY = LINE_ITEMS.key


def upsert_sql(table: str, key: tuple[str, ...], columns: tuple[str, ...], source: str) -> str:
    """``INSERT … ON CONFLICT DO UPDATE`` that skips unchanged rows; ``source``: VALUES/SELECT."""
    every = (*key, *columns, *BOOKKEEPING)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in (*columns, "updated_at", "last_run_id"))
    old = ", ".join(f"{table}.{c}" for c in columns)
    new = ", ".join(f"EXCLUDED.{c}" for c in columns)
    return (
        f"INSERT INTO {table} ({', '.join(every)}) {source} "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates} "
        f"WHERE ({old}) IS DISTINCT FROM ({new})"
    )


def values_source(key: tuple[str, ...], columns: tuple[str, ...]) -> str:
    every = (*key, *columns, *BOOKKEEPING)
    return "VALUES (" + ", ".join(f"${i}" for i in range(1, len(every) + 1)) + ")"


async def naive_seconds(dsn: str, account_id: int, orders: Sequence[Order]) -> float:
    """One upsert per row, one transaction per order."""
    order_sql = upsert_sql(
        "ebay_orders", ORDER_KEY, ORDERS.columns, values_source(ORDER_KEY, ORDERS.columns)
    )
    item_sql = upsert_sql(
        "ebay_order_line_items",
        ITEM_KEY,
        LINE_ITEMS.columns,
        values_source(ITEM_KEY, LINE_ITEMS.columns),
    )
    order_cols = (*ORDER_KEY, *ORDERS.columns, *BOOKKEEPING)
    item_cols = (*ITEM_KEY, *LINE_ITEMS.columns, *BOOKKEEPING)
    connection = await asyncpg.connect(dsn)
    try:
        run_id, now = uuid.uuid4(), datetime.now(UTC)
        started = time.perf_counter()
        for raw in orders:
            [order], items = mapped(account_id, [raw])
            async with connection.transaction():
                row = bookkeeping(order, now, run_id)
                await connection.execute(order_sql, *(row[c] for c in order_cols))
                for item in items:
                    row = bookkeeping(item, now, run_id)
                    await connection.execute(item_sql, *(row[c] for c in item_cols))
        return time.perf_counter() - started
    finally:
        await connection.close()


async def bulk_seconds(dsn: str, account_id: int, pages: Sequence[list[Order]]) -> float:
    """Per page: COPY into a stage table, one ``INSERT … SELECT … ON CONFLICT`` per table."""
    order_cols = (*ORDER_KEY, *ORDERS.columns, *BOOKKEEPING)
    item_cols = (*ITEM_KEY, *LINE_ITEMS.columns, *BOOKKEEPING)
    order_sql = upsert_sql(
        "ebay_orders", ORDER_KEY, ORDERS.columns, f"SELECT {', '.join(order_cols)} FROM stage_o"
    )
    item_sql = upsert_sql(
        "ebay_order_line_items",
        ITEM_KEY,
        LINE_ITEMS.columns,
        f"SELECT {', '.join(item_cols)} FROM stage_i",
    )
    connection = await asyncpg.connect(dsn)
    try:
        run_id, now = uuid.uuid4(), datetime.now(UTC)
        started = time.perf_counter()
        for page in pages:
            orders, items = mapped(account_id, page)
            async with connection.transaction():
                await connection.execute(
                    "CREATE TEMP TABLE stage_o (LIKE ebay_orders) ON COMMIT DROP;"
                    "CREATE TEMP TABLE stage_i (LIKE ebay_order_line_items) ON COMMIT DROP"
                )
                await connection.copy_records_to_table(
                    "stage_o",
                    records=copy_records(orders, order_cols, now, run_id),
                    columns=list(order_cols),
                )
                await connection.copy_records_to_table(
                    "stage_i",
                    records=copy_records(items, item_cols, now, run_id),
                    columns=list(item_cols),
                )
                await connection.execute(order_sql)
                await connection.execute(item_sql)
        return time.perf_counter() - started
    finally:
        await connection.close()
