"""The sandbox's mutable world: clock, sellers, order streams, tokens and faults."""

from typing import Annotated

from fastapi import Depends, Request

from ebay_sandbox.clock import SandboxClock, to_ms
from ebay_sandbox.faults import FaultStore
from ebay_sandbox.model import Seller
from ebay_sandbox.orders import DAY
from ebay_sandbox.sellers import SellerStream, make_sellers
from ebay_sandbox.settings import SandboxConfig
from ebay_sandbox.tokens import TokenStore


class Sandbox:
    """One simulated eBay; the order history is anchored at ``origin`` (default: creation)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock(
            offset_seconds=config.clock_offset_seconds,
            start=config.clock_start,
            frozen=config.clock_frozen,
        )
        self.origin_ms = to_ms(config.origin) if config.origin else self.clock.now_ms()
        self.sellers = make_sellers(config.seed, config.sellers)
        history_start = self.origin_ms - config.history_days * DAY
        self._by_username = {s.username: s for s in self.sellers}
        self._streams = {
            s.username: SellerStream(config.seed, s, history_start, config.orders_per_day)
            for s in self.sellers
        }
        self.tokens = TokenStore()
        self.faults = FaultStore()

    def seller(self, username: str) -> Seller | None:
        """Seller by username."""
        return self._by_username.get(username)

    def stream(self, seller: Seller) -> SellerStream:
        """The seller's order stream."""
        return self._streams[seller.username]


async def get_sandbox(request: Request) -> Sandbox:
    """FastAPI dependency returning the app's :class:`Sandbox` (async: no threadpool hop)."""
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]


def base_url(request: Request) -> str:
    """Scheme, host and root path of this request, without a trailing slash."""
    return str(request.base_url).rstrip("/")
