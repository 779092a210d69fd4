"""Post-Order API v2 searches: returns, cases and inquiries (fact sheet §3).

All three answer ``{"members": [...], "paginationOutput": {limit, offset, totalEntries,
totalPages}}`` and page with ``limit``/``offset``; each names its creation-date filter
differently. They take the OAuth user token as ``Authorization: IAF <token>`` and need
``X-EBAY-C-MARKETPLACE-ID``. Errors come as ``{"error": [...]}`` (sometimes wrapped in
``errorMessage``), token and rate errors as the usual REST ``{"errors": [...]}``; ``rest.py``
reads both.

Neither the page size's maximum nor a date range's longest span is documented (fact sheet
§10): the client learns both from eBay's refusals (common.ebay.learned, docs/adr/0010).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError, EbayRequestError
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.learned import LearnedLimits, MemoryLimits, halved_limit
from common.ebay.rest import get_json

log = logging.getLogger(__name__)

# The contract leaves the maximum unconfirmed; 200 is what the sandbox documents and what a
# vendor's documentation of case search states. A lower maximum is learned (docs/adr/0010).
MAX_LIMIT = 200
LIMIT_PARAM = "limit"


class RangeRefusedError(EbayRequestError):
    """eBay refused a search's date range (too long, or no dates where it wants some)."""


@dataclass(frozen=True)
class PostOrderSearch:
    """One Post-Order search resource."""

    name: str
    path: str
    date_from_param: str
    date_to_param: str
    # The documented filter that keeps only entities still open.
    open_filter: tuple[str, str]

    def window_params(self, window_from: datetime, window_to: datetime) -> dict[str, str]:
        return {
            self.date_from_param: ebay_timestamp(window_from),
            self.date_to_param: ebay_timestamp(window_to),
        }

    def detail_path(self, entity_id: str) -> str:
        """The resource of one entity: the search path without ``/search``."""
        return f"{self.path.removesuffix('/search')}/{quote(entity_id, safe='')}"

    @property
    def limit_key(self) -> str:
        """The learned-limits key of this search's page size."""
        return f"postorder.{self.name}.limit"

    @property
    def range_key(self) -> str:
        """The learned-limits key of this search's longest date range, in minutes."""
        return f"postorder.{self.name}.range_minutes"


RETURN_SEARCH = PostOrderSearch(
    "return",
    "/post-order/v2/return/search",
    "creation_date_range_from",
    "creation_date_range_to",
    ("return_state", "ALL_OPEN"),
)
# CaseStatusFilter and InquiryStatusFilter are single-valued; their OPEN values are documented
# as "open cases" and "all active INR inquiries".
CASE_SEARCH = PostOrderSearch(
    "casemanagement",
    "/post-order/v2/casemanagement/search",
    "case_creation_date_range_from",
    "case_creation_date_range_to",
    ("case_status_filter", "OPEN"),
)
INQUIRY_SEARCH = PostOrderSearch(
    "inquiry",
    "/post-order/v2/inquiry/search",
    "inquiry_creation_date_range_from",
    "inquiry_creation_date_range_to",
    ("inquiry_status", "OPEN"),
)


@dataclass(frozen=True)
class SearchPage:
    members: list[dict[str, Any]]
    # None when eBay left paginationOutput (or its totalEntries) out.
    total: int | None
    offset: int
    # The page size the search was answered with (after any learned reduction).
    limit: int

    @property
    def has_next(self) -> bool:
        if not self.members:
            return False
        if self.total is None:
            # Without a total, only a short page proves the end (a full one costs one more call).
            return len(self.members) >= self.limit
        return self.offset + len(self.members) < self.total


def parse_search_page(body: dict[str, Any], offset: int, limit: int) -> SearchPage:
    """A search answer as its members and the result set's size.

    An empty result may come without ``members`` or ``paginationOutput`` (or with neither
    paging field): that is an empty page, not a broken one. Members that are not a list, or a
    total that is not a number, are.
    """
    members = body.get("members", [])
    pagination = body.get("paginationOutput", {})
    if pagination is None:
        pagination = {}
    if not isinstance(members, list) or not isinstance(pagination, dict):
        raise EbayPayloadError("Post-Order search answered members or paging of the wrong type")
    total = pagination.get("totalEntries")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
        raise EbayPayloadError(f"Post-Order search answered a non-numeric totalEntries {total!r}")
    if members and total is None:
        log.debug("Post-Order search answered members without totalEntries")
    return SearchPage(members=members, total=total, offset=offset, limit=limit)


class PostOrderClient:
    def __init__(
        self, http: httpx.AsyncClient, api_base_url: str, learned: LearnedLimits | None = None
    ) -> None:
        self._http = http
        self._base = api_base_url
        self.learned: LearnedLimits = learned if learned is not None else MemoryLimits()

    async def max_range(self, search: PostOrderSearch) -> timedelta | None:
        """The longest date range eBay was seen to accept after refusing a longer one."""
        minutes = await self.learned.get(search.range_key)
        return None if minutes is None else timedelta(minutes=minutes)

    async def learn_range(self, search: PostOrderSearch, accepted: timedelta) -> None:
        await self.learned.lower(search.range_key, int(accepted.total_seconds() // 60))

    async def search(
        self,
        search: PostOrderSearch,
        token: SecretStr,
        *,
        marketplace_id: str,
        filters: Mapping[str, str],
        offset: int,
        limit: int,
    ) -> SearchPage:
        """One page of a search, at most ``limit`` members (or the learned page size).

        A 400 that names ``limit`` halves it and tries again; the first size accepted is
        recorded. A 400 that names a date parameter raises :class:`RangeRefusedError`: the
        caller decides how to split its range.
        """
        learned = await self.learned.get(search.limit_key)
        limit = min(limit, learned) if learned is not None else limit
        refused = False
        while True:
            try:
                params = {**filters, "limit": str(limit), "offset": str(offset)}
                body = await self._get(search.path, token, marketplace_id, params)
            except EbayRequestError as exc:
                if exc.status == 400 and exc.names(search.date_from_param, search.date_to_param):
                    raise RangeRefusedError(str(exc), status=400, entries=exc.entries) from exc
                smaller = halved_limit(limit) if exc.names(LIMIT_PARAM) else None
                if exc.status != 400 or smaller is None:
                    raise
                limit, refused = smaller, True
                continue
            if refused:
                # Recorded only once accepted: a refusal for another reason never lowers it.
                await self.learned.lower(search.limit_key, limit)
            return parse_search_page(body, offset, limit)

    async def detail(
        self, search: PostOrderSearch, token: SecretStr, *, marketplace_id: str, entity_id: str
    ) -> dict[str, Any]:
        """One entity with its detail (``GET /post-order/v2/return/{id}``,
        ``/inquiry/{id}``): its history, tracking and refund lines."""
        return await self._get(search.detail_path(entity_id), token, marketplace_id, {})

    async def _get(
        self, path: str, token: SecretStr, marketplace_id: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        # Post-Order takes the OAuth user token as "IAF <token>" and names the marketplace.
        return await get_json(
            self._http,
            f"{self._base}{path}",
            token=token,
            auth_scheme="IAF",
            params=params,
            headers={
                "X-EBAY-C-MARKETPLACE-ID": marketplace_id,
                "Content-Type": "application/json",
            },
        )
