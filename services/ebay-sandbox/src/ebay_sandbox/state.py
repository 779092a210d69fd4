"""The sandbox's mutable world: clock, sellers, tokens, keys, faults, caches, statistics and
the push notification set-up and sender."""

from typing import Annotated

from fastapi import Depends, Request

from ebay_sandbox.cache import LruCache, TimedCache
from ebay_sandbox.clock import SandboxClock, to_ms
from ebay_sandbox.faults import FaultStore
from ebay_sandbox.notifications.sender import PushSender
from ebay_sandbox.notifications.signatures import PushKeys
from ebay_sandbox.notifications.store import NotificationStore
from ebay_sandbox.ratelimits import CallTally
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.signing import SigningKeys
from ebay_sandbox.stats import RequestStats
from ebay_sandbox.tokens import TokenStore
from ebay_sandbox.world.model import Seller
from ebay_sandbox.world.seller import SellerWorld, make_seller


class Sandbox:
    """One simulated eBay; every seller's history is anchored at ``origin`` (default: creation).

    Seller worlds are built on first use, so a sandbox of many huge sellers starts instantly.
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock(
            offset_seconds=config.clock_offset_seconds,
            start=config.clock_start,
            frozen=config.clock_frozen,
        )
        self.origin_ms = to_ms(config.origin) if config.origin else self.clock.now_ms()
        self.sellers = [
            make_seller(config.seed, i, config.seller_profile(i), self.origin_ms)
            for i in range(config.sellers)
        ]
        self._by_username = {s.username: s for s in self.sellers}
        self._worlds: dict[int, SellerWorld] = {}
        self.tokens = TokenStore()
        self.faults = FaultStore()
        self.keys = SigningKeys(config.seed, config.client_secret.get_secret_value())
        self.stats = RequestStats()
        # Calls per quota window today, for Developer Analytics (ebay_sandbox.ratelimits).
        self.quotas = CallTally(config)
        self.notifications = NotificationStore()
        secret = config.client_secret.get_secret_value()
        self.push_keys = PushKeys(config.seed, secret, config.notify_digest)
        self.push = PushSender(self)
        # Rendered pages (valid until the data under them changes) and rendered entities.
        self.pages: TimedCache[tuple[object, ...], bytes] = TimedCache(config.page_cache)
        self.rendered: LruCache[tuple[object, ...], bytes] = LruCache(config.entity_cache)
        # Selections are whole result sets shared by the pages of a query: keep only a few.
        self.selections: TimedCache[tuple[object, ...], object] = TimedCache(64)

    def seller(self, username: str) -> Seller | None:
        """Seller by username."""
        return self._by_username.get(username)

    def work(self) -> dict[str, int]:
        """Seller worlds generated so far and the entities they built (``/sandbox/stats``)."""
        worlds = self._worlds.values()
        return {"worlds": len(worlds), "entities_built": sum(w.built for w in worlds)}

    def world(self, seller: Seller) -> SellerWorld:
        """The seller's generated world (built on first use)."""
        world = self._worlds.get(seller.index)
        if world is None:
            world = SellerWorld(self.config.seed, seller, self.origin_ms, self.config.entity_cache)
            self._worlds[seller.index] = world
        return world


async def get_sandbox(request: Request) -> Sandbox:
    """FastAPI dependency returning the app's :class:`Sandbox` (async: no threadpool hop)."""
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def base_url(request: Request) -> str:
    """Scheme, host and root path of this request, without a trailing slash."""
    return str(request.base_url).rstrip("/")
