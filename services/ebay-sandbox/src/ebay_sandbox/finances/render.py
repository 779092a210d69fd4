"""``Transaction`` and ``Payout`` JSON."""

from typing import Any

from ebay_sandbox.catalog import MARKETS
from ebay_sandbox.clock import iso_ms
from ebay_sandbox.paging import money
from ebay_sandbox.world.ledger import LedgerEntry, PayoutPlan, transaction_state
from ebay_sandbox.world.model import OrderPlan, Seller
from ebay_sandbox.world.seller import SellerWorld

Json = dict[str, Any]
PAYMENTS_ENTITY = {
    "EBAY_US": "eBay Commerce Inc.",
    "EBAY_GB": "eBay Commerce UK Ltd.",
    "EBAY_DE": "eBay GmbH",
}
_STATUS_TEXT = {
    "INITIATED": "Funds on the way",
    "RETRYABLE_FAILED": "Payout failed, retrying",
    "SUCCEEDED": "Funds sent",
}


def currency(seller: Seller) -> str:
    """The seller's payout currency."""
    return MARKETS[seller.marketplace_id].currency


def _line_fees(plan: OrderPlan, fee_cents: int) -> list[Json]:
    cur = plan.currency
    fixed = 30
    variable = fee_cents - fixed
    lines, left = [], variable
    for i, line in enumerate(plan.lines):
        share = (
            left if i == len(plan.lines) - 1 else variable * line.total_cents // plan.total_cents
        )
        left -= share
        fees = [{"feeType": "FINAL_VALUE_FEE", "amount": money(share, cur)}]
        if i == 0:
            fees.append({"feeType": "FINAL_VALUE_FEE_FIXED_PER_ORDER", "amount": money(fixed, cur)})
        lines.append(
            {
                "lineItemId": line.line_item_id,
                "feeBasisAmount": money(line.total_cents, cur),
                "marketplaceFees": fees,
            }
        )
    return lines


def transaction_json(world: SellerWorld, entry: LedgerEntry, now_ms: int) -> Json:
    """The ``Transaction`` as it is at ``now_ms``."""
    seller = world.seller
    cur = currency(seller)
    payout_at, payout = world.payout_of(entry)
    status, payout_id = transaction_state(entry, payout, payout_at, now_ms)
    body: Json = {"transactionId": entry.transaction_id}
    plan = world.orders.get(entry.order_index).plan if entry.order_index is not None else None
    if plan is not None:
        body["orderId"] = plan.order_id
    if payout_id is not None:
        body["payoutId"] = payout_id
    # Required by the spec; eBay sends "0" when no sale is involved.
    body["salesRecordReference"] = plan.sales_record_reference if plan is not None else "0"
    if plan is not None and entry.kind in ("SALE", "REFUND"):
        body["buyer"] = {"username": plan.buyer_username}
    body["transactionType"] = entry.kind
    body["amount"] = money(entry.cents, cur)
    if entry.kind == "SALE" and plan is not None:
        body["totalFeeBasisAmount"] = money(entry.basis_cents, cur)
        body["totalFeeAmount"] = money(entry.fee_cents, cur)
        body["orderLineItems"] = _line_fees(plan, entry.fee_cents)
    if entry.kind == "NON_SALE_CHARGE":
        body["feeType"] = "EBAY_STORE_SUBSCRIPTION_FEE"
    body["bookingEntry"] = entry.booking
    body["transactionDate"] = iso_ms(entry.date_ms)
    body["transactionStatus"] = status
    if entry.kind == "SHIPPING_LABEL":
        body["transactionMemo"] = "Shipping label purchased on eBay"
    elif entry.kind == "NON_SALE_CHARGE":
        body["transactionMemo"] = "eBay Store subscription fee"
    body["paymentsEntity"] = PAYMENTS_ENTITY.get(seller.marketplace_id, "eBay Commerce Inc.")
    return body


def payout_json(seller: Seller, payout: PayoutPlan, now_ms: int) -> Json:
    """The ``Payout`` as it is at ``now_ms``."""
    status = payout.status(now_ms)
    body: Json = {
        "payoutId": payout.payout_id,
        "payoutStatus": status,
        "payoutStatusDescription": _STATUS_TEXT[status],
        "amount": money(payout.cents, currency(seller)),
        "payoutDate": iso_ms(payout.initiated_ms),
    }
    if payout.failed_ms is not None and payout.failed_ms <= now_ms:
        body["lastAttemptedPayoutDate"] = iso_ms(payout.failed_ms)
    body["transactionCount"] = payout.count
    body["payoutInstrument"] = {
        "instrumentType": "BANK",
        "nickname": "Business checking",
        "accountLastFourDigits": f"{(seller.index * 7919 + 1234) % 10_000:04d}",
    }
    return body
