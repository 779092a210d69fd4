"""``ebaysync verify``: the rules on their own, then the command against a real mirror.

The integration tests mirror a window of a sandbox seller's orders through the real family
path, then damage the mirror in every way verify must notice.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from common.db.orders import EbayOrder
from common.families import Family
from ebay_sandbox.settings import SandboxConfig
from ebaysync.addresses import AddressError, resolve_database_url, resolve_sandbox_url
from ebaysync.cli import app
from ebaysync.truths import TRUTHS, FamilyTruth, json_collection
from ebaysync.verify import (
    Different,
    PairReport,
    changed_fields,
    compare_incremental,
    compare_range_start,
    compare_snapshot,
    format_report,
    verify_pair,
)
from testkit.ebay_samples import make_order
from testkit.pipeline import Pipeline, pipeline_fixture

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def order(order_id: str, days: float, status: str = "NOT_STARTED") -> dict[str, Any]:
    return make_order(order_id, modified=T0 + timedelta(days=days), status=status)


ORDERS_TRUTH = TRUTHS[Family.ORDERS]
SNAPSHOT_TRUTH = FamilyTruth(
    family=Family.OFFERS,
    path="offers",
    records=json_collection("offers"),
    key=lambda record: str(record["offerId"]),
    table=EbayOrder,  # not read by the pure comparison
    key_column="offer_id",
    date=None,
)


# --- pure rules --------------------------------------------------------------------------


def test_incremental_compares_only_records_due_by_the_cursor() -> None:
    source = [
        order("same", 1),
        order("changed", 2, status="FULFILLED"),
        order("lost", 3),
        order("later", 12),  # after the cursor: not due
        order("later-and-unmirrored", 13),
    ]
    mirror = {
        "same": order("same", 1),
        "changed": order("changed", 2),
        "later": order("later", 5),  # an older version of a record not due yet
        "phantom": order("phantom", 4),  # in range, unknown to the source
        "ancient": order("ancient", -30),  # before the range: not judged
    }
    outcome = compare_incremental(
        ORDERS_TRUTH, source, mirror, start=T0, cursor=T0 + timedelta(days=10)
    )
    assert outcome.compared == 3
    assert outcome.missing == ["lost"]
    assert outcome.extra == ["phantom"]
    assert outcome.different == [Different("changed", ["lineItems", "orderFulfillmentStatus"])]


def test_snapshot_compares_every_live_row() -> None:
    source: list[dict[str, Any]] = [
        {"offerId": "a", "price": 1},
        {"offerId": "b", "price": 2},
        {"offerId": "c"},
    ]
    live: dict[str, dict[str, Any]] = {
        "a": {"offerId": "a", "price": 1},
        "b": {"offerId": "b", "price": 3},
        "z": {},
    }
    # "c" was marked ended in the mirror (so it is not live) although the source still has it.
    outcome = compare_snapshot(SNAPSHOT_TRUTH, source, live)
    assert outcome.compared == 3
    assert outcome.missing == ["c"]
    assert outcome.extra == ["z"]
    assert outcome.different == [Different("b", ["price"])]


def test_changed_fields_names_added_removed_and_changed_top_level_fields() -> None:
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == ["b", "c"]
    assert changed_fields({"a": {"x": 1}}, {"a": {"x": 1}}) == []


def test_the_range_starts_at_the_backfill_but_never_before_the_lookback() -> None:
    now = T0
    year = timedelta(days=365)
    assert compare_range_start(now - timedelta(days=90), now, 2 * year) == now - timedelta(days=90)
    assert compare_range_start(now - 3 * year, now, 2 * year) == now - 2 * year
    assert compare_range_start(None, now, 2 * year) == now - 2 * year


def test_a_report_counts_every_difference_and_prints_them() -> None:
    report = PairReport(1, "seller", Family.ORDERS, T0, T0 + timedelta(days=1), compared=5)
    assert report.clean
    assert format_report(report)[0].endswith(": ok")
    report.missing = ["m1", "m2"]
    report.different = [Different("d1", ["x"])]
    assert report.count == 3
    lines = format_report(report, limit=1)
    assert lines[0].endswith(
        "5 compared [2025-03-01T00:00:00+00:00 .. 2025-03-02T00:00:00+00:00]: 3 differences"
    )
    assert "  missing (2): m1 …" in lines
    assert "  different (1): d1 {x}" in lines
    assert report.as_json()["clean"] is False


def test_addresses_come_from_the_options_or_the_runtime_file(tmp_path: Path) -> None:
    assert resolve_database_url("postgresql+asyncpg://x/y", tmp_path) == "postgresql+asyncpg://x/y"
    with pytest.raises(AddressError, match="--database-url"):
        resolve_database_url(None, tmp_path)
    assert resolve_sandbox_url(None, tmp_path) is None
    runtime = {"database_url": "postgresql+asyncpg://u@h:1/db", "sandbox_url": "http://h:2"}
    (tmp_path / "runtime.json").write_text(json.dumps(runtime))
    assert resolve_database_url(None, tmp_path) == "postgresql+asyncpg://u@h:1/db"
    assert resolve_sandbox_url(None, tmp_path) == "http://h:2"
    redacted = {"database_url": "postgresql+asyncpg://u:***@h:1/db"}
    (tmp_path / "runtime.json").write_text(json.dumps(redacted))
    with pytest.raises(AddressError, match="password"):
        resolve_database_url(None, tmp_path)


def test_without_a_sandbox_verify_says_it_needs_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["verify", "--data-dir", str(tmp_path), "--database-url", "postgresql+asyncpg://x/y"]
    )
    assert result.exit_code == 2
    assert "verify needs --sandbox-url" in result.output


def test_an_unknown_family_is_a_usage_error(tmp_path: Path) -> None:
    runtime = {"database_url": "postgresql+asyncpg://u@h:1/db", "sandbox_url": "http://h:2"}
    (tmp_path / "runtime.json").write_text(json.dumps(runtime))
    result = CliRunner().invoke(app, ["verify", "--data-dir", str(tmp_path), "--family", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.output


# --- against a real mirror ---------------------------------------------------------------


pipeline = pipeline_fixture(
    SandboxConfig(sellers=1, profile="tiny", orders_per_day=5, clock_frozen=True)
)


async def damage(pipeline: Pipeline, account_id: int) -> tuple[str, str, str]:
    """Lose one order, alter another, add one eBay never had, and repeat a history event."""
    async with pipeline.sessions.begin() as session:
        ids = list(
            await session.scalars(
                text(
                    "SELECT order_id FROM ebay_orders WHERE account_id = :a ORDER BY order_id"
                ).bindparams(a=account_id)
            )
        )
        lost, altered = ids[0], ids[1]
        params = {"a": account_id, "lost": lost, "altered": altered}
        await session.execute(
            text("DELETE FROM ebay_order_line_items WHERE account_id = :a AND order_id = :lost"),
            params,
        )
        await session.execute(
            text("DELETE FROM ebay_orders WHERE account_id = :a AND order_id = :lost"), params
        )
        await session.execute(
            text(
                'UPDATE ebay_orders SET payload = payload || \'{"orderPaymentStatus": "X"}\' '
                "WHERE account_id = :a AND order_id = :altered"
            ),
            params,
        )
        # A copy of the altered order under a new id: dated inside the compared range.
        await session.execute(
            text(
                """
                INSERT INTO ebay_orders (account_id, order_id, creation_date, last_modified_date,
                                         payload, first_seen_at, updated_at, last_run_id)
                SELECT account_id, 'PHANTOM-1', creation_date, last_modified_date,
                       payload || '{"orderId": "PHANTOM-1"}', now(), now(), last_run_id
                FROM ebay_orders WHERE account_id = :a AND order_id = :altered
                """
            ),
            params,
        )
        await session.execute(
            text(
                """
                INSERT INTO ebay_events (account_id, family, entity_id, change_kind,
                                         changed_fields, run_id, page_no, occurred_at)
                SELECT account_id, family, entity_id, change_kind, changed_fields, run_id,
                       page_no, occurred_at
                FROM ebay_events WHERE account_id = :a AND entity_id = :altered
                """
            ),
            params,
        )
    return lost, altered, "PHANTOM-1"


async def test_verify_finds_nothing_in_a_faithful_mirror_and_every_kind_of_damage(
    pipeline: Pipeline, migrated_database_url: str
) -> None:
    seller = pipeline.sellers[0]
    now = await pipeline.sandbox_now()
    cursor = now - timedelta(days=3)  # orders modified since then are not due yet
    await pipeline.sync(seller, Family.ORDERS, now - timedelta(days=20), cursor)
    async with pipeline.sessions() as session:
        later = await session.scalar(
            text(
                "SELECT count(*) FROM ebay_orders WHERE account_id = :a AND last_modified_date > :c"
            ).bindparams(a=seller.account_id, c=cursor)
        )
    assert later == 0
    unsynced = await pipeline.truth(seller, "orders", date_from=cursor, date_to=now)
    assert orjson.loads(unsynced.content)["orders"], "the seller should have orders not yet due"

    async with httpx.AsyncClient(base_url=pipeline.sandbox_url, timeout=30) as sandbox:
        clean = await verify_pair(
            pipeline.sessions, sandbox, seller.account_id, seller.username, ORDERS_TRUTH
        )
        assert clean.compared > 10
        assert (clean.range_from, clean.range_to) == (now - timedelta(days=20), cursor)
        assert clean.clean, clean

        lost, altered, phantom = await damage(pipeline, seller.account_id)
        damaged = await verify_pair(
            pipeline.sessions, sandbox, seller.account_id, seller.username, ORDERS_TRUTH
        )
    assert damaged.missing == [lost]
    assert damaged.extra == [phantom]
    assert damaged.different == [Different(altered, ["orderPaymentStatus"])]
    assert [(d.entity_id, d.change_kind, d.count) for d in damaged.duplicate_events] == [
        (altered, "created", 2),
        (altered, "created", 2),
    ]
    assert {d.run_id is None for d in damaged.duplicate_events} == {True, False}

    # The command says the same, as JSON, and fails.
    arguments = [
        "verify",
        "--database-url",
        migrated_database_url,
        "--sandbox-url",
        pipeline.sandbox_url,
        # By id: other tests' accounts of this shared database have the same sandbox usernames.
        "--account",
        str(seller.account_id),
        "--family",
        "orders",
        "--json",
    ]
    result = await asyncio.to_thread(CliRunner().invoke, app, arguments)
    assert result.exit_code == 1, result.output
    [printed] = json.loads(result.output)
    assert (printed["account_id"], printed["family"]) == (seller.account_id, "orders")
    assert printed["missing"] == [lost] and printed["extra"] == [phantom]
    assert printed["different"] == [{"key": altered, "fields": ["orderPaymentStatus"]}]
    assert printed["clean"] is False

    text_result = await asyncio.to_thread(CliRunner().invoke, app, arguments[:-1])
    assert text_result.exit_code == 1
    assert f"missing (1): {lost}" in text_result.output


async def test_a_pair_that_never_synced_is_not_compared(
    pipeline: Pipeline, migrated_database_url: str
) -> None:
    seller = pipeline.sellers[0]
    async with httpx.AsyncClient(base_url=pipeline.sandbox_url, timeout=30) as sandbox:
        report = await verify_pair(
            pipeline.sessions, sandbox, seller.account_id, seller.username, ORDERS_TRUTH
        )
    assert report.skipped == "no cursor yet"
    assert report.clean and report.compared == 0
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        [
            "verify",
            "--database-url",
            migrated_database_url,
            "--sandbox-url",
            pipeline.sandbox_url,
            "--account",
            str(seller.account_id),
            "--family",
            "orders",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "not compared (no cursor yet)" in result.output
