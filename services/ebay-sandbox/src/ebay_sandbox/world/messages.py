"""My Messages of a seller (Trading GetMyMessages): arrivals that later get read and replied."""

from dataclasses import dataclass

from ebay_sandbox.catalog import FIRST_NAMES, LAST_NAMES, MESSAGE_SUBJECTS, MESSAGE_TEXTS
from ebay_sandbox.clock import DAY, MINUTE
from ebay_sandbox.ids import rng, scramble, unscramble
from ebay_sandbox.world.listings import ListingBook
from ebay_sandbox.world.model import Listing, Seller

RETENTION_MS = 365 * DAY  # messages expire (and disappear) a year after they arrive
_PER_SELLER = 10**7
_DIGITS = 11


@dataclass(frozen=True, slots=True)
class MessagePlan:
    """One message in the seller's inbox."""

    index: int
    message_id: str
    external_id: str | None
    sender: str
    recipient: str
    subject: str
    text: str
    message_type: str
    received_ms: int
    read_ms: int | None
    replied_ms: int | None
    flagged: bool
    item: Listing | None

    @property
    def expires_ms(self) -> int:
        """When the message leaves the mailbox."""
        return self.received_ms + RETENTION_MS

    @property
    def change_times(self) -> tuple[int, ...]:
        """Instants the message changes (it disappears at ``expires_ms``)."""
        changes = [t for t in (self.read_ms, self.replied_ms) if t is not None]
        return (self.received_ms, *changes)

    def is_read(self, now_ms: int) -> bool:
        """``Read`` at ``now_ms``."""
        return self.read_ms is not None and self.read_ms <= now_ms

    def is_replied(self, now_ms: int) -> bool:
        """``Replied`` at ``now_ms``."""
        return self.replied_ms is not None and self.replied_ms <= now_ms


def message_id(seed: int, seller_index: int, index: int) -> str:
    """Numeric message id (decodable back to seller and index)."""
    value = scramble(seller_index * _PER_SELLER + index, _DIGITS, f"{seed}/message")
    return f"2{value:0{_DIGITS}d}"


def parse_message_id(seed: int, text: str) -> tuple[int, int] | None:
    """(seller index, message index) of a message id, or None."""
    if len(text) != _DIGITS + 1 or not text.isdigit() or text[0] != "2":
        return None
    return divmod(unscramble(int(text[1:]), _DIGITS, f"{seed}/message"), _PER_SELLER)


def plan_message(
    seed: int, seller: Seller, book: ListingBook, index: int, received_ms: int
) -> MessagePlan:
    """Message ``index`` of ``seller``; a pure function of its arguments."""
    r = rng(seed, "message", seller.index, index)
    message_type, subject = r.choice(MESSAGE_SUBJECTS)
    member = message_type != "eBayMessage"
    item = book.active(r.randrange(book.slot_count), received_ms)
    sender = f"{r.choice(FIRST_NAMES)}_{r.choice(LAST_NAMES)}{r.randint(1, 9999)}".lower()
    read = received_ms + int(r.uniform(10 * MINUTE, 3 * DAY)) if r.random() < 0.85 else None
    replied = None
    if member and read is not None and r.random() < 0.5:
        replied = read + int(r.uniform(5 * MINUTE, DAY))
    external = f"3{scramble(seller.index * _PER_SELLER + index, 12, f'{seed}/ext'):012d}"
    return MessagePlan(
        index=index,
        message_id=message_id(seed, seller.index, index),
        external_id=external if member else None,
        sender=sender if member else "eBay",
        recipient=seller.username,
        subject=subject.format(item=item.item_id if item else "listing"),
        text=r.choice(MESSAGE_TEXTS),
        message_type=message_type,
        received_ms=received_ms,
        read_ms=read,
        replied_ms=replied,
        flagged=not member and r.random() < 0.2,
        item=item if item is not None and (member or r.random() < 0.5) else None,
    )
