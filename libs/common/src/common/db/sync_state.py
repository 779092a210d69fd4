"""A pair's sync state: what the scheduler plans from (states, in-flight runs, due times) and
the pair's fence row that the scheduler takes and every page transaction holds.

Times are on the database clock (:mod:`common.db.sync` says why).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from common.db.sync_tables import OPEN_SQL, DueTime, PairState, PlanCandidate
from common.families import Family, Purpose, families_of


class SyncStateRepository:
    """The scheduler's reads of pairs and its writes of due times and fences; the page
    transaction's lock of the pair's fence row."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- scheduler -------------------------------------------------------------------------

    async def pair_states(
        self, families: Sequence[Family], now: datetime, stale_after: timedelta
    ) -> list[PairState]:
        """Every syncable pair: active accounts that need no reauth, times the given families
        that the account's purpose syncs (``common.families.PURPOSE_FAMILIES``).

        A pair is in flight while it has a queued or running run that moved recently; a run
        that stopped moving for ``stale_after`` (by the database clock that stamped it) no
        longer blocks its pair, and the next run queued for the pair fences it off.

        A breaker's pause is also kept on the database clock; ``paused_until`` is returned
        rebased onto ``now`` (the planner's clock), and None once the pause is over.
        """
        rows = await self.session.execute(
            text(
                f"""
                SELECT a.id AS account_id, a.purpose, f.family,
                       coalesce(s.enabled, true) AS enabled,
                       s.cursor, s.last_success_at, coalesce(s.quiet_runs, 0) AS quiet_runs,
                       CASE WHEN s.paused_until > clock_timestamp()
                            THEN CAST(:now AS timestamptz) + (s.paused_until - clock_timestamp())
                       END AS paused_until,
                       EXISTS (SELECT 1 FROM sync_runs r
                               WHERE r.account_id = a.id AND r.family = f.family
                                 AND r.status IN ({OPEN_SQL})
                                 AND r.updated_at > clock_timestamp()
                                     - make_interval(secs => :stale_seconds)) AS in_flight
                FROM ebay_accounts a
                CROSS JOIN unnest(CAST(:families AS text[])) AS f(family)
                LEFT JOIN sync_state s ON s.account_id = a.id AND s.family = f.family
                WHERE a.active AND NOT a.needs_reauth
                ORDER BY a.id, f.family
                """
            ),
            {
                "families": [str(f) for f in families],
                "now": now,
                "stale_seconds": stale_after.total_seconds(),
            },
        )
        return [
            PairState(
                account_id=r.account_id,
                family=Family(r.family),
                enabled=r.enabled,
                cursor=r.cursor,
                paused_until=r.paused_until,
                last_success_at=r.last_success_at,
                in_flight=r.in_flight,
                quiet_runs=r.quiet_runs,
            )
            for r in rows
            if Family(r.family) in families_of(r.purpose)
        ]

    async def database_now(self) -> datetime:
        """The database clock (run times, pauses, stale rule and stored due times use it)."""
        now: datetime = await self.session.scalar(text("SELECT clock_timestamp()"))
        return now

    async def pairs_to_plan(
        self,
        families: Sequence[Family],
        now: datetime,
        stale_after: timedelta,
        *,
        every_pair: bool,
        paused_orgs: Sequence[int] = (),
    ) -> list[PlanCandidate]:
        """The pairs a tick must plan: those whose stored due time (``sync_state.due_at``, by
        the database clock) has come or was reset, and those without a state row yet (a new
        account or family); with ``every_pair``, every syncable pair (as :meth:`pair_states`).

        Syncable: active accounts that need no reauth and whose org is not paused, times the
        given families that the account's purpose syncs. In flight, ``paused_until`` and
        ``in_flight_until`` as in :meth:`pair_states` (rebased onto ``now``). Set-based: a
        tick reads only what can be due, through ``ix_sync_state_due_at`` and the small
        ``ix_sync_runs_open`` index, however many pairs there are.
        """
        wanted = {str(f) for f in families}
        purposes, purpose_families = [], []
        for purpose in Purpose:
            for family in sorted(wanted & {str(f) for f in families_of(purpose)}):
                purposes.append(str(purpose))
                purpose_families.append(family)
        syncable = "a.active AND NOT a.needs_reauth AND a.org_id <> ALL(CAST($5 AS bigint[]))"
        # Each branch joins the purpose's families once (a second join would make PostgreSQL
        # expect one row and probe each pair instead of hashing).
        due = (
            f"""
            SELECT a.id AS account_id, pf.family
            FROM ebay_accounts a JOIN purpose_family pf ON pf.purpose = a.purpose
            WHERE {syncable}
            """
            if every_pair
            else f"""
            SELECT s.account_id, s.family
            FROM sync_state s
            JOIN ebay_accounts a ON a.id = s.account_id
            JOIN purpose_family pf ON pf.purpose = a.purpose AND pf.family = s.family
            WHERE (s.due_at IS NULL OR s.due_at <= clock_timestamp()) AND {syncable}
            UNION ALL
            SELECT a.id, pf.family
            FROM ebay_accounts a JOIN purpose_family pf ON pf.purpose = a.purpose
            WHERE {syncable}
              AND NOT EXISTS (SELECT 1 FROM sync_state s
                              WHERE s.account_id = a.id AND s.family = pf.family)
            """
        )
        sql = f"""
            WITH purpose_family AS (
                SELECT * FROM unnest(CAST($1 AS text[]), CAST($2 AS text[]))
                    AS pf(purpose, family)),
            due AS ({due}),
            pairs AS (
                SELECT d.account_id, d.family, s.enabled, s.cursor, s.last_success_at,
                       s.paused_until, s.xmin AS row_version, s.due_at, s.quiet_runs,
                       -- the pair's newest open run that moved recently (the small partial
                       -- index ix_sync_runs_open, one probe per pair)
                       (SELECT max(r.updated_at) FROM sync_runs r
                        WHERE r.account_id = d.account_id AND r.family = d.family
                          AND r.status IN ({OPEN_SQL})
                          AND r.updated_at > clock_timestamp()
                              - make_interval(secs => $4)) AS moved_at
                FROM due d
                LEFT JOIN sync_state s ON s.account_id = d.account_id AND s.family = d.family)
            SELECT account_id, family, coalesce(enabled, true), cursor, last_success_at,
                   CASE WHEN paused_until > clock_timestamp()
                        THEN CAST($3 AS timestamptz) + (paused_until - clock_timestamp())
                   END,
                   moved_at IS NOT NULL,
                   CAST($3 AS timestamptz) + (moved_at - clock_timestamp())
                       + make_interval(secs => $4),
                   CAST(row_version AS text), due_at, coalesce(quiet_runs, 0)
            FROM pairs
            """
        # Straight from the driver: a full plan reads every pair, and SQLAlchemy's row
        # processing would be most of its cost.
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver: Any = raw.driver_connection
        rows = await driver.fetch(
            sql, purposes, purpose_families, now, stale_after.total_seconds(), list(paused_orgs)
        )
        family_of = {str(f): f for f in families}
        return [
            PlanCandidate(
                PairState(
                    r[0], family_of[r[1]], r[2], r[3], r[5], r[4], r[6], r[7], quiet_runs=r[10]
                ),
                r[8],
                r[9],
            )
            for r in rows
        ]

    async def store_due_times(self, due: Sequence[DueTime], now: datetime, db_now: datetime) -> int:
        """Store when the scheduler next looks at each pair (``due`` in the planner's clock
        ``now``, which was ``db_now`` by the database clock; None: in a day, unless something
        resets it first). One statement.

        Compare-and-set on the row version read with the pair (``xmin``): a pair whose row
        changed since (its run completed, an operator enabled it) keeps its reset and is
        planned at the next tick. Returns how many were stored.
        """
        if not due:
            return 0
        result = await self.session.execute(
            text(
                """
                UPDATE sync_state s
                SET due_at = CAST(:db_now AS timestamptz)
                             + coalesce(u.due - CAST(:now AS timestamptz), interval '1 day')
                FROM unnest(CAST(:accounts AS bigint[]), CAST(:families AS text[]),
                            CAST(:versions AS text[]), CAST(:dues AS timestamptz[]))
                    AS u(account_id, family, version, due)
                WHERE s.account_id = u.account_id AND s.family = u.family
                  AND CAST(s.xmin AS text) = u.version
                """
            ),
            {
                "now": now,
                "db_now": db_now,
                "accounts": [d.account_id for d in due],
                "families": [str(d.family) for d in due],
                "versions": [d.version for d in due],
                "dues": [d.due for d in due],
            },
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def take_fences(self, pairs: Sequence[tuple[int, Family]]) -> dict[tuple[int, str], int]:
        """:meth:`take_fence` for many pairs in two statements: a new fencing number for each
        pair not being written right now (the others are left out: next tick)."""
        if not pairs:
            return {}
        params = {
            "accounts": [a for a, _ in pairs],
            "families": [str(f) for _, f in pairs],
        }
        await self.session.execute(
            text(
                "INSERT INTO sync_fences (account_id, family) "
                "SELECT * FROM unnest(CAST(:accounts AS bigint[]), CAST(:families AS text[])) "
                "ON CONFLICT (account_id, family) DO NOTHING"
            ),
            params,
        )
        rows = await self.session.execute(
            text(
                "SELECT account_id, family, nextval('sync_fence') AS fence FROM sync_fences "
                "WHERE (account_id, family) IN (SELECT * FROM unnest("
                "CAST(:accounts AS bigint[]), CAST(:families AS text[]))) "
                "FOR NO KEY UPDATE SKIP LOCKED"
            ),
            params,
        )
        return {(r.account_id, r.family): int(r.fence) for r in rows}

    async def committed_runs(
        self, pairs: Sequence[tuple[int, str]]
    ) -> dict[tuple[int, str], UUID | None]:
        """Each pair's last committed run (``sync_state.last_run_id``). Read after
        :meth:`take_fences` in the same transaction, it is final for the new run: no page of
        an older run commits while the fence rows are held, nor after (its fence is older)."""
        if not pairs:
            return {}
        rows = await self.session.execute(
            text(
                "SELECT account_id, family, last_run_id FROM sync_state "
                "WHERE (account_id, family) IN (SELECT * FROM unnest("
                "CAST(:accounts AS bigint[]), CAST(:families AS text[])))"
            ),
            {"accounts": [a for a, _ in pairs], "families": [f for _, f in pairs]},
        )
        return {(r.account_id, r.family): r.last_run_id for r in rows}

    async def take_fence(self, account_id: int, family: Family) -> int | None:
        """A new fencing number for a run of the pair, or None while a page of the pair is being
        written (the pair is busy: try at the next tick).

        Holds the pair's fence row until the transaction ends, so no page of the pair commits
        between this and :meth:`record_queued`: queue the run in the same transaction.
        """
        await self._ensure_fence_row(account_id, family)
        # SKIP LOCKED: a writer holding the row may be stalled for minutes (a paused process);
        # waiting for it would stall every other pair's scheduling with it.
        locked = await self.session.scalar(
            text(
                "SELECT nextval('sync_fence') FROM sync_fences "
                "WHERE account_id = :account_id AND family = :family "
                "FOR NO KEY UPDATE SKIP LOCKED"
            ),
            {"account_id": account_id, "family": str(family)},
        )
        return None if locked is None else int(locked)

    async def in_flight(self, account_id: int, family: Family, stale_after: timedelta) -> bool:
        """Whether the pair has a run in flight: open and moved within ``stale_after`` (the
        rule of :meth:`pair_states`). A run stays in flight until the writer ends it, also
        after the fetcher acknowledged its window (which frees the window's subject on
        JetStream while its pages still wait for the writer)."""
        found = await self.session.scalar(
            text(
                f"SELECT EXISTS (SELECT 1 FROM sync_runs r "
                f"WHERE r.account_id = :account_id AND r.family = :family "
                f"AND r.status IN ({OPEN_SQL}) "
                f"AND r.updated_at > clock_timestamp() - make_interval(secs => :stale_seconds))"
            ),
            {
                "account_id": account_id,
                "family": str(family),
                "stale_seconds": stale_after.total_seconds(),
            },
        )
        return bool(found)

    async def _ensure_fence_row(self, account_id: int, family: Family) -> None:
        await self.session.execute(
            text(
                "INSERT INTO sync_fences (account_id, family) VALUES (:account_id, :family) "
                "ON CONFLICT (account_id, family) DO NOTHING"
            ),
            {"account_id": account_id, "family": str(family)},
        )

    # --- writer ----------------------------------------------------------------------------

    async def lock_pair(self, account_id: int, family: Family) -> int:
        """Hold the pair's fence row (SHARE) for the page's transaction; returns the fence.

        The first statement of every page transaction: the fence read here cannot change
        (:meth:`take_fence` skips a row held in any mode) until the page commits, while pages
        of the same pair still commit side by side.
        """
        locked = await self.lock_page_pair(account_id, family)
        assert locked is not None, f"account {account_id} does not exist"
        return locked.fence

    async def lock_page_pair(self, account_id: int, family: Family) -> PagePair | None:
        """:meth:`lock_pair` and the account's ``active`` flag in one round trip; None when
        the account does not exist (then no fence row is created: it would name no account)."""
        params = {"account_id": account_id, "family": str(family)}
        row = (await self.session.execute(_LOCK_PAGE_PAIR, params)).first()
        if row is None:
            return None
        if row.fence is None:  # a pair no scheduler has fenced yet (a page sent before fencing)
            await self._ensure_fence_row(account_id, family)
            row = (await self.session.execute(_LOCK_PAGE_PAIR, params)).one()
        return PagePair(fence=int(row.fence), account_active=bool(row.active))


@dataclass(frozen=True)
class PagePair:
    """What a page's transaction learns with its first statement."""

    fence: int
    account_active: bool


# A locking clause in a scalar subquery: no row when the account does not exist, a NULL fence
# when the pair has no fence row yet.
_LOCK_PAGE_PAIR = text(
    """
    SELECT a.active,
           (SELECT f.fence FROM sync_fences f
            WHERE f.account_id = :account_id AND f.family = :family FOR SHARE) AS fence
    FROM ebay_accounts a WHERE a.id = :account_id
    """
)
