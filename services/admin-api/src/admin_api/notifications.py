"""eBay marketplace account-deletion notifications (fact sheet §8).

Endpoint validation answers ``sha256(challengeCode + verificationToken + endpoint)``. Every
delivery is signed: header ``x-ebay-signature`` is base64 JSON ``{alg, kid, signature, digest}``;
the ECDSA (P-256) / SHA-1 signature covers the compact JSON body, under a public key fetched
from the Notification API by ``kid`` with an application token, cached about an hour.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from common.settings import EbayApiSettings

DELETION_TOPIC = "MARKETPLACE_ACCOUNT_DELETION"
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


def verify_signature(public_key: str, header: SignatureHeader, body: bytes) -> None:
    """Raise BadSignature unless ``header`` signs ``body``.

    eBay's own SDK verifies the body re-serialised as compact JSON (``JSON.stringify``), so
    that form is tried first, then the bytes as received.
    """
    try:
        key = serialization.load_pem_public_key(pem_from_one_line(public_key))
    except ValueError as exc:
        raise BadSignature("eBay's public key does not load") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise BadSignature("eBay's public key is not an EC key")
    candidates = [body]
    try:
        compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
        candidates.insert(0, compact)
    except ValueError:
        pass
    for candidate in candidates:
        try:
            key.verify(header.signature, candidate, ec.ECDSA(hashes.SHA1()))
            return
        except InvalidSignature:
            continue
    raise BadSignature("signature does not match the message")


class NotificationKeys:
    """eBay's notification public keys by key id, fetched with an application token."""

    def __init__(
        self, http: httpx.AsyncClient, ebay: EbayApiSettings, cache_seconds: float
    ) -> None:
        self._http = http
        self._ebay = ebay
        self._cache_seconds = cache_seconds
        self._keys: dict[str, tuple[float, str]] = {}
        self._app_token: tuple[float, str] | None = None

    async def get(self, kid: str) -> str | None:
        """The key's one-line PEM; None when eBay does not know the key id."""
        cached = self._keys.get(kid)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        response = await self._call(
            "GET",
            f"{self._ebay.api_base_url}/commerce/notification/v1/public_key/{kid}",
            headers={"Authorization": f"Bearer {await self._token()}"},
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise KeyUnavailable(f"getPublicKey answered HTTP {response.status_code}")
        key = _field(response, "key")
        self._keys[kid] = (time.monotonic() + self._cache_seconds, key)
        return key

    async def _token(self) -> str:
        if self._app_token is not None and self._app_token[0] > time.monotonic():
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
        self._app_token = (time.monotonic() + max(0.0, expires_in - 60), token)
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
