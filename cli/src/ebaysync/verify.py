"""``ebaysync verify``: the mirror of each (account, family) reconciled with its source of truth.

The source of truth is the sandbox's ground truth ``GET /sandbox/sellers/{username}/{path}``
(:data:`ebaysync.truths.TRUTHS` says where each family's is and how its records parse into
exactly the raw records the fetcher publishes). Rules:

* **Incremental families** (``FamilyTruth.date`` set): the records *due* are those dated in
  ``[start, cursor]``, where ``cursor`` is the pair's ``sync_state.cursor`` and ``start`` is the
  earliest ``window_from`` of the pair's runs (where its backfill began), never earlier than the
  family's lookback limit before the source's now (``--since`` overrides ``start``; purging old
  runs narrows the default range). Records dated after the cursor are not due yet: neither
  missing nor different, whatever the mirror holds of them.

  - *missing*: a due record with no mirrored row;
  - *different*: a due record whose mirrored ``payload`` is not equal to it (the differing
    top-level fields are listed);
  - *extra*: a mirrored row whose payload date lies in ``[start, cursor]`` but whose key the
    source does not hold at all (a key the source holds with a later date is only not due).

  A pair without a cursor has synced nothing yet and is not compared.
* **Snapshot families** (``date is None``): every record of the source is due. A record with no
  live row (none, or one marked ended: ``ended_at IS NOT NULL``) is *missing*; a live row the
  source does not hold is *extra*; a live row unequal to its record is *different*. A pair with
  no successful run yet is not compared.
* **History**: ``ebay_events`` rows repeated for the same (account, family, entity, run,
  change kind) and entities with more than one ``created`` event are *duplicate history*.

Anything in these lists makes the pair differ (``verify`` exits 1). A live system keeps
changing: an entity that changed after the last run (a Post-Order case refreshed while open)
shows as different until the next run; a frozen sandbox clock gives an exact answer.

Real eBay has no ground truth endpoint. Comparing the per-window counts eBay reports
(``total``) with the mirror's rows per window is not implemented yet: ``verify`` needs a
sandbox URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.accounts import EbayAccount
from common.db.events import EbayEvent
from common.db.sync import SyncRun, SyncState
from common.families import Family
from common.windows import DEFAULT_LOOKBACK, LOOKBACK_LIMITS
from ebaysync.truths import TRUTHS, FamilyTruth, Record

Records = dict[str, Record]

# --- the outcome ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Different:
    key: str
    fields: list[str]


@dataclass(frozen=True)
class DuplicateEvents:
    entity_id: str
    # None for "more than one created event", whatever their runs.
    run_id: str | None
    change_kind: str
    count: int


@dataclass
class Comparison:
    """What a pair's mirror lacks, has in excess, or holds otherwise than the source."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[Different] = field(default_factory=list)
    compared: int = 0


@dataclass
class PairReport:
    account_id: int
    username: str
    family: Family
    # The range of dates compared (incremental families); both None for snapshots.
    range_from: datetime | None
    range_to: datetime | None
    compared: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    different: list[Different] = field(default_factory=list)
    duplicate_events: list[DuplicateEvents] = field(default_factory=list)
    # Why nothing was compared (never synced), if so.
    skipped: str | None = None

    @property
    def count(self) -> int:
        return (
            len(self.missing) + len(self.extra) + len(self.different) + len(self.duplicate_events)
        )

    @property
    def clean(self) -> bool:
        return self.count == 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["family"] = str(self.family)
        data["range_from"] = self.range_from.isoformat() if self.range_from else None
        data["range_to"] = self.range_to.isoformat() if self.range_to else None
        data["clean"] = self.clean
        return data


# --- pure comparisons ----------------------------------------------------------------------


def changed_fields(mirrored: Mapping[str, Any], source: Mapping[str, Any]) -> list[str]:
    """The top-level fields whose values differ (as ``ebay_events.changed_fields`` names them)."""
    return sorted(k for k in mirrored.keys() | source.keys() if mirrored.get(k) != source.get(k))


def compare_range_start(
    first_window_from: datetime | None, source_now: datetime, lookback: timedelta
) -> datetime:
    """Where an incremental pair's comparison starts: its backfill's start, within lookback."""
    earliest = source_now - lookback
    return earliest if first_window_from is None else max(first_window_from, earliest)


def compare_incremental(
    truth: FamilyTruth,
    source: Iterable[Record],
    mirror: Mapping[str, Record],
    start: datetime,
    cursor: datetime,
) -> Comparison:
    """Incremental rules (module docstring): ``source`` holds every record dated from ``start``
    on (also those after the cursor); ``mirror`` every mirrored payload of the account."""
    assert truth.date is not None
    date = truth.date
    held = {truth.key(r): r for r in source}
    due = {k: r for k, r in held.items() if _within(date(r), start, cursor)}
    outcome = _compared(due, mirror)
    outcome.extra = sorted(
        k
        for k, payload in mirror.items()
        if k not in held and _within(date(payload), start, cursor)
    )
    return outcome


def compare_snapshot(
    truth: FamilyTruth, source: Iterable[Record], live: Mapping[str, Record]
) -> Comparison:
    """Snapshot rules: ``live`` holds the payloads of the rows not marked ended."""
    held = {truth.key(r): r for r in source}
    outcome = _compared(held, live)
    outcome.extra = sorted(live.keys() - held.keys())
    return outcome


def _compared(due: Mapping[str, Record], mirror: Mapping[str, Record]) -> Comparison:
    """Each due record against the mirror's payload of its key: missing, or different."""
    outcome = Comparison(compared=len(due))
    for key, record in sorted(due.items()):
        payload = mirror.get(key)
        if payload is None:
            outcome.missing.append(key)
        elif payload != record:
            outcome.different.append(Different(key, changed_fields(payload, record)))
    return outcome


def _within(value: datetime | None, start: datetime, end: datetime) -> bool:
    return value is not None and start <= value <= end


# --- reading the source and the mirror -----------------------------------------------------


async def source_now(sandbox: httpx.AsyncClient) -> datetime:
    response = await sandbox.get("/sandbox/clock")
    response.raise_for_status()
    return datetime.fromisoformat(response.json()["now"])


async def source_records(
    sandbox: httpx.AsyncClient,
    truth: FamilyTruth,
    username: str,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> Records:
    """A seller's records of one family as the sandbox holds them, by key (dates inclusive)."""
    params = {
        name: value.isoformat()
        for name, value in (("date_from", date_from), ("date_to", date_to))
        if value is not None
    }
    response = await sandbox.get(f"/sandbox/sellers/{username}/{truth.path}", params=params)
    response.raise_for_status()
    return {truth.key(r): r for r in truth.records(response.content)}


async def mirrored_records(
    sessions: async_sessionmaker[AsyncSession],
    truth: FamilyTruth,
    account_id: int,
    *,
    live_only: bool = False,
) -> Records:
    """The account's mirrored payloads of one family by key (``live_only``: not ended)."""
    table = truth.table.__table__  # type: ignore[attr-defined]
    query = select(table.c[truth.key_column], table.c.payload).where(
        table.c.account_id == account_id
    )
    if live_only:
        query = query.where(table.c.ended_at.is_(None))
    async with sessions() as session:
        rows = await session.execute(query)
        return {str(key): payload for key, payload in rows}


async def event_count(
    sessions: async_sessionmaker[AsyncSession], account_id: int, family: Family | None = None
) -> int:
    """How many history events the account has (of one family, or of all)."""
    query = select(func.count()).select_from(EbayEvent).where(EbayEvent.account_id == account_id)
    if family is not None:
        query = query.where(EbayEvent.family == str(family))
    async with sessions() as session:
        count = await session.scalar(query)
    return int(count or 0)


async def duplicate_events(
    sessions: async_sessionmaker[AsyncSession], account_id: int, family: Family
) -> list[DuplicateEvents]:
    params = {"account_id": account_id, "family": str(family)}
    async with sessions() as session:
        repeated = await session.execute(
            text(
                """
                SELECT entity_id, run_id::text AS run_id, change_kind, count(*) AS n
                FROM ebay_events WHERE account_id = :account_id AND family = :family
                GROUP BY entity_id, run_id, change_kind HAVING count(*) > 1
                """
            ),
            params,
        )
        created = await session.execute(
            text(
                """
                SELECT entity_id, count(*) AS n
                FROM ebay_events
                WHERE account_id = :account_id AND family = :family AND change_kind = 'created'
                GROUP BY entity_id HAVING count(*) > 1
                """
            ),
            params,
        )
        found = [DuplicateEvents(r.entity_id, r.run_id, r.change_kind, r.n) for r in repeated]
        found += [DuplicateEvents(r.entity_id, None, "created", r.n) for r in created]
    return sorted(found, key=lambda d: (d.entity_id, d.change_kind, d.run_id or ""))


async def _pair_progress(
    sessions: async_sessionmaker[AsyncSession], account_id: int, family: Family
) -> tuple[SyncState | None, datetime | None]:
    """The pair's sync state and the earliest window its runs reached back to."""
    async with sessions() as session:
        state = await session.get(SyncState, (account_id, str(family)))
        first_from = await session.scalar(
            select(func.min(SyncRun.window_from)).where(
                SyncRun.account_id == account_id, SyncRun.family == str(family)
            )
        )
    return state, first_from


# --- one pair, many pairs ------------------------------------------------------------------


async def verify_pair(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: httpx.AsyncClient,
    account_id: int,
    username: str,
    truth: FamilyTruth,
    since: datetime | None = None,
) -> PairReport:
    """Reconcile one (account, family) pair with the sandbox (rules: module docstring)."""
    state, first_from = await _pair_progress(sessions, account_id, truth.family)
    report = PairReport(account_id, username, truth.family, None, None)
    report.duplicate_events = await duplicate_events(sessions, account_id, truth.family)
    if truth.date is None:
        if state is None or state.last_success_at is None:
            report.skipped = "no successful snapshot yet"
            return report
        source = await source_records(sandbox, truth, username)
        live = await mirrored_records(sessions, truth, account_id, live_only=True)
        outcome = compare_snapshot(truth, source.values(), live)
    else:
        if state is None or state.cursor is None:
            report.skipped = "no cursor yet"
            return report
        now = await source_now(sandbox)
        lookback = LOOKBACK_LIMITS.get(truth.family, DEFAULT_LOOKBACK)
        start = since or compare_range_start(first_from, now, lookback)
        report.range_from, report.range_to = start, state.cursor
        # Up to now, not the cursor: a key held with a later date is not due, not extra.
        source = await source_records(sandbox, truth, username, start, max(now, state.cursor))
        mirror = await mirrored_records(sessions, truth, account_id)
        outcome = compare_incremental(truth, source.values(), mirror, start, state.cursor)
    report.compared = outcome.compared
    report.missing, report.extra, report.different = (
        outcome.missing,
        outcome.extra,
        outcome.different,
    )
    return report


async def accounts_to_verify(
    sessions: async_sessionmaker[AsyncSession], account: str | None
) -> list[EbayAccount]:
    """Active accounts, or the one named by id, eBay username or house name."""
    query = select(EbayAccount).where(EbayAccount.active).order_by(EbayAccount.id)
    if account is not None:
        match = (EbayAccount.username == account) | (EbayAccount.house_name == account)
        if account.isdigit():
            match |= EbayAccount.id == int(account)
        query = select(EbayAccount).where(match).order_by(EbayAccount.id)
    async with sessions() as session:
        return list((await session.scalars(query)).all())


async def verify(
    sessions: async_sessionmaker[AsyncSession],
    sandbox: httpx.AsyncClient,
    account: str | None = None,
    families: Sequence[Family] | None = None,
    since: datetime | None = None,
) -> list[PairReport]:
    """Every selected (account, family) pair that has a ground truth."""
    chosen = [TRUTHS[f] for f in (families or list(TRUTHS)) if f in TRUTHS]
    reports = []
    for row in await accounts_to_verify(sessions, account):
        for truth in chosen:
            reports.append(await verify_pair(sessions, sandbox, row.id, row.username, truth, since))
    return reports


# --- printing ------------------------------------------------------------------------------


def format_report(report: PairReport, limit: int = 10) -> list[str]:
    """A pair's outcome as lines for a terminal: the first ``limit`` keys of each list."""
    head = f"account {report.account_id} ({report.username}) {report.family}:"
    if report.skipped:
        return [f"{head} not compared ({report.skipped})"]
    window = (
        f" [{report.range_from.isoformat()} .. {report.range_to.isoformat()}]"
        if report.range_from and report.range_to
        else " [snapshot]"
    )
    verdict = "ok" if report.clean else f"{report.count} differences"
    lines = [f"{head} {report.compared} compared{window}: {verdict}"]

    def listed(name: str, items: Sequence[str]) -> None:
        if items:
            shown = ", ".join(items[:limit]) + (" …" if len(items) > limit else "")
            lines.append(f"  {name} ({len(items)}): {shown}")

    listed("missing", report.missing)
    listed("extra", report.extra)
    listed("different", [f"{d.key} {{{', '.join(d.fields)}}}" for d in report.different])
    listed(
        "duplicate history",
        [
            f"{d.entity_id} {d.change_kind} x{d.count}"
            + (f" in run {d.run_id}" if d.run_id else "")
            for d in report.duplicate_events
        ],
    )
    return lines
