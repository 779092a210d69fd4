"""eBay's call quotas as the sandbox keeps them: which quota a call counts against, and the
calls each quota has counted today (Developer Analytics reports them, see ``analytics``).

eBay keeps a daily window per application and resource (fact sheet §6): Trading per call,
Post-Order per resource, Fulfillment's order and payment_dispute resources apart, one pool for
Finances and for Inventory. Windows reset at midnight US Pacific. Per user, eBay limits
GetMyeBaySelling to 300 calls per 15 s. Only calls with a valid token count: without one eBay
cannot tell whose quota a call belongs to.
"""

from collections import Counter
from dataclasses import dataclass

from ebay_sandbox.faults import quota_reset_ms
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.trading.request import CALLS as TRADING_CALLS

TRADING_PATH = "/ws/api.dll"
# The per-user limit eBay documents (fact sheet §6): GetMyeBaySelling, 300 calls / 15 s / seller.
USER_LIMITED_CALL = "GetMyeBaySelling"
USER_WINDOW_MS = 15_000
DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class Pool:
    """One quota window as getRateLimits names it; ``limit_of`` names its sandbox setting.

    Casing is eBay's mixed one (fact sheet §6 quirk): contexts "sell", "TradingAPI", names
    "Fulfillment", "TradingAPI"; the filters compare them case-sensitively, as eBay does.
    """

    context: str
    api: str
    version: str
    resource: str
    limit_of: str


# Path prefixes, most specific first, and the pool the calls under them count against.
REST_POOLS: tuple[tuple[str, Pool], ...] = (
    (
        "/sell/fulfillment/v1/payment_dispute",
        Pool("sell", "Fulfillment", "v1", "payment_dispute", "quota_payment_dispute"),
    ),
    ("/sell/fulfillment/v1/", Pool("sell", "Fulfillment", "v1", "order", "quota_fulfillment")),
    ("/sell/finances/v1/", Pool("sell", "Finances", "v1", "sell.finances", "quota_finances")),
    ("/sell/inventory/v1/", Pool("sell", "Inventory", "v1", "sell.inventory", "quota_inventory")),
    (
        "/post-order/v2/casemanagement",
        Pool("sell", "PostOrder", "v2", "casemanagement", "quota_postorder"),
    ),
    ("/post-order/v2/inquiry", Pool("sell", "PostOrder", "v2", "inquiry", "quota_postorder")),
    ("/post-order/v2/return", Pool("sell", "PostOrder", "v2", "return", "quota_postorder")),
    (
        "/post-order/v2/cancellation",
        Pool("sell", "PostOrder", "v2", "cancellation", "quota_postorder"),
    ),
    (
        "/commerce/notification/v1/",
        Pool("commerce", "Notification", "v1", "commerce.notification", "quota_notification"),
    ),
    (
        "/developer/analytics/v1_beta/",
        Pool("developer", "Analytics", "v1_beta", "developer.analytics", "quota_analytics"),
    ),
)
TRADING_POOLS = {
    call: Pool("TradingAPI", "TradingAPI", "v1", call, "quota_trading")
    for call in sorted(TRADING_CALLS)
}
POOLS: tuple[Pool, ...] = (*(p for _, p in REST_POOLS), *TRADING_POOLS.values())


def pool_of(path: str, trading_call: str | None) -> Pool | None:
    """The pool a request counts against, or None (APIs without a known quota, e.g. Identity)."""
    if path.endswith(TRADING_PATH):
        return TRADING_POOLS.get(trading_call or "")
    for prefix, pool in REST_POOLS:
        if prefix in path:
            return pool
    return None


def limit(config: SandboxConfig, pool: Pool) -> int:
    """The configured limit of a pool."""
    value = getattr(config, pool.limit_of)
    assert isinstance(value, int)
    return value


@dataclass(frozen=True, slots=True)
class Rate:
    """One pool's window: calls counted, the limit and when the window resets."""

    count: int
    limit: int
    reset_ms: int
    window_seconds: int

    @property
    def remaining(self) -> int:
        """Calls left before the limit (never negative)."""
        return max(0, self.limit - self.count)


@dataclass(frozen=True, slots=True)
class DayCalls:
    """One quota day's calls per pool, and the instant the day ends."""

    reset_ms: int
    calls: dict[Pool, int]

    def body(self) -> dict[str, object]:
        calls = {f"{pool.api}/{pool.resource}": n for pool, n in self.calls.items()}
        return {"resets_at_ms": self.reset_ms, "calls": dict(sorted(calls.items()))}


class CallTally:
    """Calls per pool in the current quota day, and GetMyeBaySelling calls per seller in the
    current 15-s window. A new day (or window) starts from zero."""

    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._reset_ms = 0
        self._daily: Counter[Pool] = Counter()
        # The last quota day that ended.
        self._ended: DayCalls | None = None
        self._user: dict[str, tuple[int, int]] = {}  # seller -> (window start ms, calls)

    def _roll(self, now_ms: int) -> None:
        if now_ms >= self._reset_ms:
            if self._reset_ms:
                self._ended = DayCalls(self._reset_ms, dict(self._daily))
            self._reset_ms = quota_reset_ms(now_ms)
            self._daily.clear()

    def days(self, now_ms: int) -> tuple[DayCalls, DayCalls | None]:
        """The calls per pool of the current quota day and of the last one that ended (a
        sandbox extension: a test counts a whole day's calls, ``GET /sandbox/calls``)."""
        self._roll(now_ms)
        return DayCalls(self._reset_ms, dict(self._daily)), self._ended

    def record(self, pool: Pool, seller: str | None, now_ms: int) -> Rate:
        """Count one call; returns the pool's rate including it."""
        self._roll(now_ms)
        self._daily[pool] += 1
        if seller is not None and pool.resource == USER_LIMITED_CALL:
            start = now_ms - now_ms % USER_WINDOW_MS
            begun, calls = self._user.get(seller, (start, 0))
            self._user[seller] = (start, calls + 1 if begun == start else 1)
        return self.daily(pool, now_ms)

    def daily(self, pool: Pool, now_ms: int) -> Rate:
        """The pool's window today."""
        self._roll(now_ms)
        return Rate(self._daily[pool], limit(self._config, pool), self._reset_ms, DAY_SECONDS)

    def user(self, seller: str, now_ms: int) -> Rate:
        """The seller's GetMyeBaySelling window."""
        start = now_ms - now_ms % USER_WINDOW_MS
        begun, calls = self._user.get(seller, (start, 0))
        count = calls if begun == start else 0
        config_limit = self._config.quota_user_selling
        return Rate(count, config_limit, start + USER_WINDOW_MS, USER_WINDOW_MS // 1000)
