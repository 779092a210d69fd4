"""eBay push notifications against a served sandbox: a receiving endpoint the test serves, a
sandbox with an application and a user token (``served``), and eBay's signature check as the
contract writes it (fact sheet §4)."""

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request, Response

from ebay_sandbox.notifications.signatures import challenge_response
from testkit.sandbox import serve_asgi, serve_sandbox
from testkit.sandbox_client import SCOPE, Json, basic_auth, make_config
from testkit.waiting import eventually

NOTIFY = "/commerce/notification/v1"
TOKEN = "/identity/v1/oauth2/token"
VERIFICATION_TOKEN = "ebaysync_verification_token_0123456789abcdef"
USER_SCOPES = " ".join(
    f"{SCOPE}{name}"
    for name in (
        "",
        "/sell.fulfillment.readonly",
        "/commerce.notification.subscription",
    )
)


# --- a receiving endpoint ---------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTPS-style push endpoint: answers eBay's challenge and records every POST."""

    token: str = VERIFICATION_TOKEN
    url: str = ""
    statuses: list[int] = field(default_factory=list)  # answers in turn, then 204
    wrong_challenge: bool = False
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    challenges: int = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/hook")
        async def challenge(challenge_code: str) -> dict[str, str]:
            self.challenges += 1
            token = "x" + self.token if self.wrong_challenge else self.token
            return {"challengeResponse": challenge_response(challenge_code, token, self.endpoint)}

        @app.post("/hook")
        async def push(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            status = self.statuses.pop(0) if self.statuses else 204
            return Response(status_code=status)

        return app

    @property
    def endpoint(self) -> str:
        return f"{self.url}/hook"

    def documents(self) -> list[Json]:
        return [json.loads(body) for _, body in self.received]


@asynccontextmanager
async def serve_receiver(receiver: Receiver) -> AsyncIterator[Receiver]:
    async with serve_asgi(receiver.app()) as url:
        receiver.url = url
        yield receiver


@dataclass
class Push:
    """A served sandbox with an application token and a seller's user token."""

    http: httpx.AsyncClient
    scopes: str
    username: str
    app: dict[str, str] = field(default_factory=dict)
    user: dict[str, str] = field(default_factory=dict)

    async def renew(self) -> None:
        """Fresh tokens (access tokens last 2 h of sandbox time)."""
        app, user = await _tokens(self.http, self.scopes, self.username)
        self.app = {"Authorization": f"Bearer {app}"}
        self.user = {"Authorization": f"Bearer {user}"}

    async def setup_destination(self, receiver: Receiver, status: str = "ENABLED") -> str:
        resp = await self.http.put(
            f"{NOTIFY}/config", json={"alertEmail": "ops@example.com"}, headers=self.app
        )
        assert resp.status_code == 204, resp.text
        body = {
            "name": "ebaysync",
            "status": status,
            "deliveryConfig": {"endpoint": receiver.endpoint, "verificationToken": receiver.token},
        }
        resp = await self.http.post(f"{NOTIFY}/destination", json=body, headers=self.app)
        assert resp.status_code == 201, resp.text
        return resp.headers["location"].rsplit("/", 1)[-1]

    async def subscribe(
        self, topic: str, destination_id: str, status: str = "ENABLED", app: bool = False
    ) -> httpx.Response:
        body = {
            "topicId": topic,
            "status": status,
            "destinationId": destination_id,
            "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"},
        }
        headers = self.app if app else self.user
        return await self.http.post(f"{NOTIFY}/subscription", json=body, headers=headers)

    async def advance(self, seconds: float) -> None:
        resp = await self.http.post("/sandbox/clock/advance", json={"seconds": seconds})
        assert resp.status_code == 200, resp.text

    async def settled(self) -> Json:
        """Scan, then wait until nothing is on its way; the final statistics."""
        await self.renew()
        await self.http.post("/sandbox/notifications/scan")
        stats: Json = {}

        async def idle() -> bool:
            nonlocal stats
            stats = (await self.http.get("/sandbox/notifications/stats")).json()
            return bool(stats["pending"] == 0)

        await eventually(idle, within=30, what="notifications delivered", interval=0.05)
        return stats


async def _tokens(http: httpx.AsyncClient, scopes: str, username: str) -> tuple[str, str]:
    auth = basic_auth("test-SBX-client", "test-secret")
    form = {"grant_type": "client_credentials", "scope": SCOPE}
    app = (await http.post(TOKEN, data=form, headers=auth)).json()["access_token"]
    params = {
        "client_id": "test-SBX-client",
        "redirect_uri": "test-RuName",
        "response_type": "code",
        "scope": scopes,
        "state": "s",
        "seller": username,
    }
    location = (await http.get("/oauth2/authorize", params=params)).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "test-RuName"}
    user = (await http.post(TOKEN, data=form, headers=auth)).json()["access_token"]
    return app, user


@asynccontextmanager
async def served(
    scopes: str = USER_SCOPES, username: str = "sandbox_seller_1", **overrides: Any
) -> AsyncIterator[Push]:
    overrides.setdefault("notify_retry_seconds", "30,60")
    async with serve_sandbox(make_config(**overrides)) as url:  # noqa: SIM117 (the client needs the URL)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            push = Push(http, scopes, username)
            await push.renew()
            yield push


# --- the contract's procedures ----------------------------------------------------------------


def verify_ebay_signature(header: str, body: bytes, public_key: Json) -> bool:
    """Fact sheet §4, written from the contract: decode the header, load the one-line PEM,
    verify ECDSA with the key's digest over the compact re-serialised body."""
    signature = json.loads(base64.b64decode(header))
    assert signature["alg"] == "ecdsa"
    pem = public_key["key"]
    pem = pem.replace("-----BEGIN PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\n")
    pem = pem.replace("-----END PUBLIC KEY-----", "\n-----END PUBLIC KEY-----")
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    digest = {"SHA1": hashes.SHA1(), "SHA256": hashes.SHA256()}[public_key["digest"]]
    compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    try:
        key.verify(base64.b64decode(signature["signature"]), compact, ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


async def push_public_key(push: Push, header: str) -> Json:
    kid = json.loads(base64.b64decode(header))["kid"]
    resp = await push.http.get(f"{NOTIFY}/public_key/{kid}", headers=push.app)
    assert resp.status_code == 200, resp.text
    key: Json = resp.json()
    return key
