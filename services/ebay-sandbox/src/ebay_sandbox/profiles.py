"""Size profiles: how much each generated seller sells, lists, receives and buys."""

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Profile:
    """Per-seller volumes; every rate is a Poisson mean per day."""

    name: str
    listings: int
    orders_per_day: float
    history_days: int
    messages_per_day: float
    purchases_per_day: float


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "tiny",
            listings=8,
            orders_per_day=2,
            history_days=30,
            messages_per_day=1,
            purchases_per_day=0.2,
        ),
        # "small" keeps the first cut's defaults (25 listings, 20 orders a day, 120 days).
        Profile(
            "small",
            listings=25,
            orders_per_day=20,
            history_days=120,
            messages_per_day=4,
            purchases_per_day=0.5,
        ),
        Profile(
            "medium",
            listings=1_000,
            orders_per_day=50,
            history_days=365,
            messages_per_day=15,
            purchases_per_day=1,
        ),
        Profile(
            "large",
            listings=5_000,
            orders_per_day=100,
            history_days=730,
            messages_per_day=40,
            purchases_per_day=2,
        ),
        # For tests of the call budget (tests/e2e/test_budget_running.py): a seller whose
        # account never changes, and one who sells an order every two seconds or so.
        Profile(
            "idle",
            listings=2,
            orders_per_day=0,
            history_days=30,
            messages_per_day=0,
            purchases_per_day=0,
        ),
        Profile(
            "busy",
            listings=8,
            orders_per_day=43_200,
            history_days=0,
            messages_per_day=0,
            purchases_per_day=0,
        ),
        Profile(
            "huge",
            listings=25_000,
            orders_per_day=150,
            history_days=1095,
            messages_per_day=80,
            purchases_per_day=3,
        ),
    )
}


def parse_profiles(spec: str) -> tuple[Profile, ...]:
    """``"huge,small"`` -> profiles assigned to sellers in turn; raises ValueError if unknown."""
    names = [part.strip() for part in spec.split(",") if part.strip()]
    unknown = [n for n in names if n not in PROFILES]
    if not names or unknown:
        raise ValueError(f"unknown profile(s) {unknown or spec!r}; choose from {sorted(PROFILES)}")
    return tuple(PROFILES[n] for n in names)


def with_overrides(profile: Profile, **overrides: float | int | None) -> Profile:
    """The profile with every non-None override applied."""
    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return replace(profile, **values)
