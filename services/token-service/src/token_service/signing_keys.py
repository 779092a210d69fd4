"""The application's signing key pair for eBay digital signatures (fact sheet §5).

Creating one takes the application's credentials (an application token from the
client-credentials grant, then Key Management ``createSigningKey``), which only the token
service holds. It creates the pair once per eBay environment, keeps the private key encrypted
with its key ring, and hands the pair to fetchers on request (``GetSigningKey``). A new pair is
created only when the stored one nears its expiry (Key Management keys live three years).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db.signing_keys import EbaySigningKey, NewSigningKey, SigningKeyRepository
from common.ebay.errors import EbayError
from common.ebay.signing import ED25519, KeyManagementClient
from common.messages import GetSigningKey, SigningKeyReply
from common.settings import EbayApiSettings
from token_service.crypto import KeyRing, TokenDecryptionError
from token_service.oauth import TOKEN_PATH, OAuthError

log = logging.getLogger(__name__)

# Key Management takes an application token with the base scope (fact sheet §4).
APPLICATION_SCOPE = "https://api.ebay.com/oauth/api_scope"
# The key ring binds every ciphertext to an account; a signing key belongs to none.
NO_ACCOUNT = 0


def private_key_purpose(signing_key_id: str) -> str:
    return f"signing_key:{signing_key_id}"


class SigningKeyService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keyring: KeyRing,
        http: httpx.AsyncClient,
        ebay: EbayApiSettings,
        *,
        clock: Callable[[], datetime],
        cipher: str = ED25519,
        # A pair this close to its expiry is replaced, so no fetcher signs with a dying key.
        renew_before: timedelta = timedelta(days=30),
        # The keyset of an environment a fetcher names (common.environments); else ``ebay``.
        keysets: Callable[[str | None], EbayApiSettings] | None = None,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._http = http
        self._keysets = keysets or (lambda _environment: ebay)
        self._clock = clock
        self._cipher = cipher
        self._renew_before = renew_before
        self._lock = asyncio.Lock()

    async def get_signing_key(self, request: GetSigningKey) -> SigningKeyReply:
        now = self._clock()
        valid_until = now + self._renew_before
        # Key pairs belong to an environment's application: they are kept by its apiz host.
        ebay = self._keysets(request.environment)
        apiz = ebay.apiz_base_url
        async with self._lock, self._sessions.begin() as session:
            keys = SigningKeyRepository(session)
            stored = await keys.usable(apiz, valid_until)
            if stored is None:
                # Other replicas wait here, then find the pair this one created.
                await keys.lock_creation()
                stored = await keys.usable(apiz, valid_until)
            if stored is None:
                try:
                    stored = await self._create(keys, now, ebay)
                except (OAuthError, EbayError) as exc:
                    log.warning("creating a signing key failed: %s", exc)
                    return SigningKeyReply(error_detail=f"creating a signing key failed: {exc}")
            try:
                private_key = self._keyring.decrypt(
                    stored.private_key_ciphertext,
                    key_id=stored.key_id,
                    account_id=NO_ACCOUNT,
                    purpose=private_key_purpose(stored.signing_key_id),
                )
            except TokenDecryptionError:
                log.error("signing key %s does not decrypt: check the key ring", stored.key_id)
                return SigningKeyReply(error_detail="the stored signing key does not decrypt")
        return SigningKeyReply(
            signing_key_id=stored.signing_key_id,
            cipher=stored.cipher,
            jwe=stored.jwe,
            private_key=private_key,
            expires_at=stored.expires_at,
        )

    async def _create(
        self, keys: SigningKeyRepository, now: datetime, ebay: EbayApiSettings
    ) -> EbaySigningKey:
        created = await KeyManagementClient(self._http, ebay.apiz_base_url).create_signing_key(
            await self._application_token(ebay), self._cipher
        )
        stored = await keys.add(
            NewSigningKey(
                signing_key_id=created.signing_key_id,
                apiz_base_url=ebay.apiz_base_url,
                cipher=created.cipher,
                jwe=created.jwe,
                key_id=self._keyring.active_key_id,
                private_key_ciphertext=self._keyring.encrypt(
                    created.private_key.get_secret_value(),
                    account_id=NO_ACCOUNT,
                    purpose=private_key_purpose(created.signing_key_id),
                ),
                created_at=now,
                expires_at=created.expires_at,
            )
        )
        log.info("created signing key %s (%s)", created.signing_key_id, created.cipher)
        return stored

    async def _application_token(self, settings: EbayApiSettings) -> SecretStr:
        """An application access token (client-credentials grant)."""
        try:
            response = await self._http.post(
                f"{settings.api_base_url}{TOKEN_PATH}",
                data={"grant_type": "client_credentials", "scope": APPLICATION_SCOPE},
                auth=(settings.client_id, settings.client_secret.get_secret_value()),
            )
        except httpx.TransportError as exc:
            raise OAuthError("unreachable", type(exc).__name__, 0) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            raise OAuthError(
                str(body.get("error", "http_error")),
                str(body.get("error_description", response.reason_phrase)),
                response.status_code,
            )
        return SecretStr(str(body["access_token"]))
