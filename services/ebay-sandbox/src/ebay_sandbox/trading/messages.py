"""GetMyMessages: headers first, then bodies for at most 10 message ids per call."""

from ebay_sandbox.calls import Call
from ebay_sandbox.horizon import Horizon
from ebay_sandbox.trading.errors import invalid_input
from ebay_sandbox.trading.request import TradingRequest
from ebay_sandbox.trading.xml import el, node, time_el
from ebay_sandbox.world.messages import (
    FOLDER_NAMES,
    INBOX,
    REPLY_WITHIN_MS,
    RETENTION_MS,
    MessagePlan,
    reply_to,
)
from ebay_sandbox.world.seller import SellerWorld

DETAIL_LEVELS = frozenset({"ReturnHeaders", "ReturnMessages", "ReturnSummary"})
MAX_IDS = 10
MAX_ENTRIES_PER_PAGE = 200


def select_messages(
    world: SellerWorld, low_ms: int, high_ms: int, horizon: Horizon, folder: int | None = None
) -> list[MessagePlan]:
    """Messages dated (received, or sent for replies) in ``[low_ms, high_ms]`` still in the
    mailbox, in ``folder`` (None: every folder), newest first."""
    now_ms = horizon.now_ms
    low = max(low_ms, now_ms - RETENTION_MS + 1)
    high = min(high_ms, now_ms)
    # Replies are dated up to REPLY_WITHIN_MS after the message they answer arrived.
    indexes = world.messages.between(low - REPLY_WITHIN_MS, high)
    if high_ms >= now_ms:
        horizon.change_at(world.messages.next_after(now_ms))
    found = []
    for index in indexes:
        message = world.messages.get(index)
        horizon.changes_at(message.change_times)
        reply = reply_to(message)
        for entry in (message, reply):
            if entry is None or not low <= entry.received_ms <= high:
                continue
            horizon.change_at(entry.expires_ms)
            if folder is None or entry.folder_at(now_ms) == folder:
                found.append(entry)
    found.sort(key=lambda m: (-m.received_ms, m.message_id))
    return found


def folder_xml(folder_id: int) -> str:
    """``<Folder>``: custom folders carry their name."""
    name = [] if folder_id <= 1 else [el("FolderName", FOLDER_NAMES[folder_id])]
    return node("Folder", [el("FolderID", folder_id), *name])


def message_xml(message: MessagePlan, now_ms: int, *, with_text: bool) -> str:
    """One ``<Message>``."""
    parts = [
        el("Sender", message.sender),
        el("RecipientUserID", message.recipient),
        el("SendToName", message.recipient),
        el("Subject", message.subject),
        el("MessageID", message.message_id),
    ]
    if message.external_id is not None:
        parts.append(el("ExternalMessageID", message.external_id))
    if with_text:
        parts.append(el("Text", f"<html><body><p>{message.text}</p></body></html>"))
    parts += [
        el("Flagged", message.flagged),
        el("Read", message.is_read(now_ms)),
        time_el("ReceiveDate", message.received_ms),
        time_el("ExpirationDate", message.expires_ms),
    ]
    if message.item is not None:
        parts.append(el("ItemID", message.item.item_id))
    enabled = message.external_id is not None
    details = [el("ResponseEnabled", enabled)]
    if enabled:
        url = (
            "https://mesg.ebay.com/ws/eBayISAPI.dll?ViewMyMessageDetails"
            f"&messageid={message.message_id}"
        )
        details.append(el("ResponseURL", url))
    parts += [
        node("ResponseDetails", details),
        folder_xml(message.folder_at(now_ms)),
        el("Replied", message.is_replied(now_ms)),
    ]
    if message.item is not None:
        parts += [time_el("ItemEndTime", message.item.end_ms), el("ItemTitle", message.item.title)]
    parts.append(el("MessageType", message.message_type))
    return node("Message", parts)


def summary_xml(messages: list[MessagePlan], now_ms: int) -> str:
    """``<Summary>`` (DetailLevel ReturnSummary): one FolderSummary per folder, Inbox and Sent
    first, then the custom folders."""
    folders = []
    for folder_id in FOLDER_NAMES:
        held = [m for m in messages if m.folder_at(now_ms) == folder_id]
        name = [el("FolderName", FOLDER_NAMES[folder_id])] if folder_id > 1 else []
        new = sum(1 for m in held if not m.is_read(now_ms))
        counts = [el("NewMessageCount", new), el("TotalMessageCount", len(held))]
        folders.append(node("FolderSummary", [el("FolderID", folder_id), *name, *counts]))
    new = sum(1 for m in messages if not m.is_read(now_ms))
    flagged = sum(1 for m in messages if m.flagged)
    counts = [el("NewMessageCount", new), el("FlaggedMessageCount", flagged)]
    return node("Summary", [*folders, *counts, el("TotalMessageCount", len(messages))])


def my_messages(call: Call, request: TradingRequest) -> str:
    """The response payload."""
    levels = request.texts("DetailLevel")
    if len(levels) != 1 or levels[0] not in DETAIL_LEVELS:
        raise invalid_input("DetailLevel")
    level = levels[0]
    ids = list(dict.fromkeys(request.texts("MessageIDs/MessageID")))
    if level != "ReturnSummary" and len(ids) > MAX_IDS:
        raise invalid_input("MessageIDs")
    if level == "ReturnMessages" and not ids:
        raise invalid_input("MessageIDs")
    # Without FolderID eBay lists the Inbox; a folder the seller does not have holds nothing.
    folder = request.integer("FolderID", default=INBOX, low=0, high=10**12)
    start, end = request.time("StartTime"), request.time("EndTime")
    if start is not None and end is not None and start > end:
        raise invalid_input("EndTime")
    per_page = request.integer(
        "Pagination/EntriesPerPage", default=25, low=1, high=MAX_ENTRIES_PER_PAGE
    )
    page = request.integer("Pagination/PageNumber", default=1, low=1, high=10**6)
    now_ms = call.now_ms
    low, high = start if start is not None else 0, end if end is not None else now_ms

    def build(horizon: Horizon) -> list[MessagePlan]:
        return select_messages(call.world, low, high, horizon)

    everything = call.selection((start, end), build)
    if level == "ReturnSummary":
        return summary_xml(everything, now_ms)
    messages = [m for m in everything if m.folder_at(now_ms) == folder]
    if ids:
        wanted = [call.world.find_message(i, now_ms) for i in ids]
        chosen = [m for m in wanted if m is not None]
    else:
        first = (page - 1) * per_page
        chosen = messages[first : first + call.page_size(per_page)]
    with_text = level == "ReturnMessages"
    if not chosen:
        return ""
    return node("Messages", [message_xml(m, now_ms, with_text=with_text) for m in chosen])
