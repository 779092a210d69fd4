"""How far behind a pair is: the one lag the admin UI, ``ebaysync status``, the alerts and the
benchmarks show.

An incremental family's data is complete up to its cursor. A snapshot family (offers, active
listings) has no cursor: its data is as fresh as its last complete snapshot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.families import SNAPSHOT_FAMILIES, Family


def fresh_to(
    family: str, cursor: datetime | None, last_success_at: datetime | None
) -> datetime | None:
    """The moment up to which the pair's mirror is known complete (None: never synced)."""
    return last_success_at if Family(family) in SNAPSHOT_FAMILIES else cursor


def pair_lag(
    family: str, cursor: datetime | None, last_success_at: datetime | None, now: datetime
) -> timedelta | None:
    reference = fresh_to(family, cursor, last_success_at)
    return None if reference is None else now - reference
