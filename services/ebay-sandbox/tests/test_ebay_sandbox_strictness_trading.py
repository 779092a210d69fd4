"""Strict like eBay, Trading: header, body, token and call errors come back as eBay sends them."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

Login = Any  # conftest.Login
TradingFn = Any  # conftest.TradingFn


# --- Trading -------------------------------------------------------------------------------


async def test_trading_header_and_body_errors(
    trading: TradingFn, login: Callable[..., Awaitable[Login]]
) -> None:
    token = (await login()).access_token
    site = await trading("GetUser", token=token, X_EBAY_API_SITEID="US")
    assert (site.status, site.ack, site.error_codes) == (200, "Failure", ["10012"])
    assert site.text("Errors/ShortMessage") == 'Invalid value for header "X-EBAY-API-SITEID".'
    assert (
        site.text("Errors/LongMessage")
        == 'Header "X-EBAY-API-SITEID" with value "US" is out of range.'
    )
    assert [v.text for v in site.findall("Errors/ErrorParameters/Value")] == [
        "X-EBAY-API-SITEID",
        "US",
    ]
    level = await trading("GetUser", token=token, X_EBAY_API_COMPATIBILITY_LEVEL=None)
    assert level.error_codes == ["10012"]
    unknown = await trading("GetUser", token=token, X_EBAY_API_CALL_NAME="AddItem")
    assert unknown.error_codes == ["2"] and unknown.root.tag.endswith("AddItemResponse")
    broken = await trading("GetUser", token=token, body="<GetUserRequest")
    assert broken.error_codes == ["5"]
    wrong_root = await trading("GetUser", token=token, body="<GetUserRequest/>")
    assert wrong_root.error_codes == ["37"]


async def test_trading_token_errors(
    client: httpx.AsyncClient,
    trading: TradingFn,
    login: Callable[..., Awaitable[Login]],
    advance: Callable[[float], Awaitable[str]],
) -> None:
    assert (await trading("GetUser", token=None)).error_codes == ["930"]
    auth_n_auth = (
        "<RequesterCredentials><eBayAuthToken>AgAAAA**</eBayAuthToken></RequesterCredentials>"
    )
    assert (await trading("GetUser", auth_n_auth, token=None)).error_codes == ["931"]
    assert (await trading("GetUser", token="v^1.1#nope")).error_codes == ["931"]
    revoked = await login()
    await client.post("/sandbox/tokens/revoke", json={"token": revoked.access_token})
    reply = await trading("GetUser", token=revoked.access_token)
    assert (reply.status, reply.error_codes) == (200, ["932"])
    expiring = await login()
    await advance(7200)
    reply = await trading("GetMyeBaySelling", token=expiring.access_token)
    assert (reply.status, reply.error_codes) == (200, ["21917053"])
    assert reply.text("Errors/ShortMessage") == "Expired IAF token."


@pytest.mark.parametrize(
    ("call", "inner", "tag"),
    [
        ("GetMyMessages", "", "DetailLevel"),
        ("GetMyMessages", "<DetailLevel>ReturnEverything</DetailLevel>", "DetailLevel"),
        ("GetMyMessages", "<DetailLevel>ReturnMessages</DetailLevel>", "MessageIDs"),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><MessageIDs>"
            + "".join(f"<MessageID>{i}</MessageID>" for i in range(11))
            + "</MessageIDs>",
            "MessageIDs",
        ),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><Pagination><EntriesPerPage>201</EntriesPerPage></Pagination>",
            "EntriesPerPage",
        ),
        (
            "GetMyMessages",
            "<DetailLevel>ReturnHeaders</DetailLevel><StartTime>2025-05-02T00:00:00.000Z</StartTime>"
            "<EndTime>2025-05-01T00:00:00.000Z</EndTime>",
            "EndTime",
        ),
        (
            "GetMyeBaySelling",
            "<ActiveList><Pagination><EntriesPerPage>201</EntriesPerPage></Pagination></ActiveList>",
            "EntriesPerPage",
        ),
        (
            "GetMyeBaySelling",
            "<ActiveList><Pagination><PageNumber>0</PageNumber></Pagination></ActiveList>",
            "PageNumber",
        ),
        ("GetMyeBaySelling", "<ActiveList><Sort>Colour</Sort></ActiveList>", "Sort"),
        (
            "GetMyeBayBuying",
            "<WonList><DurationInDays>61</DurationInDays></WonList>",
            "DurationInDays",
        ),
    ],
)
async def test_trading_call_errors(
    trading: TradingFn, login: Callable[..., Awaitable[Login]], call: str, inner: str, tag: str
) -> None:
    reply = await trading(call, inner, token=(await login()).access_token)
    assert (reply.status, reply.ack, reply.error_codes) == (200, "Failure", ["37"])
    assert reply.text("Errors/ErrorParameters/Value") == tag
