"""What a run costs in eBay calls, per family: the planner's cost model.

A caught-up run makes one call per polled family and one per refresh phase that is due
(docs/adr/0021-cheaper-runs.md, counted at the sandbox); a phase is due at most once a run and
at most once per its cadence (``PHASE_CADENCES``), so at a polling interval ``I`` a phase of
cadence ``c`` adds ``min(1, I / c)`` calls per run. Offers add a call per SKU: two for a small
seller. Once a family's API has seen enough runs today, the ledger's count corrects the model:
the API's calls today over what the model expected for those runs scales its families' costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from common.budget.model import Freshness
from common.ebay.quota import EbayApi
from common.families import PHASE_CADENCES, Family
from common.ledger import FAMILY_APIS

# Calls a caught-up run makes before any refresh phase (ADR 0021's measured figures).
BASE_CALLS: Mapping[Family, float] = {Family.OFFERS: 2.0}
DEFAULT_BASE_CALLS = 1.0

# A learned correction outside these bounds is more likely a day of backfills or a ledger
# glitch than the steady cost: it is clamped (and said in the notes).
MIN_SCALE, MAX_SCALE = 0.5, 20.0

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class CostModel:
    # Per API, the ledger's correction of the default figures (1.0: not learned).
    scale: Mapping[EbayApi, float] = field(default_factory=dict)

    def calls_per_run(self, family: Family, interval: timedelta) -> float:
        phases = sum(
            min(1.0, interval / cadence) for cadence in PHASE_CADENCES.get(family, {}).values()
        )
        return self._scale(family) * (BASE_CALLS.get(family, DEFAULT_BASE_CALLS) + phases)

    def calls_per_day(self, family: Family, interval: timedelta) -> float:
        """One pair's calls per day polled every ``interval``."""
        return self.calls_per_run(family, interval) * (_DAY / interval)

    def _scale(self, family: Family) -> float:
        api = FAMILY_APIS.get(family)
        return self.scale.get(api, 1.0) if api is not None else 1.0


def cost_model(
    runs_today: Mapping[Family, int],
    used_today: Mapping[EbayApi, int],
    policy: Mapping[Family, Freshness],
    learn_after_runs: int,
    notes: list[str],
) -> CostModel:
    """The default model, corrected per API by today's calls once it has seen enough runs."""
    default = CostModel()
    scale: dict[EbayApi, float] = {}
    for api in {FAMILY_APIS[f] for f in runs_today if f in FAMILY_APIS}:
        families = [f for f in runs_today if FAMILY_APIS.get(f) == api]
        runs = sum(runs_today[f] for f in families)
        used = used_today.get(api, 0)
        if runs < learn_after_runs or used <= 0:
            continue
        expected = sum(
            runs_today[f] * default.calls_per_run(f, policy[f].aim) for f in families if f in policy
        )
        if expected <= 0:
            continue
        learned = used / expected
        clamped = min(MAX_SCALE, max(MIN_SCALE, learned))
        if clamped != learned:
            notes.append(
                f"{api.value}: today's calls per run are {learned:.2f}x the model's; "
                f"planning with {clamped:.2f}x"
            )
        scale[api] = clamped
    return CostModel(scale)
