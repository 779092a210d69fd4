"""``ebaysync budget``: the simulated plan for 1,000 accounts stays inside every quota and says
every family's freshness; the --quotas presets and files (bad ones refused with the reason)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from common.db.budget import BudgetRepository
from common.families import Family
from common.ledger import DailyQuotas
from ebaysync.budget import GROWTH, QuotaFileError, load_quotas, simulate
from ebaysync.cli import app


def budget_json(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["budget", *args, "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_a_thousand_accounts_never_plan_above_any_quota_and_every_family_is_reported() -> None:
    report = budget_json("--accounts", "1000", "--quotas", "default")
    apis = report["apis"]
    assert {a["api"] for a in apis} == {api for api, _ in DailyQuotas()}
    for api in apis:
        assert api["quota"] == getattr(DailyQuotas(), api["api"])
        assert 0 < api["projected_today"] <= api["budget"] <= api["quota"], api
    families = report["families"]
    assert {f["family"] for f in families} == set(Family)
    for family in families:
        assert family["pairs"] == 1000
        assert 0 < family["median_staleness_seconds"] <= family["worst_staleness_seconds"]
    # 1,000 accounts are more than the default quotas keep within aim: the plan says so.
    assert not all(f["within_aim"] for f in families)
    assert any("trading" in note for note in report["notes"])


def test_growth_quotas_keep_more_families_within_aim_than_the_default() -> None:
    default = budget_json("--accounts", "200", "--quotas", "default")["families"]
    growth = budget_json("--accounts", "200", "--quotas", "growth")["families"]
    assert sum(f["within_aim"] for f in growth) > sum(f["within_aim"] for f in default)


def test_the_text_report_and_a_bad_quota_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["budget", "--accounts", "10"])
    assert result.exit_code == 0, result.output
    assert "10 accounts simulated, default quotas" in result.stdout
    assert "postorder_returns" in result.stdout and "orders" in result.stdout
    bad = tmp_path / "q.json"
    bad.write_text('{"trading": 0}')
    refused = CliRunner().invoke(app, ["budget", "--accounts", "10", "--quotas", str(bad)])
    assert refused.exit_code == 2
    assert "above 0" in refused.output


def test_default_and_growth_presets() -> None:
    assert load_quotas("default")[0] == DailyQuotas()
    growth, label = load_quotas("growth")
    assert "assumption" in label
    # The growth preset raises the quotas that bind and lowers none.
    assert growth.trading > DailyQuotas().trading
    assert growth.postorder_cases > DailyQuotas().postorder_cases
    for api, quota in DailyQuotas():
        assert getattr(growth, api) >= quota
    assert json.loads(GROWTH.read_text())["note"]


def test_a_file_sets_the_quotas_it_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"trading": 1_500_000, "note": "granted 2026-11"}))
    quotas, label = load_quotas(str(path))
    assert quotas == DailyQuotas(trading=1_500_000)
    assert label == "quotas from mine.json (granted 2026-11)"


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"tradng": 5}', "unknown API tradng"),
        ('{"trading": 0}', "above 0"),
        ('{"trading": -1}', "above 0"),
        ('{"trading": "5000"}', "above 0"),
        ('{"trading": true}', "above 0"),
        ('{"trading": 5000.5}', "above 0"),
    ],
)
def test_a_bad_file_is_refused_with_the_reason(tmp_path: Path, content: str, why: str) -> None:
    path = tmp_path / "q.json"
    path.write_text(content)
    with pytest.raises(QuotaFileError, match=why):
        load_quotas(str(path))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QuotaFileError, match="No such file"):
        load_quotas(str(tmp_path / "absent.json"))


@pytest.mark.postgres
async def test_the_live_plan_is_the_one_the_scheduler_stored(
    migrated_database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    report = simulate(3, DailyQuotas(trading=777), now=datetime.now(UTC))
    async with sessions.begin() as session:
        await BudgetRepository(session).store(report, keep=5)
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["budget", "--database-url", migrated_database_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == report.model_dump(mode="json")
