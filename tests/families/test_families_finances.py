"""Transactions and payouts through the whole family path, for a US, a UK and a German seller.

UK and German sellers must sign every Finances call; the sandbox enforces it, so these tests
also prove the token service's signing key and the fetcher's signatures work end to end.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import SecretStr
from sqlalchemy import func, select

from common.db.finances import EbayPayout, EbayTransaction, EbayTransactionFee
from common.db.signing_keys import EbaySigningKey
from common.ebay.errors import EbayRequestError
from common.ebay.finances import FinancesClient, payout_date_filter, transaction_date_filter
from common.ebay.signing import SigningKey
from common.families import Family
from ebay_sandbox.settings import SandboxConfig
from ebaysync.truths import TRUTHS
from testkit.pipeline import Pipeline, Seller, pipeline_fixture

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

MARKETPLACES = ("EBAY_US", "EBAY_GB", "EBAY_DE")
WINDOW = timedelta(days=30)


# Sellers cycle US, GB, US, DE, US: five include a UK and a German seller.
pipeline = pipeline_fixture(
    SandboxConfig(sellers=5, profile="tiny", orders_per_day=4, history_days=45, clock_frozen=True)
)


def seller_on(pipeline: Pipeline, marketplace: str) -> Seller:
    return next(s for s in pipeline.sellers if s.marketplace_id == marketplace)


def truth_key(family: Family, record: dict[str, Any]) -> Hashable:
    if family is Family.TRANSACTIONS:
        return (record["transactionId"], record["transactionType"])
    return TRUTHS[family].key(record)


async def mirrored(pipeline: Pipeline, family: Family, seller: Seller) -> dict[Hashable, Any]:
    async with pipeline.sessions() as session:
        if family is Family.TRANSACTIONS:
            transactions = await session.scalars(
                select(EbayTransaction).where(EbayTransaction.account_id == seller.account_id)
            )
            return {(r.transaction_id, r.transaction_type): r.payload for r in transactions}
        payouts = await session.scalars(
            select(EbayPayout).where(EbayPayout.account_id == seller.account_id)
        )
        return {r.payout_id: r.payload for r in payouts}


def fees_of(transactions: Iterable[dict[str, Any]]) -> dict[Hashable, Decimal]:
    """Every ``orderLineItems[].marketplaceFees[]`` eBay lists, summed per line item and type."""
    fees: dict[Hashable, Decimal] = defaultdict(Decimal)
    for t in transactions:
        for line in t.get("orderLineItems") or []:
            for fee in line.get("marketplaceFees") or []:
                key = (t["transactionId"], t["transactionType"], line["lineItemId"], fee["feeType"])
                fees[key] += Decimal(str(fee["amount"]["value"]))
    return dict(fees)


async def mirrored_fees(pipeline: Pipeline, seller: Seller) -> dict[Hashable, Decimal | None]:
    async with pipeline.sessions() as session:
        rows = await session.scalars(
            select(EbayTransactionFee).where(EbayTransactionFee.account_id == seller.account_id)
        )
        return {
            (r.transaction_id, r.transaction_type, r.line_item_id, r.fee_type): r.amount_value
            for r in rows
        }


@pytest.mark.parametrize("family", [Family.TRANSACTIONS, Family.FINANCES])
async def test_a_window_is_mirrored_exactly_for_us_uk_and_german_sellers(
    pipeline: Pipeline, family: Family
) -> None:
    now = await pipeline.sandbox_now()
    start = now - WINDOW
    truth = TRUTHS[family]
    for marketplace in MARKETPLACES:
        seller = seller_on(pipeline, marketplace)
        await pipeline.sync(seller, family, start, now)
        body = await pipeline.truth(seller, truth.path, date_from=start, date_to=now)
        expected = {truth_key(family, r): r for r in truth.records(body.content)}
        assert len(expected) > 10, (marketplace, len(expected))
        # Every record is dated inside the window it was fetched for.
        assert truth.date is not None
        dates = [truth.date(r) for r in expected.values()]
        assert all(d is not None and start <= d <= now for d in dates)
        assert await mirrored(pipeline, family, seller) == expected, marketplace
        if family is Family.TRANSACTIONS:
            fees = fees_of(expected.values())
            assert fees, marketplace
            assert await mirrored_fees(pipeline, seller) == fees, marketplace
    # The token service created the app's signing key pair once, for this eBay only.
    async with pipeline.sessions() as session:
        keys = await session.scalar(
            select(func.count())
            .select_from(EbaySigningKey)
            .where(EbaySigningKey.apiz_base_url == pipeline.sandbox_url)
        )
    assert keys == 1


async def test_unsigned_finances_calls_of_a_uk_seller_are_refused(pipeline: Pipeline) -> None:
    seller = seller_on(pipeline, "EBAY_GB")
    token = (await pipeline.tokens.access_token(seller.account_id)).token
    key = await pipeline.tokens.signing_key()
    client = FinancesClient(pipeline.http, pipeline.fetcher_settings.ebay.apiz_base_url)
    now = await pipeline.sandbox_now()
    transactions = transaction_date_filter(now - WINDOW, now)
    payouts = payout_date_filter(now - WINDOW, now)

    async def call(signing_key: SigningKey | None, *, payout: bool = False) -> int:
        fetch = client.get_payouts if payout else client.get_transactions
        page = await fetch(
            token,
            marketplace_id=seller.marketplace_id,
            signing_key=signing_key,
            date_filter=payouts if payout else transactions,
            offset=0,
            limit=20,
        )
        return page.total

    for payout in (False, True):
        with pytest.raises(EbayRequestError, match="errorId 215001") as refused:
            await call(None, payout=payout)
        assert refused.value.status == 403
        # Signed with another private key than the one the JWE names: refused as well.
        forged = SigningKey(key.signing_key_id, key.cipher, key.jwe, forged_private_key())
        with pytest.raises(EbayRequestError, match="errorId 215120"):
            await call(forged, payout=payout)
        # The same call, signed with the token service's key, is answered.
        assert await call(key, payout=payout) > 0


def forged_private_key() -> SecretStr:
    der = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SecretStr(base64.b64encode(der).decode())
