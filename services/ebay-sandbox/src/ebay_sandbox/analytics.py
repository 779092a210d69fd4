"""Developer Analytics (v1_beta): getRateLimits (application token) and getUserRateLimits (user
token), reporting the calls the sandbox counted against each quota window (``ratelimits``).

Filters compare ``api_name`` / ``api_context`` case-sensitively with the payload's mixed casing,
as eBay does (fact sheet §6 quirk), and no match is 204 No Content.
"""

from collections.abc import Iterable

from fastapi import APIRouter, Request, Response

from ebay_sandbox.clock import iso_ms
from ebay_sandbox.errors import insufficient_permissions
from ebay_sandbox.gateway import app_grant, count_call, user_grant
from ebay_sandbox.paging import Json, dumps
from ebay_sandbox.ratelimits import POOLS, TRADING_POOLS, USER_LIMITED_CALL, Pool, Rate
from ebay_sandbox.state import SandboxDep

router = APIRouter(prefix="/developer/analytics/v1_beta")


def _wanted(pool: Pool, api_name: str | None, api_context: str | None) -> bool:
    return (api_name is None or api_name == pool.api) and (
        api_context is None or api_context == pool.context
    )


def rate_limits(rates: Iterable[tuple[Pool, Rate]]) -> Json:
    """``RateLimitsResponse``: one RateLimit per API and version, one Resource per pool."""
    apis: dict[tuple[str, str, str], list[Json]] = {}
    for pool, rate in rates:
        entry = {
            "count": rate.count,
            "limit": rate.limit,
            "remaining": rate.remaining,
            "reset": iso_ms(rate.reset_ms),
            "timeWindow": rate.window_seconds,
        }
        key = (pool.context, pool.api, pool.version)
        apis.setdefault(key, []).append({"name": pool.resource, "rates": [entry]})
    return {
        "rateLimits": [
            {"apiContext": c, "apiName": n, "apiVersion": v, "resources": resources}
            for (c, n, v), resources in apis.items()
        ]
    }


def _answer(rates: list[tuple[Pool, Rate]]) -> Response:
    if not rates:
        return Response(status_code=204)
    return Response(dumps(rate_limits(rates)), media_type="application/json")


@router.get("/rate_limit/")
async def get_rate_limits(
    request: Request,
    sandbox: SandboxDep,
    api_name: str | None = None,
    api_context: str | None = None,
) -> Response:
    """The application's quota windows today (an application token; a user token is refused)."""
    request.state.endpoint = "GET getRateLimits"
    if app_grant(sandbox, request).seller is not None:
        raise insufficient_permissions()
    now_ms = sandbox.clock.now_ms()
    pools = [p for p in POOLS if _wanted(p, api_name, api_context)]
    return _answer([(p, sandbox.quotas.daily(p, now_ms)) for p in pools])


@router.get("/user_rate_limit/")
async def get_user_rate_limits(
    request: Request,
    sandbox: SandboxDep,
    api_name: str | None = None,
    api_context: str | None = None,
) -> Response:
    """The calling seller's per-user windows: GetMyeBaySelling, 300 calls per 15 s."""
    request.state.endpoint = "GET getUserRateLimits"
    grant = user_grant(sandbox, request)
    now_ms = sandbox.clock.now_ms()
    assert grant.seller is not None
    seller = grant.seller.username
    count_call(sandbox, request, seller, None, now_ms)
    pool = TRADING_POOLS[USER_LIMITED_CALL]
    pools = [pool] if _wanted(pool, api_name, api_context) else []
    return _answer([(p, sandbox.quotas.user(seller, now_ms)) for p in pools])
