"""A seller's catalogue: slots that each host a succession of listings (relisted when they end)."""

from array import array
from bisect import bisect_right
from dataclasses import dataclass

from ebay_sandbox.cache import LruCache
from ebay_sandbox.catalog import ADJECTIVES, CATEGORIES, CONDITIONS, DETAILS, PRODUCTS
from ebay_sandbox.clock import DAY, HOUR, MINUTE
from ebay_sandbox.ids import rng, scramble, unscramble
from ebay_sandbox.world.model import Listing, Seller

AUCTION_DAYS = 7
GTC_CYCLE_MS = 30 * DAY  # Trading reports TimeLeft of a GTC listing up to its next 30-day cycle
MAX_GENERATIONS = 250  # item-id space per slot; the last generation never ends
MAX_SLOTS = 40_000  # item-id space per seller
FAR_FUTURE_MS = 2**62
_ITEM_DIGITS = 11


@dataclass(frozen=True, slots=True)
class Draft:
    """An Inventory API item that was never offered (getOffers has nothing for its SKU)."""

    sku: str
    title: str
    created_ms: int
    condition: str
    price_cents: int


@dataclass(frozen=True, slots=True)
class Product:
    """What every listing of a slot sells."""

    title: str
    base_cents: int
    shipping_cents: int
    condition: str
    category_id: str


class _Slot:
    """Lazily extended start/end instants of one slot's listings, and its product."""

    __slots__ = ("_rng", "auction", "ends", "inventory", "product", "starts")

    def __init__(self, seed: int, seller: Seller, slot: int, start_ms: int) -> None:
        r = rng(seed, "product", seller.index, slot)
        title = f"{r.choice(ADJECTIVES)} {r.choice(PRODUCTS)} {r.choice(DETAILS)}"
        base_cents = r.randint(4, 249) * 100
        shipping = 0 if r.random() < 0.4 else r.choice((399, 499, 599, 899))
        condition, category = r.choice(CONDITIONS), r.choice(CATEGORIES)
        self.product = Product(title, base_cents, shipping, condition, category)
        self._rng = rng(seed, "slot", seller.index, slot)
        self.auction = self._rng.random() < 0.1
        self.inventory = self._rng.random() < seller.inventory_share
        first = start_ms - int(self._rng.uniform(0, 60 * DAY))
        self.starts = array("q", [first])
        self.ends = array("q", [first + self._duration()])

    def _duration(self) -> int:
        if len(self.starts) >= MAX_GENERATIONS:
            return FAR_FUTURE_MS - self.starts[-1]
        if self.auction:
            return AUCTION_DAYS * DAY
        return DAY + min(int(self._rng.expovariate(1 / (90 * DAY))), 400 * DAY)

    def extend(self, until_ms: int) -> None:
        """Generate listings until one starts after ``until_ms`` (or the last one)."""
        while self.starts[-1] <= until_ms and len(self.starts) < MAX_GENERATIONS:
            if self._rng.random() < 0.7:
                gap = int(self._rng.uniform(MINUTE, 2 * HOUR))
            else:
                gap = int(self._rng.uniform(12 * HOUR, 3 * DAY))
            start = self.ends[-1] + gap
            self.starts.append(start)
            self.ends.append(start + self._duration())

    def ensure_generation(self, generation: int) -> bool:
        """Generate up to listing ``generation``; False if the slot never gets that far."""
        while len(self.starts) <= generation < MAX_GENERATIONS:
            self.extend(self.starts[-1])
        return generation < len(self.starts)

    def latest(self, at_ms: int) -> int | None:
        """Index of the last listing started at or before ``at_ms``."""
        self.extend(at_ms)
        g = bisect_right(self.starts, at_ms) - 1
        return g if g >= 0 else None

    def next_change(self, at_ms: int) -> int:
        """First start or end strictly after ``at_ms``."""
        g = self.latest(at_ms)
        if g is None:
            return self.starts[0]
        return self.ends[g] if self.ends[g] > at_ms else self.starts[g + 1]


class ListingBook:
    """All listings of one seller, generated on demand and cached."""

    def __init__(self, seed: int, seller: Seller, start_ms: int, cache: int) -> None:
        self.seed = seed
        self.seller = seller
        self.start_ms = start_ms
        self.slot_count = min(seller.profile.listings, MAX_SLOTS)
        self._slots: dict[int, _Slot] = {}
        self._listings: LruCache[tuple[int, int], Listing] = LruCache(cache)

    @property
    def built(self) -> int:
        """Listings built so far (an evicted one built again counts again)."""
        return self._listings.misses

    def slot(self, index: int) -> _Slot:
        """Timeline of slot ``index``."""
        found = self._slots.get(index)
        if found is None:
            found = self._slots[index] = _Slot(self.seed, self.seller, index, self.start_ms)
        return found

    def sku(self, slot: int) -> str:
        """The SKU of a slot: every listing of the slot sells the same product."""
        return f"SKU-{self.seller.index + 1:03d}-{slot + 1:05d}"

    def listing(self, slot: int, generation: int) -> Listing:
        """Listing ``generation`` of ``slot``."""
        return self._listings.get_or_make((slot, generation), lambda: self._make(slot, generation))

    def active(self, slot: int, at_ms: int) -> Listing | None:
        """The listing of ``slot`` live at ``at_ms``, if any."""
        timeline = self.slot(slot)
        g = timeline.latest(at_ms)
        if g is None or timeline.ends[g] <= at_ms:
            return None
        return self.listing(slot, g)

    def latest(self, slot: int, at_ms: int) -> Listing | None:
        """The last listing of ``slot`` started at or before ``at_ms`` (live or ended)."""
        g = self.slot(slot).latest(at_ms)
        return None if g is None else self.listing(slot, g)

    def all_active(self, at_ms: int) -> tuple[list[Listing], int]:
        """Every live listing at ``at_ms`` and the instant this set next changes."""
        found: list[Listing] = []
        horizon = FAR_FUTURE_MS
        for index in range(self.slot_count):
            listing = self.active(index, at_ms)
            if listing is not None:
                found.append(listing)
            horizon = min(horizon, self.slot(index).next_change(at_ms))
        return found, horizon

    def by_item_id(self, item_id: str) -> Listing | None:
        """The listing with this item id, if it belongs to this seller."""
        if len(item_id) != _ITEM_DIGITS + 1 or not item_id.isdigit() or item_id[0] != "1":
            return None
        number = unscramble(int(item_id[1:]), _ITEM_DIGITS, f"{self.seed}/item")
        number, generation = divmod(number, MAX_GENERATIONS)
        seller_index, slot = divmod(number, MAX_SLOTS)
        if seller_index != self.seller.index or slot >= self.slot_count:
            return None
        if not self.slot(slot).ensure_generation(generation):
            return None
        return self.listing(slot, generation)

    def drafts(self) -> list[Draft]:
        """Inventory items never offered: one per 30 Inventory API slots (at least one)."""
        inventory = int(self.slot_count * self.seller.inventory_share)
        count = max(1, inventory // 30) if inventory else 0
        drafts = []
        for i in range(count):
            r = rng(self.seed, "draft", self.seller.index, i)
            drafts.append(
                Draft(
                    sku=f"SKU-{self.seller.index + 1:03d}-D{i + 1:04d}",
                    title=f"{r.choice(ADJECTIVES)} {r.choice(PRODUCTS)} {r.choice(DETAILS)}",
                    created_ms=self.start_ms - int(r.uniform(0, 90 * DAY)),
                    condition=r.choice(CONDITIONS),
                    price_cents=r.randint(4, 249) * 100 + 99,
                )
            )
        return drafts

    def _make(self, slot: int, generation: int) -> Listing:
        timeline = self.slot(slot)
        timeline.ensure_generation(generation)
        start, end = timeline.starts[generation], timeline.ends[generation]
        product = timeline.product
        r = rng(self.seed, "listing", self.seller.index, slot, generation)
        price = int(product.base_cents * r.uniform(0.9, 1.1)) // 100 * 100 + r.choice(
            (99, 95, 50, 0)
        )
        span = max(1, min(end, start + 400 * DAY) - start)
        if timeline.auction:
            quantity = 1
            activity = sorted(start + int(r.random() * span) for _ in range(r.randint(0, 12)))
        else:
            quantity = r.choices((1, 2, 3, 5, 10, 20), weights=(40, 15, 10, 15, 10, 10))[0]
            # About half the fixed-price listings end because they sold out.
            sold = quantity if r.random() < 0.5 else r.randint(0, quantity - 1)
            activity = sorted(start + int(r.random() * span) for _ in range(sold))
            if sold == quantity and end < FAR_FUTURE_MS:
                activity[-1] = end - 1
        number = (self.seller.index * MAX_SLOTS + slot) * MAX_GENERATIONS + generation
        item_number = scramble(number, _ITEM_DIGITS, f"{self.seed}/item")
        return Listing(
            item_id=f"1{item_number:0{_ITEM_DIGITS}d}",
            slot=slot,
            generation=generation,
            sku=self.sku(slot),
            title=product.title,
            price_cents=max(99, price),
            shipping_cents=product.shipping_cents,
            sold_format="AUCTION" if timeline.auction else "FIXED_PRICE",
            quantity=quantity,
            start_ms=start,
            end_ms=end,
            activity=tuple(activity),
            watch_count=r.randint(0, 30),
            condition=product.condition,
            category_id=product.category_id,
            inventory_api=timeline.inventory,
        )
