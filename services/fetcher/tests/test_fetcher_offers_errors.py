"""Which error a page of offers raises when SKU calls fail: pure."""

from __future__ import annotations

from common.ebay.errors import (
    EbayAuthError,
    EbayPayloadError,
    EbayQuotaError,
    EbayRequestError,
    EbayTransientError,
)
from fetcher.sources.offers import reported_error


def test_a_single_failure_is_raised_as_itself() -> None:
    error = EbayTransientError("HTTP 500", status=500)
    assert reported_error(ExceptionGroup("skus", [error])) is error


def test_an_auth_failure_comes_first_then_a_quota_then_other_transient_errors() -> None:
    auth = EbayAuthError("HTTP 401", status=401)
    quota = EbayQuotaError("spent", status=429, retry_after=3600)
    transient = EbayTransientError("HTTP 503", status=503)
    request = EbayRequestError("HTTP 400", status=400)
    assert reported_error(ExceptionGroup("skus", [request, transient, quota, auth])) is auth
    assert reported_error(ExceptionGroup("skus", [request, transient, quota])) is quota
    assert reported_error(ExceptionGroup("skus", [request, transient])) is transient
    payload = EbayPayloadError("half a body")
    assert reported_error(ExceptionGroup("skus", [payload, request])) is payload


def test_a_failure_that_is_not_ebays_raises_the_whole_group() -> None:
    group = ExceptionGroup("skus", [EbayAuthError("HTTP 401"), KeyError("sku")])
    assert reported_error(group) is group
