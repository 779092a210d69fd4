"""eBay marketplace account-deletion notifications (fact sheet §8).

Endpoint validation answers ``sha256(challengeCode + verificationToken + endpoint)``. Every
delivery is signed: header ``x-ebay-signature`` is base64 JSON ``{alg, kid, signature, digest}``;
the ECDSA (P-256) / SHA-1 signature covers the compact JSON body, under a public key fetched
from the Notification API by ``kid`` with an application token, cached about an hour.
Nothing here parses a body on the event loop: :func:`parse_notice` is for a thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common.settings import EbayApiSettings

DELETION_TOPIC = "MARKETPLACE_ACCOUNT_DELETION"
# A seller revoked the app's access; its ``data`` is UNCONFIRMED (contracts notifications §1):
# read like the deletion's (``userId``, ``username``).
REVOCATION_TOPIC = "AUTHORIZATION_REVOCATION"
APP_SCOPE = "https://api.ebay.com/oauth/api_scope"
_KID = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def challenge_response(challenge_code: str, verification_token: str, endpoint: str) -> str:
    """The hex digest eBay expects back, inputs in exactly this order."""
    return hashlib.sha256((challenge_code + verification_token + endpoint).encode()).hexdigest()


class BadSignature(Exception):
    """The signature header is missing, malformed, or does not verify."""


class KeyUnavailable(Exception):
    """eBay's public key could not be fetched now (network, 5xx, credentials): retry later."""


@dataclass(frozen=True)
class SignatureHeader:
    kid: str
    signature: bytes


def parse_signature_header(value: str | None) -> SignatureHeader:
    if not value:
        raise BadSignature("no x-ebay-signature header")
    try:
        fields = json.loads(base64.b64decode(value, validate=True))
        kid, signature = fields["kid"], base64.b64decode(fields["signature"], validate=True)
        alg, digest = str(fields.get("alg", "")).lower(), str(fields.get("digest", "")).upper()
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadSignature("malformed x-ebay-signature header") from exc
    if not isinstance(kid, str) or not _KID.match(kid):
        raise BadSignature("malformed key id")
    if alg != "ecdsa" or digest != "SHA1":
        raise BadSignature(f"unsupported signature {alg}/{digest}")
    return SignatureHeader(kid=kid, signature=signature)


def pem_from_one_line(key: str) -> bytes:
    """getPublicKey returns the PEM armour and body on one line; PEM needs line breaks."""
    return (
        key.replace("-----BEGIN PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\n")
        .replace("-----END PUBLIC KEY-----", "\n-----END PUBLIC KEY-----")
        .encode()
    )


class NotANotice(Exception):
    """The body is not JSON, or is nested deeper than allowed."""


def nesting_exceeds(body: bytes, max_depth: int) -> bool:
    """Whether JSON ``body`` opens more than ``max_depth`` arrays or objects at once: a linear
    scan, so a hostile body can neither recurse the parser nor cost more than its length."""
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def parse_notice(body: bytes, max_depth: int) -> Any:
    """The JSON value of ``body``; CPU-bound, so callers run it in a thread."""
    if nesting_exceeds(body, max_depth):
        raise NotANotice(f"the notification is nested deeper than {max_depth} levels")
    try:
        return json.loads(body)
    except ValueError as exc:  # also invalid UTF-8
        raise NotANotice("the notification is not JSON") from exc


def compact_json(value: Any) -> bytes:
    """The form eBay signs: its SDK verifies ``JSON.stringify`` of the parsed body."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def load_public_key(public_key: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem_from_one_line(public_key))
    except ValueError as exc:
        raise BadSignature("eBay's public key does not load") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise BadSignature("eBay's public key is not an EC key")
    return key


def signs(key: ec.EllipticCurvePublicKey, header: SignatureHeader, message: bytes) -> bool:
    try:
        key.verify(header.signature, message, ec.ECDSA(hashes.SHA1()))
    except InvalidSignature:
        return False
    return True


class _Budget:
    """At most ``per_minute`` events in any 60 seconds."""

    def __init__(self, per_minute: int) -> None:
        self._per_minute = per_minute
        self._times: deque[float] = deque()

    def take(self, now: float) -> bool:
        while self._times and self._times[0] <= now - 60:
            self._times.popleft()
        if len(self._times) >= self._per_minute:
            return False
        self._times.append(now)
        return True


# Remembered misses are capped, so a flood of random key ids cannot grow memory without end.
MAX_REMEMBERED_MISSES = 4096


class NotificationKeys:
    """eBay's notification public keys by key id, fetched with an application token.

    A key id eBay does not know (404), or whose lookup failed, is remembered for
    ``negative_cache_seconds`` and not asked again meanwhile; and at most
    ``lookups_per_minute`` lookups reach eBay at all, so random key ids in forged notices
    cost a bounded number of outbound calls. Lookups run one at a time.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        ebay: EbayApiSettings,
        cache_seconds: float,
        negative_cache_seconds: float = 300.0,
        lookups_per_minute: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._ebay = ebay
        self._cache_seconds = cache_seconds
        self._negative_cache_seconds = negative_cache_seconds
        self._budget = _Budget(lookups_per_minute)
        self._clock = clock
        self._keys: dict[str, tuple[float, str]] = {}
        # kid -> (until, None for "eBay does not know it" or the failure's reason)
        self._misses: dict[str, tuple[float, str | None]] = {}
        self._lock = asyncio.Lock()
        self._app_token: tuple[float, str] | None = None

    async def get(self, kid: str) -> str | None:
        """The key's one-line PEM; None when eBay does not know the key id."""
        if (known := self._cached(kid)) is not None:
            return known[0]
        async with self._lock:
            if (known := self._cached(kid)) is not None:
                return known[0]
            if not self._budget.take(self._clock()):
                raise KeyUnavailable("too many unknown key ids lately; retry later")
            try:
                key = await self._fetch(kid)
            except KeyUnavailable as exc:
                self._remember_miss(kid, str(exc))
                raise
            if key is None:
                self._remember_miss(kid, None)
                return None
            self._keys[kid] = (self._clock() + self._cache_seconds, key)
            return key

    def _cached(self, kid: str) -> tuple[str | None] | None:
        """``(key,)`` or ``(None,)`` when known either way, else None; raises a cached
        failure."""
        now = self._clock()
        cached = self._keys.get(kid)
        if cached is not None and cached[0] > now:
            return (cached[1],)
        miss = self._misses.get(kid)
        if miss is None or miss[0] <= now:
            return None
        if miss[1] is not None:
            raise KeyUnavailable(f"{miss[1]} (remembered)")
        return (None,)

    def _remember_miss(self, kid: str, reason: str | None) -> None:
        self._misses.pop(kid, None)
        while len(self._misses) >= MAX_REMEMBERED_MISSES:
            self._misses.pop(next(iter(self._misses)))
        self._misses[kid] = (self._clock() + self._negative_cache_seconds, reason)

    async def _fetch(self, kid: str) -> str | None:
        url = f"{self._ebay.api_base_url}/commerce/notification/v1/public_key/{kid}"
        response = await self._call(
            "GET", url, headers={"Authorization": f"Bearer {await self._token()}"}
        )
        if response.status_code == 401:
            # eBay no longer takes the cached application token (expired or revoked before its
            # expires_in): without a new one, every notification would be refused until the
            # cached token's own expiry, up to two hours, while eBay gives up resending.
            self._app_token = None
            response = await self._call(
                "GET", url, headers={"Authorization": f"Bearer {await self._token()}"}
            )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise KeyUnavailable(f"getPublicKey answered HTTP {response.status_code}")
        return _field(response, "key")

    async def _token(self) -> str:
        if self._app_token is not None and self._app_token[0] > self._clock():
            return self._app_token[1]
        credentials = f"{self._ebay.client_id}:{self._ebay.client_secret.get_secret_value()}"
        response = await self._call(
            "POST",
            f"{self._ebay.api_base_url}/identity/v1/oauth2/token",
            data={"grant_type": "client_credentials", "scope": APP_SCOPE},
            headers={"Authorization": f"Basic {base64.b64encode(credentials.encode()).decode()}"},
        )
        if response.status_code != 200:
            raise KeyUnavailable(f"application token request answered {response.status_code}")
        token = _field(response, "access_token")
        expires_in = float(response.json().get("expires_in", 7200))
        self._app_token = (self._clock() + max(0.0, expires_in - 60), token)
        return token

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise KeyUnavailable(f"{type(exc).__name__} calling eBay") from exc


def _field(response: httpx.Response, name: str) -> str:
    try:
        value = response.json()[name]
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyUnavailable(f"eBay's answer has no {name}") from exc
    if not isinstance(value, str):
        raise KeyUnavailable(f"eBay's {name} is not a string")
    return value
