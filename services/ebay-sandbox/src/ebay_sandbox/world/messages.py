"""My Messages of a seller (Trading GetMyMessages): arrivals that later get read, replied and
filed into folders; each reply is a message of the Sent folder."""

from dataclasses import dataclass, replace

from ebay_sandbox.catalog import FIRST_NAMES, LAST_NAMES, MESSAGE_SUBJECTS, MESSAGE_TEXTS
from ebay_sandbox.clock import DAY, MINUTE
from ebay_sandbox.ids import rng, scramble, unscramble
from ebay_sandbox.world.listings import ListingBook
from ebay_sandbox.world.model import Listing, Seller

RETENTION_MS = 365 * DAY  # messages expire (and disappear) a year after they arrive
_PER_SELLER = 10**7
_DIGITS = 11
# Leading digit of a message id: a received message, or the seller's reply to one (Sent folder).
_RECEIVED, _SENT = "2", "4"
# A reply comes at most this long after its message arrives (read within 3 days, replied within
# one more): the Sent folder of a range is found among the messages received this much earlier.
REPLY_WITHIN_MS = 4 * DAY

INBOX, SENT = 0, 1
# Every seller's custom folders (FolderID, FolderName), as My Messages shows them after Inbox and
# Sent. A message filed into "Archive" is what the mirror calls archived.
CUSTOM_FOLDERS = ((1_000_001, "Archive"), (1_000_002, "Follow-up"))
FOLDER_NAMES = {INBOX: "Inbox", SENT: "Sent", **dict(CUSTOM_FOLDERS)}


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
    folder_id: int = INBOX  # where it arrives: Inbox, or Sent for a reply
    # When the seller files it into a custom folder, and which one.
    filed_ms: int | None = None
    filed_to: int | None = None

    @property
    def expires_ms(self) -> int:
        """When the message leaves the mailbox."""
        return self.received_ms + RETENTION_MS

    @property
    def change_times(self) -> tuple[int, ...]:
        """Instants the message changes (it disappears at ``expires_ms``)."""
        changes = [t for t in (self.read_ms, self.replied_ms, self.filed_ms) if t is not None]
        return (self.received_ms, *changes)

    def folder_at(self, now_ms: int) -> int:
        """The folder the message is in at ``now_ms``."""
        if self.filed_to is not None and self.filed_ms is not None and self.filed_ms <= now_ms:
            return self.filed_to
        return self.folder_id

    def is_read(self, now_ms: int) -> bool:
        """``Read`` at ``now_ms``."""
        return self.read_ms is not None and self.read_ms <= now_ms

    def is_replied(self, now_ms: int) -> bool:
        """``Replied`` at ``now_ms``."""
        return self.replied_ms is not None and self.replied_ms <= now_ms


def message_id(seed: int, seller_index: int, index: int) -> str:
    """Numeric message id (decodable back to seller and index)."""
    value = scramble(seller_index * _PER_SELLER + index, _DIGITS, f"{seed}/message")
    return f"{_RECEIVED}{value:0{_DIGITS}d}"


def parse_message_id(seed: int, text: str) -> tuple[int, int, bool] | None:
    """(seller index, message index, whether it is the reply) of a message id, or None."""
    if len(text) != _DIGITS + 1 or not text.isdigit() or text[0] not in (_RECEIVED, _SENT):
        return None
    seller, index = divmod(unscramble(int(text[1:]), _DIGITS, f"{seed}/message"), _PER_SELLER)
    return seller, index, text[0] == _SENT


def reply_to(message: MessagePlan) -> MessagePlan | None:
    """The seller's reply to ``message``, in the Sent folder from when it was sent."""
    if message.replied_ms is None:
        return None
    return replace(
        message,
        message_id=_SENT + message.message_id[1:],
        external_id=None,
        sender=message.recipient,
        recipient=message.sender,
        subject=f"Re: {message.subject}",
        message_type="ResponseToASQQuestion",
        received_ms=message.replied_ms,
        read_ms=message.replied_ms,
        replied_ms=None,
        flagged=False,
        folder_id=SENT,
        filed_ms=None,
        filed_to=None,
    )


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
    filed_ms = filed_to = None
    filing = rng(
        seed, "message-filing", seller.index, index
    )  # apart: older draws stay as they were
    if read is not None and filing.random() < 0.3:  # filed once dealt with
        filed_ms = (replied or read) + int(filing.uniform(MINUTE, DAY))
        filed_to = filing.choice(CUSTOM_FOLDERS)[0]
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
        filed_ms=filed_ms,
        filed_to=filed_to,
    )
