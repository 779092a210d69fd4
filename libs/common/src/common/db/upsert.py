"""Bulk upserts that skip unchanged rows and record history in the same statement.

One ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE … WHERE … IS DISTINCT FROM`` per table
and page: a fixed number of bind parameters whatever the page size, rows locked in key order so
concurrent writers do not deadlock, and — in a data-modifying CTE of the same statement — one
``ebay_events`` row for every entity that was created or changed, none for unchanged ones.
Measured in STACK-NOTES §6 and §9.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, cast
from uuid import UUID

import orjson
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.base import MirroredRow, SnapshotRow
from common.db.topics import ENDED_TOPICS, topic_expression
from common.families import Family

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
BOOKKEEPING = ("first_seen_at", "updated_at", "last_run_id")
# Set by the statements themselves (a snapshot's end, a revival), never copied from a row.
_NOT_COPIED = (*BOOKKEEPING, "ended_at")


@dataclass(frozen=True)
class UpsertSpec:
    """How one mirrored table is upserted."""

    table: Table
    key: tuple[str, ...]
    # Columns copied from each incoming row besides the key; any difference is a change.
    columns: tuple[str, ...]
    # Names the entity in ebay_events; None means the table records no history of its own.
    family: Family | None = None
    entity_column: str | None = None
    # A last-modified column: a row is never overwritten by an older version of itself, so a
    # late redelivery of an old page cannot roll data back.
    version_column: str | None = None
    # A snapshot family's table (with ``ended_at``): an upsert revives an ended row, and a
    # complete snapshot ends the rows it did not contain (:func:`end_unseen`).
    snapshot: bool = False
    # A child table (an order's line items, a transaction's fees): its parent's spec. The
    # parent's record is the whole set of its children, so a child the record no longer holds
    # is deleted (:func:`replace_children`). The child's key starts with the parent's, and its
    # ``version_column``, if any, copies the parent's.
    parent: UpsertSpec | None = None

    def parent_of(self, parent_row: Mapping[str, Any]) -> dict[str, Any]:
        """What :func:`replace_children` needs of one parent row: its key (and version)."""
        assert self.parent is not None, f"{self.table.name} has no parent"
        columns = (*self.parent.key, *filter(None, (self.parent.version_column,)))
        return {c: parent_row[c] for c in columns}

    @cached_property
    def statement(self) -> str:
        return _build_statement(self)

    @cached_property
    def gone_children_statement(self) -> str:
        return _gone_children_statement(self)


def columns_of(table: Table, *, exclude: Sequence[str] = ()) -> tuple[str, ...]:
    """``table``'s column names in table order, but for ``exclude``."""
    return tuple(c.name for c in table.columns if c.name not in exclude)


def mirrored(
    model: type[MirroredRow],
    *,
    family: Family | None = None,
    version_column: str | None = None,
    parent: UpsertSpec | None = None,
) -> UpsertSpec:
    """The upsert of a mirrored table, read off its model so a column is named once: the key is
    the primary key, every other column but the bookkeeping is copied and compared, a family's
    entity is the key's column after the account, and a :class:`SnapshotRow` is a snapshot."""
    table = cast(Table, model.__table__)  # type: ignore[attr-defined]
    key = tuple(c.name for c in table.primary_key.columns)
    return UpsertSpec(
        table=table,
        key=key,
        columns=columns_of(table, exclude=(*key, *_NOT_COPIED)),
        family=family,
        entity_column=key[1] if family is not None else None,
        version_column=version_column,
        snapshot=issubclass(model, SnapshotRow),
        parent=parent,
    )


@dataclass(frozen=True)
class UpsertOutcome:
    received: int
    inserted: int
    changed: int

    @property
    def unchanged(self) -> int:
        return self.received - self.inserted - self.changed


def _array_type(spec: UpsertSpec, column: str) -> str:
    return f"{spec.table.c[column].type.compile(dialect=_DIALECT)}[]"


def _build_statement(spec: UpsertSpec) -> str:
    table = spec.table.name
    incoming_cols = (*spec.key, *spec.columns)
    unnest_args = ", ".join(f"CAST(:{c} AS {_array_type(spec, c)})" for c in incoming_cols)
    col_list = ", ".join(incoming_cols)
    key_list = ", ".join(spec.key)
    key_join = " AND ".join(f"o.{k} = up.{k}" for k in spec.key)
    first_key = spec.key[0]
    compare_old = ", ".join(f"{table}.{c}" for c in spec.columns)
    compare_new = ", ".join(f"EXCLUDED.{c}" for c in spec.columns)
    where = f"({compare_old}) IS DISTINCT FROM ({compare_new})"
    if spec.snapshot:
        where = f"({where} OR {table}.ended_at IS NOT NULL)"
    if spec.version_column:
        v = spec.version_column
        where += f" AND EXCLUDED.{v} >= {table}.{v}"
    set_list = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in (*spec.columns, "updated_at", "last_run_id")
    )
    if spec.snapshot:
        set_list += ", ended_at = NULL"
    head = f"""
WITH incoming AS (
    SELECT * FROM unnest({unnest_args}) AS i({col_list}) ORDER BY {key_list}
), old AS (
    SELECT t.{", t.".join(spec.key)}, t.payload FROM {table} t JOIN incoming USING ({key_list})
), up AS (
    INSERT INTO {table} ({col_list}, first_seen_at, updated_at, last_run_id)
    SELECT {col_list}, :now, :now, :run_id FROM incoming
    ON CONFLICT ({key_list}) DO UPDATE SET {set_list}
    WHERE {where}
    RETURNING {", ".join(spec.key)}, payload
)"""
    if spec.family is None:
        return (
            head
            + f"""
SELECT count(*) FILTER (WHERE o.{first_key} IS NULL) AS inserted,
       count(*) FILTER (WHERE o.{first_key} IS NOT NULL) AS changed
FROM up LEFT JOIN old o ON {key_join}"""
        )
    # changes: per top-level payload key whose value differs (as eBay names it), the old and
    # the new value; changed_fields: those keys. The topic names a business event (topics.py).
    topic = topic_expression(spec.family, new="up.payload", old="o.payload")
    return (
        head
        + f""",
ev AS (
    INSERT INTO ebay_events (account_id, family, entity_id, change_kind, changed_fields,
                             changes, topic, run_id, page_no, occurred_at)
    SELECT c.account_id, :family, c.entity_id, c.change_kind,
           ARRAY(SELECT k FROM jsonb_object_keys(c.changes) k ORDER BY 1),
           c.changes, c.topic, :run_id, :page_no, :now
    FROM (
        SELECT up.account_id, up.{spec.entity_column} AS entity_id, {topic} AS topic,
               CASE WHEN o.{first_key} IS NULL THEN 'created' ELSE 'changed' END AS change_kind,
               -- A scalar subquery under CASE: a created entity does not pay for the diff.
               CASE WHEN o.{first_key} IS NOT NULL THEN (
                   SELECT jsonb_object_agg(coalesce(n.key, p.key),
                                           jsonb_build_object('old', p.value, 'new', n.value))
                   FROM jsonb_each(o.payload) p FULL JOIN jsonb_each(up.payload) n USING (key)
                   WHERE p.value IS DISTINCT FROM n.value) END AS changes
        FROM up LEFT JOIN old o ON {key_join}
    ) c
    RETURNING change_kind
)
SELECT count(*) FILTER (WHERE change_kind = 'created') AS inserted,
       count(*) FILTER (WHERE change_kind = 'changed') AS changed
FROM ev"""
    )


def _newest_per_key(spec: UpsertSpec, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One row per key: the statement cannot touch a row twice (STACK-NOTES §6)."""
    newest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in spec.key)
        kept = newest.get(key)
        if (
            kept is None
            or spec.version_column is None
            or (row[spec.version_column] >= kept[spec.version_column])
        ):
            newest[key] = row
    return list(newest.values())


def _column_values(spec: UpsertSpec, column: str, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    if isinstance(spec.table.c[column].type, JSONB):
        # asyncpg takes jsonb array elements as JSON text.
        return [orjson.dumps(r[column]).decode() for r in rows]
    return [r[column] for r in rows]


async def upsert_rows(
    session: AsyncSession,
    spec: UpsertSpec,
    rows: Sequence[Mapping[str, Any]],
    *,
    run_id: UUID,
    page_no: int,
    now: datetime,
) -> UpsertOutcome:
    """Upsert ``rows`` (already mapped to column values) and record their history."""
    unique = _newest_per_key(spec, rows)
    if not unique:
        return UpsertOutcome(received=0, inserted=0, changed=0)
    params: dict[str, Any] = {
        c: _column_values(spec, c, unique) for c in (*spec.key, *spec.columns)
    }
    params |= {"now": now, "run_id": run_id, "page_no": page_no}
    if spec.family is not None:
        params["family"] = str(spec.family)
    result = (await session.execute(text(spec.statement), params)).one()
    return UpsertOutcome(received=len(unique), inserted=result.inserted, changed=result.changed)


def _gone_children_statement(spec: UpsertSpec) -> str:
    """Delete the children of the given parents that the parents' stored records no longer hold.

    Unversioned, the page's record is the parent's: its children are the set. Versioned, a
    child older than its parent's stored version is gone, and the page's record decides only
    when it is that version; so a late redelivery of an old page can neither keep nor bring
    back a child that a newer version removed.
    """
    parent = spec.parent
    assert parent is not None
    table, key = spec.table.name, parent.key
    parent_args = ", ".join(f"CAST(:p_{c} AS {_array_type(parent, c)})" for c in key)
    keep_args = ", ".join(f"CAST(:k_{c} AS {_array_type(spec, c)})" for c in spec.key)
    join = " AND ".join(f"t.{c} = p.{c}" for c in key)
    # An anti-join (hashable), not a row-wise NOT IN, so a 200-order page stays cheap.
    kept_key = " AND ".join(f"k.{c} = t.{c}" for c in spec.key)
    not_kept = (
        f"NOT EXISTS (SELECT 1 FROM unnest({keep_args}) AS k({', '.join(spec.key)}) "
        f"WHERE {kept_key})"
    )
    if parent.version_column is None or spec.version_column is None:
        gone = not_kept
    else:
        v, pv = spec.version_column, parent.version_column
        gone = f"(t.{v} < p.{pv} OR (p.{pv} = i.{pv} AND {not_kept}))"
        parent_args += f", CAST(:p_{pv} AS {_array_type(parent, pv)})"
    columns = ", ".join((*key, *filter(None, (parent.version_column,))))
    return f"""
DELETE FROM {table} t
USING {parent.table.name} p, unnest({parent_args}) AS i({columns})
WHERE {" AND ".join(f"p.{c} = i.{c}" for c in key)} AND {join} AND {gone}"""


async def replace_children(
    session: AsyncSession,
    spec: UpsertSpec,
    parents: Sequence[Mapping[str, Any]],
    rows: Sequence[Mapping[str, Any]],
    *,
    run_id: UUID,
    page_no: int,
    now: datetime,
) -> UpsertOutcome:
    """Upsert the children of ``parents`` (:meth:`UpsertSpec.parent_of` each) and delete those
    the parents' records no longer hold."""
    assert spec.parent is not None, f"{spec.table.name} names no parent"
    outcome = await upsert_rows(session, spec, rows, run_id=run_id, page_no=page_no, now=now)
    if parents:
        params: dict[str, Any] = {f"p_{c}": [p[c] for p in parents] for c in parents[0]}
        params |= {f"k_{c}": [r[c] for r in rows] for c in spec.key}
        await session.execute(text(spec.gone_children_statement), params)
    return outcome


def _end_unseen_statement(spec: UpsertSpec) -> str:
    assert spec.entity_column is not None
    return _end_statement(
        spec,
        "NOT EXISTS (SELECT 1 FROM sync_snapshot_seen s "
        f"WHERE s.run_id = :run_id AND s.entity_id = t.{spec.entity_column})",
    )


def _end_named_statement(spec: UpsertSpec) -> str:
    assert spec.entity_column is not None
    return _end_statement(spec, f"t.{spec.entity_column} = ANY(CAST(:ids AS text[]))")


def _end_statement(spec: UpsertSpec, which: str) -> str:
    """End the rows ``which`` selects, each with its ``ended`` history row, as a sweep does."""
    assert spec.snapshot and spec.family is not None and spec.entity_column is not None
    entity = spec.entity_column
    ended_topic = ENDED_TOPICS.get(spec.family)
    topic = f"'{ended_topic}'" if ended_topic else "NULL"
    return f"""
WITH ended AS (
    UPDATE {spec.table.name} t SET ended_at = :now, updated_at = :now, last_run_id = :run_id
    WHERE t.account_id = :account_id AND t.ended_at IS NULL AND {which}
    RETURNING t.{entity} AS entity_id
), ev AS (
    INSERT INTO ebay_events (account_id, family, entity_id, change_kind, changed_fields,
                             changes, topic, run_id, page_no, occurred_at)
    SELECT :account_id, :family, entity_id, 'ended', ARRAY['ended_at'],
           jsonb_build_object('ended_at', jsonb_build_object(
               'old', NULL, 'new', to_jsonb(CAST(:now AS timestamptz)))),
           {topic}, :run_id, NULL, :now
    FROM ended
    RETURNING 1
)
SELECT count(*) AS ended FROM ev"""


async def record_seen(
    session: AsyncSession, spec: UpsertSpec, rows: Sequence[Mapping[str, Any]], run_id: UUID
) -> None:
    """Note which entities a snapshot run has seen so far (swept by :func:`end_unseen`)."""
    assert spec.entity_column is not None
    await session.execute(
        text(
            "INSERT INTO sync_snapshot_seen (run_id, entity_id) "
            "SELECT :run_id, unnest(CAST(:ids AS text[])) ON CONFLICT DO NOTHING"
        ),
        {"run_id": run_id, "ids": [row[spec.entity_column] for row in rows]},
    )


async def end_unseen(
    session: AsyncSession,
    spec: UpsertSpec,
    *,
    account_id: int,
    run_id: UUID,
    now: datetime,
    complete: bool,
) -> int:
    """Close a snapshot run: if it was complete, mark ended (with history) what it did not see.

    Returns how many rows were ended. The run's seen list is dropped either way.
    """
    ended = 0
    if complete:
        result = await session.execute(
            text(_end_unseen_statement(spec)),
            {"account_id": account_id, "run_id": run_id, "now": now, "family": str(spec.family)},
        )
        ended = int(result.scalar_one())
    await session.execute(
        text("DELETE FROM sync_snapshot_seen WHERE run_id = :run_id"), {"run_id": run_id}
    )
    return ended


async def end_named(
    session: AsyncSession,
    spec: UpsertSpec,
    ids: Sequence[str],
    *,
    account_id: int,
    run_id: UUID,
    now: datetime,
) -> int:
    """Mark ended (with history, as :func:`end_unseen` does) the snapshot rows eBay reported
    ended one by one (a targeted window's GetItem, docs/adr/0018). Returns how many were."""
    if not ids:
        return 0
    result = await session.execute(
        text(_end_named_statement(spec)),
        {
            "account_id": account_id,
            "run_id": run_id,
            "now": now,
            "family": str(spec.family),
            "ids": list(ids),
        },
    )
    return int(result.scalar_one())
