"""Trading ``Ack``/``Errors`` onto the EbayError tree, on the contract samples."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from common.ebay.errors import (
    EbayAuthError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from common.ebay.quota import seconds_until_quota_reset
from common.ebay.trading import list_pagination, trading_error
from common.ebay.xml import Record, parse_document

CONTRACTS = Path("/work/shared/ebay-contracts/trading")
NOW = datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC)


def envelope_of(path: Path) -> Record:
    return parse_document(path.read_bytes(), ("Nothing",))[1]


def envelope(ack: str, *codes: str, severity: str = "Error") -> Record:
    errors = "".join(
        f"<Errors><ShortMessage>m{c}</ShortMessage><ErrorCode>{c}</ErrorCode>"
        f"<SeverityCode>{severity}</SeverityCode></Errors>"
        for c in codes
    )
    document = f'<R xmlns="urn:ebay:apis:eBLBaseComponents"><Ack>{ack}</Ack>{errors}</R>'
    return parse_document(document.encode(), ("Nothing",))[1]


def test_an_expired_iaf_token_is_an_auth_error() -> None:
    sample = envelope_of(CONTRACTS / "error_21917053_expired_iaf_token.response.xml")
    error = trading_error(sample, "GetMyMessages", NOW)
    assert isinstance(error, EbayAuthError)
    assert "21917053" in str(error) and "Expired IAF token." in str(error)


@pytest.mark.parametrize("code", ["931", "932", "21916984"])
def test_invalid_and_revoked_tokens_are_auth_errors(code: str) -> None:
    assert isinstance(trading_error(envelope("Failure", code), "GetUser", NOW), EbayAuthError)


def test_the_931_932_sample_is_an_auth_error() -> None:
    sample = envelope_of(CONTRACTS / "examples" / "error_931_932_token.response.xml")
    assert isinstance(trading_error(sample, "GetMyMessages", NOW), EbayAuthError)


def test_a_spent_daily_quota_waits_until_pacific_midnight() -> None:
    sample = envelope_of(CONTRACTS / "examples" / "error_518_call_usage_limit.response.xml")
    error = trading_error(sample, "GetMyeBaySelling", NOW)
    assert isinstance(error, EbayQuotaError)
    # 23:59:59 UTC on 2 March is 15:59:59 PST: eight hours and a second to go.
    assert error.retry_after == seconds_until_quota_reset(NOW) == 8 * 3600 + 1


def test_an_internal_error_is_transient() -> None:
    error = trading_error(envelope("Failure", "10007"), "GetMyeBayBuying", NOW)
    assert type(error) is EbayTransientError


def test_a_bad_header_is_a_request_error() -> None:
    sample = envelope_of(CONTRACTS / "error_10012_invalid_header.response.xml")
    error = trading_error(sample, "GeteBayOfficialTime", NOW)
    assert isinstance(error, EbayRequestError) and "10012" in str(error)


def test_auth_wins_over_other_errors_in_one_answer() -> None:
    error = trading_error(envelope("Failure", "37", "518", "932"), "GetMyMessages", NOW)
    assert isinstance(error, EbayAuthError) and "932" in str(error)
    quota = trading_error(envelope("Failure", "37", "518"), "GetMyMessages", NOW)
    assert isinstance(quota, EbayQuotaError)


@pytest.mark.parametrize("ack", ["Success", "Warning"])
def test_success_and_warnings_are_not_errors(ack: str) -> None:
    assert trading_error(envelope(ack, "21917053", severity="Warning"), "X", NOW) is None


def test_a_partial_failure_is_a_failure() -> None:
    error = trading_error(envelope("PartialFailure", "37"), "X", NOW)
    assert isinstance(error, EbayRequestError)


@pytest.mark.parametrize("doc", [envelope("Failure"), {"Timestamp": "2026-03-02T00:00:00Z"}])
def test_an_answer_without_ack_or_errors_is_unreadable(doc: Record) -> None:
    assert isinstance(trading_error(doc, "X", NOW), EbayPayloadError)


def test_pagination_of_a_container() -> None:
    sample = envelope_of(CONTRACTS / "examples" / "GetMyeBaySelling_ActiveList_page1.response.xml")
    assert list_pagination(sample, "ActiveList", "GetMyeBaySelling") == (5, 3)
    # eBay leaves an empty container out.
    assert list_pagination({"Ack": "Success"}, "WonList", "GetMyeBayBuying") == (0, 0)
    with pytest.raises(EbayPayloadError):
        list_pagination({"WonList": {"OrderTransactionArray": ""}}, "WonList", "X")
    with pytest.raises(EbayPayloadError):
        list_pagination(
            {"WonList": {"PaginationResult": {"TotalNumberOfEntries": "many"}}}, "WonList", "X"
        )


def test_a_failure_names_the_call_for_ebay_support() -> None:
    failed = envelope("Failure", "37")
    by_header = trading_error(failed, "GetMyMessages", NOW, request_id="req-1")
    assert by_header is not None and by_header.request_id == "req-1"
    assert str(by_header).endswith("(eBay request id req-1)")
    # Without the header, the envelope's CorrelationID names it.
    correlated = parse_document(
        b'<R xmlns="urn:ebay:apis:eBLBaseComponents"><Ack>Failure</Ack>'
        b"<CorrelationID>corr-9</CorrelationID><Errors><ShortMessage>m</ShortMessage>"
        b"<ErrorCode>518</ErrorCode><SeverityCode>Error</SeverityCode></Errors></R>",
        ("Nothing",),
    )[1]
    quota = trading_error(correlated, "GetMyMessages", NOW)
    assert isinstance(quota, EbayQuotaError) and quota.request_id == "corr-9"
    assert trading_error(envelope("Success"), "GetMyMessages", NOW, request_id="req-2") is None
