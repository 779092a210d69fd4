"""Trading API (XML) calls: GetMyMessages, GetMyeBaySelling ActiveList, GetMyeBayBuying WonList.

``POST {api}/ws/api.dll`` with the call in ``X-EBAY-API-CALL-NAME`` and the OAuth user token,
raw, in ``X-EBAY-API-IAF-TOKEN`` (fact sheet §2). Responses are read as a stream and parsed
incrementally (``common.ebay.xml``): memory is bounded by one page's records, whatever the body.

eBay reports Trading errors with HTTP 200 and ``Ack=Failure``; they map onto the same exception
tree as REST (:func:`trading_error`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import SecretStr

from common.clock import utc_now
from common.ebay.errors import (
    EbayAuthError,
    EbayError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
    request_id_of,
)
from common.ebay.fulfillment import ebay_timestamp
from common.ebay.quota import seconds_until_quota_reset
from common.ebay.rest import raise_for_status
from common.ebay.xml import MalformedXmlError, Record, RecordStream, RequestValue, request_xml

TRADING_PATH = "/ws/api.dll"
# The schema version we read; the sandbox and eBay answer every version since 1349 the same way
# for the fields we use.
COMPATIBILITY_LEVEL = 1349
MAX_ENTRIES_PER_PAGE = 200
# GetMyMessages: at most 10 MessageIDs per ReturnMessages call.
MAX_MESSAGE_IDS = 10
# GetMyeBayBuying WonList: DurationInDays 0..60.
MAX_WON_DURATION_DAYS = 60

# Where each call's records are, below the response root.
MESSAGE_PATH = ("Messages", "Message")
FOLDER_SUMMARY_PATH = ("Summary", "FolderSummary")
# The custom folder My Messages archives into: a message filed there is archived.
ARCHIVE_FOLDER_NAME = "Archive"
ACTIVE_ITEM_PATH = ("ActiveList", "ItemArray", "Item")
WON_TRANSACTION_PATH = ("WonList", "OrderTransactionArray", "OrderTransaction")

# Expired (21917053) or invalid (21916984) IAF token, invalid (931) or hard-expired/revoked (932)
# token: a fresh token may help once; after that the seller must reconnect.
AUTH_ERROR_CODES = frozenset({"21917053", "21916984", "931", "932"})
QUOTA_ERROR_CODE = "518"  # the daily call quota is spent until midnight US Pacific
TRANSIENT_ERROR_CODES = frozenset({"10007"})  # "internal error to the application"
FAILED_ACKS = frozenset({"Failure", "PartialFailure"})

# Fields of an ActiveList Item derived from the clock alone: TimeLeft counts down every second,
# so kept it would make every listing "changed" on every snapshot (an event per listing per run)
# and no stored listing would ever equal eBay's current one. Dropped from what we publish.
VOLATILE_ITEM_FIELDS = frozenset({"TimeLeft"})


@dataclass(frozen=True)
class TradingResponse:
    records: list[Record]
    # The rest of the document: Ack, Errors, Timestamp, PaginationResult.
    envelope: Record


@dataclass(frozen=True)
class MessageSummary:
    """GetMyMessages ``ReturnSummary``: the folders, and the counts eBay keeps of them."""

    folders: list[int]
    # Each FolderSummary (FolderID, FolderName, NewMessageCount, TotalMessageCount, …).
    folder_summaries: list[Record]
    # The Summary's own counts (NewMessageCount, FlaggedMessageCount, TotalMessageCount, …).
    totals: Record


@dataclass(frozen=True)
class ListPage:
    """One page of a paginated container (ActiveList, WonList)."""

    records: list[Record]
    total_entries: int
    total_pages: int


def active_listing_record(item: Record) -> Record:
    """An ActiveList ``Item`` as ebaysync publishes and stores it (without clock-derived fields)."""
    return {name: value for name, value in item.items() if name not in VOLATILE_ITEM_FIELDS}


def _as_list(value: object) -> list[Record]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def trading_error(
    envelope: Mapping[str, object], call: str, now: datetime, *, request_id: str | None = None
) -> EbayError | None:
    """The exception for a response's ``Ack``/``Errors``, or None when it succeeded.

    Warnings (``Ack=Warning``, ``SeverityCode=Warning``) are not failures. When several errors
    come back, the one a client can act on first wins: auth (refresh), quota (wait for the
    reset), transient (retry), then anything else (our request is wrong). The error names the
    call for eBay support: the response's request id header, else its ``CorrelationID``.
    """
    correlation = envelope.get("CorrelationID")
    rid = request_id or (correlation if isinstance(correlation, str) and correlation else None)
    ack = envelope.get("Ack")
    if not isinstance(ack, str):
        return EbayPayloadError(f"{call} answered without an Ack", request_id=rid)
    if ack not in FAILED_ACKS:
        return None
    errors = _as_list(envelope.get("Errors"))
    failures = [e for e in errors if e.get("SeverityCode") != "Warning"] or errors
    if not failures:
        return EbayPayloadError(f"{call} answered Ack={ack} without Errors", request_id=rid)
    codes = [str(e.get("ErrorCode", "")).strip() for e in failures]

    def detail(code: str) -> str:
        error = failures[codes.index(code)]
        return f"{call}: Trading error {code}: {error.get('ShortMessage', '')}"

    for code in codes:
        if code in AUTH_ERROR_CODES:
            return EbayAuthError(detail(code), request_id=rid)
    if QUOTA_ERROR_CODE in codes:
        reset = seconds_until_quota_reset(now)
        return EbayQuotaError(detail(QUOTA_ERROR_CODE), retry_after=reset, request_id=rid)
    for code in codes:
        if code in TRANSIENT_ERROR_CODES:
            return EbayTransientError(detail(code), request_id=rid)
    return EbayRequestError(detail(codes[0]), request_id=rid, entries=failures)


def list_pagination(envelope: Record, container: str, call: str) -> tuple[int, int]:
    """``(TotalNumberOfEntries, TotalNumberOfPages)`` of a container.

    eBay leaves out a container that has nothing in it, so a missing container is an empty one;
    a container without a readable PaginationResult is a broken answer.
    """
    box = envelope.get(container)
    if box is None:
        return 0, 0
    result = box.get("PaginationResult") if isinstance(box, dict) else None
    if not isinstance(result, dict):
        raise EbayPayloadError(f"{call} answered a {container} without PaginationResult")
    try:
        return int(result.get("TotalNumberOfEntries", "")), int(
            result.get("TotalNumberOfPages", "")
        )
    except ValueError as exc:
        raise EbayPayloadError(
            f"{call} answered an unreadable {container} PaginationResult"
        ) from exc


class TradingClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_base_url: str,
        *,
        compatibility_level: int = COMPATIBILITY_LEVEL,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._http = http
        self._url = f"{api_base_url}{TRADING_PATH}"
        self._compatibility_level = compatibility_level
        self._clock = clock

    async def call(
        self,
        call: str,
        token: SecretStr,
        site_id: int,
        fields: Mapping[str, RequestValue],
        record_path: Sequence[str],
    ) -> TradingResponse:
        """POST one call and parse its answer as it streams in; raise on any failure."""
        headers = {
            "Content-Type": "text/xml",
            "X-EBAY-API-CALL-NAME": call,
            "X-EBAY-API-SITEID": str(site_id),
            "X-EBAY-API-COMPATIBILITY-LEVEL": str(self._compatibility_level),
            "X-EBAY-API-IAF-TOKEN": token.get_secret_value(),
        }
        stream = RecordStream(record_path)
        records: list[Record] = []
        request_id: str | None = None
        try:
            async with self._http.stream(
                "POST", self._url, content=request_xml(call, fields), headers=headers
            ) as response:
                request_id = request_id_of(response.headers)
                if response.status_code >= 400:
                    # 429 and 5xx (with or without a Trading body) are transient, like REST.
                    await response.aread()
                    raise_for_status(response)
                async for chunk in response.aiter_bytes():
                    records.extend(stream.feed(chunk))
            rest, envelope = stream.close()
        except httpx.TransportError as exc:  # timeouts, refused and dropped connections
            raise EbayTransientError(f"{type(exc).__name__} calling {call}") from exc
        except MalformedXmlError as exc:
            raise EbayPayloadError(
                f"malformed XML from {call}: {exc}", request_id=request_id
            ) from exc
        error = trading_error(envelope, call, self._clock(), request_id=request_id)
        if error is not None:
            raise error
        return TradingResponse(records + rest, envelope)

    async def message_folders(self, token: SecretStr, site_id: int) -> list[int]:
        """GetMyMessages ``ReturnSummary``: the ids of the seller's folders (Inbox 0, Sent 1
        and the custom ones), ascending."""
        return (await self.message_summary(token, site_id)).folders

    async def message_summary(
        self,
        token: SecretStr,
        site_id: int,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> MessageSummary:
        """GetMyMessages ``ReturnSummary``: the folders and their message counts (of the
        messages dated in ``[start, end]`` when given), one call."""
        fields: dict[str, RequestValue] = {"DetailLevel": "ReturnSummary"}
        if start is not None:
            fields["StartTime"] = ebay_timestamp(start)
        if end is not None:
            fields["EndTime"] = ebay_timestamp(end)
        response = await self.call("GetMyMessages", token, site_id, fields, FOLDER_SUMMARY_PATH)
        folders = set()
        for summary in response.records:
            folder_id = summary.get("FolderID")
            if not isinstance(folder_id, str) or not folder_id.isdigit():
                raise EbayPayloadError("GetMyMessages answered a FolderSummary without FolderID")
            folders.add(int(folder_id))
        totals = response.envelope.get("Summary")
        return MessageSummary(
            folders=sorted(folders),
            folder_summaries=response.records,
            totals=totals if isinstance(totals, dict) else {},
        )

    async def message_headers(
        self,
        token: SecretStr,
        site_id: int,
        *,
        folder_id: int,
        start: datetime,
        end: datetime,
        page_number: int,
        entries_per_page: int,
    ) -> list[Record]:
        """GetMyMessages ``ReturnHeaders``: messages of one folder dated in ``[start, end]``,
        newest first.

        There is no PaginationResult: a page shorter than ``entries_per_page`` is the last one.
        """
        response = await self.call(
            "GetMyMessages",
            token,
            site_id,
            {
                "DetailLevel": "ReturnHeaders",
                "FolderID": str(folder_id),
                "StartTime": ebay_timestamp(start),
                "EndTime": ebay_timestamp(end),
                "Pagination": {
                    "EntriesPerPage": min(entries_per_page, MAX_ENTRIES_PER_PAGE),
                    "PageNumber": page_number,
                },
            },
            MESSAGE_PATH,
        )
        return response.records

    async def messages(
        self, token: SecretStr, site_id: int, message_ids: Sequence[str]
    ) -> list[Record]:
        """GetMyMessages ``ReturnMessages``: the full messages (with ``Text``) of ≤ 10 ids."""
        if len(message_ids) > MAX_MESSAGE_IDS:
            raise ValueError(f"at most {MAX_MESSAGE_IDS} MessageIDs per call")
        if not message_ids:
            return []
        response = await self.call(
            "GetMyMessages",
            token,
            site_id,
            {"DetailLevel": "ReturnMessages", "MessageIDs": {"MessageID": list(message_ids)}},
            MESSAGE_PATH,
        )
        return response.records

    async def active_list(
        self, token: SecretStr, site_id: int, *, page_number: int, entries_per_page: int
    ) -> ListPage:
        """GetMyeBaySelling ``ActiveList``, by ItemID (a stable order to page in)."""
        return await self._my_ebay_page(
            "GetMyeBaySelling",
            "ActiveList",
            {"Sort": "ItemID"},
            ACTIVE_ITEM_PATH,
            token,
            site_id,
            page_number=page_number,
            entries_per_page=entries_per_page,
        )

    async def won_list(
        self,
        token: SecretStr,
        site_id: int,
        *,
        duration_days: int,
        page_number: int,
        entries_per_page: int,
    ) -> ListPage:
        """GetMyeBayBuying ``WonList``: what the account bought in the last ``duration_days``."""
        if not 0 <= duration_days <= MAX_WON_DURATION_DAYS:
            raise ValueError(f"DurationInDays must be within 0..{MAX_WON_DURATION_DAYS}")
        return await self._my_ebay_page(
            "GetMyeBayBuying",
            "WonList",
            {"DurationInDays": duration_days},
            WON_TRANSACTION_PATH,
            token,
            site_id,
            page_number=page_number,
            entries_per_page=entries_per_page,
        )

    async def _my_ebay_page(
        self,
        call: str,
        container: str,
        options: Mapping[str, RequestValue],
        record_path: Sequence[str],
        token: SecretStr,
        site_id: int,
        *,
        page_number: int,
        entries_per_page: int,
    ) -> ListPage:
        """One page of a My eBay list: ``container`` included with ``options``, then paged."""
        pagination = {
            "EntriesPerPage": min(entries_per_page, MAX_ENTRIES_PER_PAGE),
            "PageNumber": page_number,
        }
        fields = {container: {"Include": "true", **options, "Pagination": pagination}}
        response = await self.call(call, token, site_id, fields, record_path)
        entries, pages = list_pagination(response.envelope, container, call)
        return ListPage(response.records, entries, pages)
