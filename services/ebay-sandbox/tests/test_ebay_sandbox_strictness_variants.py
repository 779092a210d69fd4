"""Strictness variants: eBay behaviour the contracts leave open, played the other way."""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ebay_sandbox.strictness import LENIENT, parse_strictness
from testkit.sandbox_client import POST_ORDER, START, error_ids, iso

Login = Any  # conftest.Login
OFFERS = "/sell/inventory/v1/offer"


INQUIRIES = "/post-order/v2/inquiry/search"
_NOW = START


def strict(spec: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("config_overrides", [{"strictness": spec}])


@strict("offers-no-offer-400")
async def test_the_no_offer_400_variant_answers_25713_as_a_400(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    resp = await client.get(OFFERS, params={"sku": "SKU-001-99999"}, headers=tokens.headers)
    assert (resp.status_code, error_ids(resp)) == (400, [25713])
    # Only "no offer" moves: an unknown offer id is still a 404.
    assert (await client.get(f"{OFFERS}/123", headers=tokens.headers)).status_code == 404


@strict("postorder-max-limit-50")
@pytest.mark.parametrize("url", POST_ORDER)
async def test_the_max_limit_variant_refuses_a_larger_limit_naming_it(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: Any,
    url: str,
) -> None:
    tokens = await login()
    refused = await client.get(url, params={"limit": "51"}, headers=tokens.iaf)
    assert refused.status_code == 400
    post_order_schemas.validate("Error", refused.json())
    assert "limit" in refused.json()["error"][0]["message"]
    assert (await client.get(url, params={"limit": "50"}, headers=tokens.iaf)).status_code == 200


@strict("postorder-max-range-days-30")
@pytest.mark.parametrize("url", POST_ORDER)
async def test_the_max_range_variant_refuses_longer_and_date_less_searches(
    client: httpx.AsyncClient,
    login: Callable[..., Awaitable[Login]],
    post_order_schemas: Any,
    url: str,
) -> None:
    prefix = {"return": "", "casemanagement": "case_", "inquiry": "inquiry_"}[url.split("/")[3]]
    date_from, date_to = f"{prefix}creation_date_range_from", f"{prefix}creation_date_range_to"
    tokens = await login()

    async def search(days: float | None) -> httpx.Response:
        params = (
            {}
            if days is None
            else {
                date_from: iso(_NOW - timedelta(days=days)),
                date_to: iso(_NOW),
            }
        )
        return await client.get(url, params=params, headers=tokens.iaf)

    for refused in (await search(31), await search(None)):
        assert refused.status_code == 400, refused.text
        post_order_schemas.validate("Error", refused.json())
        assert date_from in refused.json()["error"][0]["message"]
    assert (await search(30)).status_code == 200


@strict("postorder-empty-no-paging")
@pytest.mark.parametrize("url", POST_ORDER)
async def test_the_empty_no_paging_variant_answers_an_empty_object(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]], url: str
) -> None:
    prefix = {"return": "", "casemanagement": "case_", "inquiry": "inquiry_"}[url.split("/")[3]]
    tokens = await login()
    minute = {
        f"{prefix}creation_date_range_from": iso(_NOW - timedelta(days=400)),
        f"{prefix}creation_date_range_to": iso(_NOW - timedelta(days=400) + timedelta(minutes=1)),
    }
    empty = await client.get(url, params=minute, headers=tokens.iaf)
    assert (empty.status_code, empty.json()) == (200, {})
    everything = (await client.get(url, headers=tokens.iaf)).json()
    assert everything["members"] and "paginationOutput" in everything


@strict("inquiry-no-lastmodified")
async def test_the_no_lastmodified_variant_leaves_it_out_of_inquiries_and_their_truth(
    client: httpx.AsyncClient, login: Callable[..., Awaitable[Login]]
) -> None:
    tokens = await login()
    members = (await client.get(INQUIRIES, headers=tokens.iaf)).json()["members"]
    assert members and all("lastModifiedDate" not in m for m in members)
    assert all("creationDate" in m for m in members)
    truth = (await client.get("/sandbox/sellers/sandbox_seller_1/inquiries")).json()["members"]
    assert truth and all("lastModifiedDate" not in m for m in truth)
    cases = (await client.get(POST_ORDER[1], headers=tokens.iaf)).json()["members"]
    assert all("lastModifiedDate" in m for m in cases)


def test_variants_combine_and_unknown_ones_are_refused() -> None:
    both = parse_strictness("postorder-max-limit-25, offers-no-offer-400")
    assert (both.post_order_max_limit, both.no_offer_status) == (25, 400)
    assert parse_strictness("") == LENIENT
    for bad in ("postorder-max-limit-0", "postorder-max-limit-x", "offers-no-offer-500"):
        with pytest.raises(ValueError, match="unknown strictness"):
            parse_strictness(bad)
