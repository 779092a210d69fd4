"""Post-Order API v2 searches: returns, cases and inquiries (fact sheet §3).

All three answer ``{"members": [...], "paginationOutput": {limit, offset, totalEntries,
totalPages}}`` and page with ``limit``/``offset``; each names its creation-date filter
differently. They take the OAuth user token as ``Authorization: IAF <token>`` and need
``X-EBAY-C-MARKETPLACE-ID``. Errors come as ``{"error": [...]}`` (sometimes wrapped in
``errorMessage``), token and rate errors as the usual REST ``{"errors": [...]}``; ``rest.py``
reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from common.ebay.errors import EbayPayloadError
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.rest import get_json

# The contract leaves the maximum unconfirmed; 200 is what the sandbox documents and what a
# vendor's documentation of case search states.
MAX_LIMIT = 200


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
    total: int
    offset: int

    @property
    def has_next(self) -> bool:
        return bool(self.members) and self.offset + len(self.members) < self.total


def parse_search_page(body: dict[str, Any], offset: int) -> SearchPage:
    """A search answer as its members and the result set's size."""
    members = body.get("members", [])
    pagination = body.get("paginationOutput")
    total = pagination.get("totalEntries") if isinstance(pagination, dict) else None
    if not isinstance(members, list) or not isinstance(total, int):
        raise EbayPayloadError("Post-Order search answered without members[] and totalEntries")
    return SearchPage(members=members, total=total, offset=offset)


class PostOrderClient:
    def __init__(self, http: httpx.AsyncClient, api_base_url: str) -> None:
        self._http = http
        self._base = api_base_url

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
        body = await get_json(
            self._http,
            f"{self._base}{search.path}",
            token=token,
            auth_scheme="IAF",
            params={**filters, "limit": str(limit), "offset": str(offset)},
            headers={
                "X-EBAY-C-MARKETPLACE-ID": marketplace_id,
                "Content-Type": "application/json",
            },
        )
        return parse_search_page(body, offset)
