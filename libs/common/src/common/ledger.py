"""The per-application daily call ledger, shared by every fetcher replica.

eBay counts an application's calls per API and day (midnight to midnight US/Pacific), refuses
the rest of the day once a quota is spent, and sends no quota headers. So the fetchers count
their own calls in the JetStream KV bucket ``call_ledger``, under

    <day>.<api>.total              every call of the application to that API that day
    <day>.<api>.account.<id>       the calls made for one account
    <day>.<api>.accounts           how many accounts called that API that day

(``<day>`` is the quota day, e.g. ``2026-11-23``). Every eBay request made through the
fetcher's HTTP client is counted in memory by :class:`CallCounter` (an httpx event hook) and
added to the bucket with compare-and-set updates, so replicas never lose each other's counts. A
replica remembers the last value and revision it saw of each of the day's keys and updates from
those, reading a key only when another replica wrote it since (the update is refused) or it has
not seen it yet. Before a window is fetched, :func:`decide` turns the day's usage into go or
wait: see its rule.

Below the warning share of a quota the exact count decides nothing (everyone goes), so there a
fetcher stores its counts at most once per ``flush_seconds`` and decides from the API total it
saw within that time: a window costs no KV request of its own. Once an API nears its quota (or
its total is not known yet) every page stores its counts and every check reads the total, as
exactly as before (:meth:`CallLedger.flush_if_due`, :meth:`CallLedger.check`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime

import httpx
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.clock import utc_now
from common.ebay.quota import API_PATHS, QUOTA_ZONE, EbayApi, seconds_until_quota_reset
from common.families import FAMILIES, Family
from common.metrics import EBAY_CALLS, QUOTA_USED

log = logging.getLogger(__name__)


class DailyQuotas(BaseSettings):
    """Daily call quotas per eBay API, shared by all accounts (fact sheet §6 defaults).

    Field names are the ledger's API names (:class:`EbayApi`); raise one when eBay grants the
    application more. Read from ``EBAY_QUOTA_<API>`` by every service that needs them (the
    fetchers' ledger, the scheduler's budget), so one setting serves both.
    """

    model_config = SettingsConfigDict(env_prefix="EBAY_QUOTA_", extra="ignore")

    fulfillment: int = 100_000
    payment_dispute: int = 250_000
    finances: int = 15_000
    inventory: int = 2_000_000
    trading: int = 5_000
    # eBay counts Post-Order calls per resource, 5,000 a day each.
    postorder_cases: int = 5_000
    postorder_inquiries: int = 5_000
    postorder_returns: int = 5_000


class CallLedgerSettings(BaseModel):
    """The per-application daily call ledger all fetcher replicas share (this module)."""

    quotas: DailyQuotas = Field(default_factory=DailyQuotas)
    # From this share of an API's quota on: warn, and hold back accounts above their fair share.
    warn_ratio: float = Field(default=0.8, gt=0, le=1)
    # Below that share, a fetcher keeps its counts in memory this long at most, and decides from
    # an API total seen this recently; 0 stores and reads on every page (module docstring).
    flush_seconds: float = Field(default=1.0, ge=0)


# The API each family's listing calls go to (``common.families``: each family's spec).
FAMILY_APIS: Mapping[Family, EbayApi] = {family: spec.api for family, spec in FAMILIES.items()}


def api_of(path: str) -> EbayApi:
    """Which API a request path belongs to (base URLs may carry a prefix of their own)."""
    for prefix, api in API_PATHS:
        if prefix in path:
            return api
    return EbayApi.OTHER


# --- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """One API's calls today: by the whole application and by one account."""

    api_calls: int
    account_calls: int
    # Accounts that called this API today (the one asking may not be among them yet).
    active_accounts: int


@dataclass(frozen=True)
class Go:
    pass


@dataclass(frozen=True)
class Wait:
    # "share": this account used more than its share; "spent": the quota is used up.
    reason: str
    seconds: float


Decision = Go | Wait


def decide(usage: Usage, quota: int, warn_ratio: float, seconds_to_reset: float) -> Decision:
    """Go, or wait until the quota resets.

    Below ``warn_ratio`` of the quota everyone goes. From there on, an account that has used
    more than its fair share — the quota split evenly over the accounts that called the API
    today — waits for the reset, so one heavy account cannot starve the others of what is
    left; the rest go on. Once the quota is spent, everyone waits.
    """
    if usage.api_calls >= quota:
        return Wait("spent", seconds_to_reset)
    if usage.api_calls < warn_ratio * quota:
        return Go()
    fair_share = quota / max(1, usage.active_accounts)
    if usage.account_calls > fair_share:
        return Wait("share", seconds_to_reset)
    return Go()


# --- counting ---------------------------------------------------------------------------------

# The account whose window the current task is fetching: eBay requests carry no account id we
# could read back, and an httpx hook runs in the task that makes the request.
_CALLING_FOR: ContextVar[int | None] = ContextVar("calling_for", default=None)


@contextmanager
def calls_for(account_id: int) -> Iterator[None]:
    """Attribute the eBay calls made inside this block (in this task) to ``account_id``."""
    token = _CALLING_FOR.set(account_id)
    try:
        yield
    finally:
        _CALLING_FOR.reset(token)


def quota_day(now: datetime) -> date:
    return now.astimezone(QUOTA_ZONE).date()


CallKey = tuple[date, EbayApi, int | None]


class CallCounter:
    """Counts every eBay request in memory until the ledger flushes: an httpx request hook."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self._pending: Counter[CallKey] = Counter()
        # The (day, API) of the pending counts, kept as they come: asked on every page.
        self._pending_apis: set[tuple[date, EbayApi]] = set()

    async def on_request(self, request: httpx.Request) -> None:
        api = api_of(request.url.path)
        EBAY_CALLS.labels(api).inc()
        day = quota_day(self._clock())
        self._pending[(day, api, _CALLING_FOR.get())] += 1
        self._pending_apis.add((day, api))

    def take(self) -> Counter[CallKey]:
        """Everything counted so far; the counter starts again from zero."""
        taken, self._pending = self._pending, Counter()
        self._pending_apis = set()
        return taken

    def pending_apis(self) -> frozenset[tuple[date, EbayApi]]:
        """The (day, API) of every count not stored yet."""
        return frozenset(self._pending_apis)

    def give_back(self, calls: Mapping[CallKey, int]) -> None:
        """Counts a flush could not store: they go out with the next one."""
        self._pending.update(calls)
        self._pending_apis.update((day, api) for day, api, _ in calls)


class CallLedger:
    """The day's calls per API and account in KV, shared by every fetcher replica."""

    # Compare-and-set rounds before giving up on one key (only under heavy contention).
    MAX_CAS_ROUNDS = 50

    def __init__(
        self,
        kv: KeyValue,
        counter: CallCounter,
        settings: CallLedgerSettings,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._kv = kv
        self._counter = counter
        self._settings = settings
        self._clock = clock
        self._warned: set[tuple[date, EbayApi]] = set()
        # The last (value, revision) this replica read or wrote of each key of ``_seen_day``,
        # and when (time.monotonic()).
        self._seen: dict[str, tuple[int, int, float]] = {}
        self._seen_day: date | None = None
        self._flushed_at = -float("inf")
        self._closing = False

    async def flush_if_due(self) -> None:
        """:meth:`flush` when ``flush_seconds`` passed since the last one, or when a count not
        stored yet belongs to an API near its quota (or one whose total is not known yet)."""
        due = self._closing or time.monotonic() - self._flushed_at >= self._settings.flush_seconds
        pending = self._counter.pending_apis()
        if due or not all(self._far_below_quota(day, api) for day, api in pending):
            await self.flush()

    async def keep_flushing(self) -> None:
        """Flush every ``flush_seconds``: the counts of the last windows before a quiet spell
        are stored too."""
        while True:
            await asyncio.sleep(self._settings.flush_seconds)
            await self.flush()

    async def close(self) -> None:
        """Store what is pending; from now on every page stores its counts at once (the
        process is stopping, so nothing may stay in memory)."""
        self._closing = True
        await self.flush()

    async def flush(self) -> None:
        """Add the calls counted since the last flush to the shared ledger.

        Never raises: a count that cannot be stored now is kept for the next flush, and a
        ledger hiccup must not fail a window whose pages are already published.
        """
        self._flushed_at = time.monotonic()
        calls = self._counter.take()
        for index, ((day, api, account_id), count) in enumerate(calls.items()):
            try:
                await self._add_calls(day, api, account_id, count)
            except Exception:
                log.warning("call ledger: could not store counts, keeping them", exc_info=True)
                self._counter.give_back(dict(list(calls.items())[index:]))
                return

    async def usage(self, api: EbayApi, account_id: int, day: date | None = None) -> Usage:
        day = day or quota_day(self._clock())
        return Usage(
            api_calls=await self._read(_key(day, api, "total")),
            account_calls=await self._read(_key(day, api, f"account.{account_id}")),
            active_accounts=await self._read(_key(day, api, "accounts")),
        )

    async def api_totals(self, day: date | None = None) -> dict[EbayApi, int]:
        """Every API's calls so far on the quota day (the budget planner's input)."""
        day = day or quota_day(self._clock())
        return {api: await self._read(_key(day, api, "total")) for api in EbayApi}

    async def check(self, family: Family, account_id: int) -> Decision:
        """May this account fetch a window of ``family`` now? Warns once a day at the threshold."""
        api = FAMILY_APIS.get(family, EbayApi.OTHER)
        quota = getattr(self._settings.quotas, api.value, None)
        if quota is None:
            return Go()
        now = self._clock()
        day = quota_day(now)
        recent = self._recent_total(day, api)
        api_calls = recent if recent is not None else await self._read(_key(day, api, "total"))
        if api_calls < self._settings.warn_ratio * quota:
            # Below the threshold everyone goes: the account's own counts are not needed (one
            # KV read per window instead of three).
            usage = Usage(api_calls=api_calls, account_calls=0, active_accounts=0)
        else:
            usage = await self.usage(api, account_id, day)
        ratio = usage.api_calls / quota
        QUOTA_USED.labels(api).set(ratio)
        if ratio >= self._settings.warn_ratio and (day, api) not in self._warned:
            self._warned.add((day, api))
            log.warning(
                "eBay %s API: %d of %d daily calls used (%.0f %%); accounts above their share "
                "now wait for the reset",
                api,
                usage.api_calls,
                quota,
                100 * ratio,
            )
        return decide(usage, quota, self._settings.warn_ratio, seconds_until_quota_reset(now))

    def _recent_total(self, day: date, api: EbayApi) -> int | None:
        """The API's total as seen within ``flush_seconds``, if that is below the warning share
        (where it cannot change a decision); None: read it."""
        seen = self._seen.get(_key(day, api, "total"))
        if seen is None or time.monotonic() - seen[2] >= self._settings.flush_seconds:
            return None
        return seen[0] if self._far_below_quota(day, api) else None

    def _far_below_quota(self, day: date, api: EbayApi) -> bool:
        """Whether the API's last seen total is below the warning share of its quota."""
        quota = getattr(self._settings.quotas, api.value, None)
        if quota is None:
            return True  # no quota: nothing to decide
        seen = self._seen.get(_key(day, api, "total"))
        return seen is not None and seen[0] < self._settings.warn_ratio * quota

    def _saw(self, key: str, value: int, revision: int) -> None:
        self._seen[key] = (value, revision, time.monotonic())

    async def _add_calls(self, day: date, api: EbayApi, account_id: int | None, count: int) -> None:
        if day != self._seen_day:  # a new quota day: yesterday's keys are not updated again
            self._seen, self._seen_day = {}, day
        if account_id is not None:
            created = await self._add(_key(day, api, f"account.{account_id}"), count)
            if created:  # the account's first call to this API today
                await self._add(_key(day, api, "accounts"), 1)
        await self._add(_key(day, api, "total"), count)

    async def _add(self, key: str, count: int) -> bool:
        """Add ``count`` to a counter key by compare-and-set; True when this created the key.

        Starts from the value and revision last seen of the key; a refused write (another
        replica wrote in between) reads the key and tries again.
        """
        seen = self._seen.get(key)
        for _ in range(self.MAX_CAS_ROUNDS):
            value, revision = seen[:2] if seen is not None else await self._entry(key)
            total = str(value + count).encode()
            try:
                if revision == 0:
                    written = await self._kv.create(key, total)
                else:
                    written = await self._kv.update(key, total, last=revision)
            except KeyWrongLastSequenceError:
                seen = None  # another replica wrote it in between: read again
                continue
            self._saw(key, value + count, written)
            return revision == 0
        raise RuntimeError(f"call ledger: no compare-and-set on {key} in {self.MAX_CAS_ROUNDS}")

    async def _entry(self, key: str) -> tuple[int, int]:
        """A key's value and revision; revision 0 when there is none (JetStream's first is 1)."""
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:
            return 0, 0
        value, revision = _value(entry.value), entry.revision or 0
        if key.startswith(f"{self._seen_day}."):
            self._saw(key, value, revision)
        return value, revision

    async def _read(self, key: str) -> int:
        value, _ = await self._entry(key)
        return value


def _key(day: date, api: EbayApi, rest: str) -> str:
    return f"{day.isoformat()}.{api.value}.{rest}"


def _value(raw: bytes | None) -> int:
    return int(raw) if raw else 0
