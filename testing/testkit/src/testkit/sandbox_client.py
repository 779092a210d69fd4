"""Talking to the eBay sandbox in tests: its reproducible config, logins, Trading calls and
signed requests. The sandbox suite's fixtures (services/ebay-sandbox/tests/conftest.py) build
on these; test modules import the types from here, as they cannot import a conftest."""

import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from ebay_sandbox.settings import SandboxConfig

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SCOPE = "https://api.ebay.com/oauth/api_scope"
SCOPES = " ".join(
    f"{SCOPE}{name}"
    for name in (
        "",
        "/sell.fulfillment.readonly",
        "/commerce.identity.readonly",
        "/sell.finances",
        "/sell.inventory.readonly",
        "/sell.payment.dispute",
    )
)

Json = dict[str, Any]
# Post-Order's three searches, which share their paging and date parameters.
POST_ORDER = [
    "/post-order/v2/return/search",
    "/post-order/v2/casemanagement/search",
    "/post-order/v2/inquiry/search",
]


def iso(moment: datetime) -> str:
    """eBay's timestamp format: milliseconds and ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def error_ids(resp: httpx.Response) -> list[int]:
    """The ``errorId`` of each error of a REST error body."""
    return [e["errorId"] for e in resp.json()["errors"]]


def make_config(**overrides: Any) -> SandboxConfig:
    """A reproducible config: pinned, frozen clock; every field explicit so env vars can't leak."""
    values: dict[str, Any] = {
        "seed": 7,
        "sellers": 3,
        "orders_per_day": 10,
        "history_days": 120,
        "client_id": "test-SBX-client",
        "client_secret": "test-secret",
        "ru_name": "test-RuName",
        "accept_url": "https://client.test/accept",
        "clock_offset_seconds": 0,
        "clock_start": START,
        "clock_frozen": True,
    }
    values.update(overrides)
    return SandboxConfig(**values)


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@dataclass
class Login:
    """Tokens obtained through the full consent + code grant flow."""

    access_token: str
    refresh_token: str
    body: Json

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def iaf(self) -> dict[str, str]:
        """Post-Order headers."""
        return {"Authorization": f"IAF {self.access_token}", "X-EBAY-C-MARKETPLACE-ID": "EBAY_US"}


NS = "{urn:ebay:apis:eBLBaseComponents}"


@dataclass
class TradingReply:
    """A parsed Trading response."""

    status: int
    body: bytes
    root: ET.Element
    headers: httpx.Headers

    def find(self, path: str) -> ET.Element | None:
        return self.root.find("/".join(f"{NS}{p}" for p in path.split("/")))

    def findall(self, path: str) -> list[ET.Element]:
        return self.root.findall("/".join(f"{NS}{p}" for p in path.split("/")))

    def text(self, path: str) -> str | None:
        found = self.find(path)
        return found.text if found is not None else None

    @property
    def ack(self) -> str | None:
        return self.text("Ack")

    @property
    def error_codes(self) -> list[str]:
        return [e.text or "" for e in self.findall("Errors/ErrorCode")]


def trading_headers(call: str, token: str | None, **overrides: str | None) -> dict[str, str]:
    headers: dict[str, str | None] = {
        "X-EBAY-API-CALL-NAME": call,
        "X-EBAY-API-SITEID": "0",
        "X-EBAY-API-COMPATIBILITY-LEVEL": "1355",
        "X-EBAY-API-IAF-TOKEN": token,
        "Content-Type": "text/xml",
    }
    headers.update({k.replace("_", "-"): v for k, v in overrides.items()})
    return {k: v for k, v in headers.items() if v is not None}


def trading_body(call: str, inner: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<{call}Request xmlns="urn:ebay:apis:eBLBaseComponents">{inner}</{call}Request>'
    )


@dataclass
class Signer:
    """Signs requests with a key pair from the sandbox's Key Management API."""

    key: Json

    def headers(
        self, method: str, url: str, body: bytes = b"", created: int = 1_700_000_000
    ) -> dict[str, str]:
        parsed = httpx.URL(url)
        jwe = self.key["jwe"]
        components = ['"x-ebay-signature-key"', '"@method"', '"@path"', '"@authority"']
        headers = {"x-ebay-signature-key": jwe}
        lines = []
        if body:
            digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
            headers["Content-Digest"] = digest
            components.insert(0, '"content-digest"')
            lines.append(f'"content-digest": {digest}')
        authority = parsed.host + (f":{parsed.port}" if parsed.port else "")
        lines += [
            f'"x-ebay-signature-key": {jwe}',
            f'"@method": {method.upper()}',
            f'"@path": {parsed.path}',
            f'"@authority": {authority}',
        ]
        params = f"({' '.join(components)});created={created}"
        lines.append(f'"@signature-params": {params}')
        base = "\n".join(lines).encode()
        private = serialization.load_der_private_key(base64.b64decode(self.key["privateKey"]), None)
        if isinstance(private, ed25519.Ed25519PrivateKey):
            signature = private.sign(base)
        else:
            assert isinstance(private, rsa.RSAPrivateKey)
            signature = private.sign(base, padding.PKCS1v15(), hashes.SHA256())
        headers["Signature-Input"] = f"sig1={params}"
        headers["Signature"] = f"sig1=:{base64.b64encode(signature).decode()}:"
        return headers
