"""``ebaysync budget``: the --quotas presets and files (bad ones refused with the reason)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.ledger import DailyQuotas
from ebaysync.budget import GROWTH, QuotaFileError, load_quotas


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
