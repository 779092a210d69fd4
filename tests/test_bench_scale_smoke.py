"""``make bench-scale`` runs: a tiny whole-system bench reports every figure (none is asserted
against a target: only that each is there and sane)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = {
    "scheduler",
    "token-service",
    "fetcher",
    "writer",
    "admin-api",
    "nats-server",
    "postgresql",
    "ebay-sandbox",
}


def load_bench() -> ModuleType:
    scripts = str(ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)  # it imports bench_plan, bench_sandbox beside it
    spec = importlib.util.spec_from_file_location(
        "ebaysync_bench_scale", ROOT / "scripts/bench_scale.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_a_tiny_scale_bench_reports_cpu_per_window_capacity_latency_and_calls(
    tmp_path: Path,
) -> None:
    bench = load_bench()
    out = tmp_path / "scale.json"
    printed: list[str] = []
    result = await bench.run_scale(
        bench.ScaleOptions(sellers=3, measure_seconds=6, lag_sample_seconds=2, profile_seconds=0),
        data_dir=tmp_path / "run",
        plan_pairs=550,
        plan_accounts=10,
        idle_pages=10,
        out=out,
        say=printed.append,
    )
    assert json.loads(out.read_text()) == result
    assert result["pairs"] == 3 * 11
    assert result["windows"] > 0 and result["windows_per_second"] > 0
    assert result["failed_runs"] >= 0
    assert set(result["cpu"]) == PROCESSES | {"supervisor (bench process)"}
    for name in PROCESSES:
        row = result["cpu"][name]
        assert row["cpu_seconds"] >= 0 and row["ms_per_window"] >= 0, (name, row)
        assert result["memory_mib"][name]["rss_mib"] > 0, name
    assert result["cpu_ms_per_window_excluding_sandbox"] > 0
    assert result["capacity"]["accounts_at_5_min_cadence"] > 0
    for figure in ("run_latency_seconds", "lag_seconds"):
        assert 0 <= result[figure]["p50"] <= result[figure]["p99"], result[figure]
    # Every family's runs called eBay, as counted at the sandbox.
    calls = result["ebay_calls_per_run"]
    assert result["sandbox"]["calls"] > 0
    assert all(calls[f]["calls_per_run"] > 0 for f in result["windows_by_family"]), calls
    planning = result["planning"]
    assert planning["pairs"] == 550 and planning["full_plan"]["wall_ms"] > 0
    assert planning["first_run"]["sent"] == 10 * 10  # a seller account syncs 10 families
    assert result["sandbox_idle_page"]["cpu_ms_per_idle_page"] >= 0
    assert any("ms/window" in line for line in printed)
    assert any("accounts at a 5-minute cadence" in line for line in printed)
