"""Which transactions and payouts a Finances query returns."""

from ebay_sandbox.horizon import Horizon
from ebay_sandbox.world.ledger import LedgerEntry, PayoutPlan, entry_change_times, transaction_state
from ebay_sandbox.world.seller import SellerWorld

Transactions = list[LedgerEntry]


def select_transactions(
    world: SellerWorld,
    low_ms: int,
    high_ms: int,
    sets: dict[str, frozenset[str]],
    horizon: Horizon,
    *,
    ascending: bool = False,
) -> Transactions:
    """Transactions dated in ``[low_ms, high_ms]`` (high is at most now) matching ``sets``."""
    now_ms = horizon.now_ms
    horizon.change_at(world.next_entry_after(now_ms))
    chosen = []
    for entry in world.entries_dated(low_ms, min(high_ms, now_ms)):
        payout_at, payout = world.payout_of(entry)
        horizon.changes_at(sorted(entry_change_times(entry, payout, payout_at)))
        status, payout_id = transaction_state(entry, payout, payout_at, now_ms)
        if not _matches(world, entry, status, payout_id, sets):
            continue
        chosen.append(entry)
    if chosen:  # a lower bound that follows "now" lets the oldest drop out
        horizon.change_at(min(e.date_ms for e in chosen) + (now_ms - low_ms) + 1)
    chosen.sort(key=lambda e: (e.date_ms, e.transaction_id), reverse=not ascending)
    return chosen


def _matches(
    world: SellerWorld,
    entry: LedgerEntry,
    status: str,
    payout_id: str | None,
    sets: dict[str, frozenset[str]],
) -> bool:
    if "transactionType" in sets and entry.kind not in sets["transactionType"]:
        return False
    if "transactionStatus" in sets and status not in sets["transactionStatus"]:
        return False
    if "payoutId" in sets and payout_id not in sets["payoutId"]:
        return False
    if "transactionId" in sets and entry.transaction_id not in sets["transactionId"]:
        return False
    if "orderId" in sets or "buyerUsername" in sets:
        if entry.order_index is None:
            return False
        plan = world.orders.get(entry.order_index).plan
        if "orderId" in sets and plan.order_id not in sets["orderId"]:
            return False
        if "buyerUsername" in sets and plan.buyer_username not in sets["buyerUsername"]:
            return False
    return True


def select_payouts(
    world: SellerWorld,
    low_ms: int,
    high_ms: int,
    status: str | None,
    horizon: Horizon,
    *,
    by_attempt: bool = False,
    ascending: bool = False,
) -> list[PayoutPlan]:
    """Payouts initiated (or, ``by_attempt``, last failed) in ``[low_ms, high_ms]``."""
    now_ms = horizon.now_ms
    schedule = world.schedule
    first = schedule.day_for(max(low_ms, world.start_ms) - (3 * 86_400_000 if by_attempt else 0))
    last = schedule.day_for(min(high_ms, now_ms) + 1) - 1
    horizon.change_at(schedule.instant(last + 1))
    chosen = []
    for day in range(first, last + 1):
        payout = world.payout(day)
        if payout is None or payout.initiated_ms > now_ms:
            continue
        horizon.changes_at(payout.change_times)
        if status is not None and payout.status(now_ms) != status:
            continue
        moment = payout.failed_ms if by_attempt else payout.initiated_ms
        if moment is None or not low_ms <= moment <= min(high_ms, now_ms):
            continue
        chosen.append(payout)
    if chosen:
        horizon.change_at(min(p.initiated_ms for p in chosen) + (now_ms - low_ms) + 1)
    key = (lambda p: p.failed_ms or 0) if by_attempt else (lambda p: p.initiated_ms)
    chosen.sort(key=key, reverse=not ascending)
    return chosen
