"""The Commerce Notification API's management calls (contracts notifications §3): config,
destinations and subscriptions, with an application token or a seller's user token as each
call requires. Failures map onto the EbayError tree (:mod:`common.ebay.rest`); eBay's errorIds
stay readable through :func:`error_ids`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from common.ebay.errors import EbayError, EbayPayloadError, EbayRequestError, EbayTransientError
from common.ebay.oauth_requests import token_url
from common.ebay.rest import raise_for_status

PREFIX = "/commerce/notification/v1"
APPLICATION_SCOPE = "https://api.ebay.com/oauth/api_scope"
# errorIds the maintenance acts on (OpenAPI contract).
CONFIG_NOT_FOUND = 195026
SUBSCRIPTION_NOT_FOUND = 195013
SUBSCRIPTION_EXISTS = 195012
DESTINATION_NOT_FOUND = 195022
DESTINATION_EXISTS = 195021
NOT_AUTHORIZED_FOR_TOPIC = 195011
UNKNOWN_TOPIC = 195027


def error_ids(exc: EbayError) -> set[int]:
    """The errorIds of a refused call (none for a transient or auth failure)."""
    if not isinstance(exc, EbayRequestError):
        return set()
    return {e["errorId"] for e in exc.entries if isinstance(e, dict) and "errorId" in e}


async def application_token(
    http: httpx.AsyncClient, api_base_url: str, client_id: str, client_secret: SecretStr
) -> SecretStr:
    """An application access token (client-credentials grant, ``api_scope``)."""
    try:
        response = await http.post(
            token_url(api_base_url),
            data={"grant_type": "client_credentials", "scope": APPLICATION_SCOPE},
            auth=(client_id, client_secret.get_secret_value()),
        )
    except httpx.TransportError as exc:
        raise EbayTransientError(f"{type(exc).__name__} getting an application token") from exc
    raise_for_status(response)
    try:
        return SecretStr(str(orjson.loads(response.content)["access_token"]))
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise EbayPayloadError("the token endpoint answered without an access token") from exc


class NotificationClient:
    def __init__(self, http: httpx.AsyncClient, api_base_url: str) -> None:
        self._http = http
        self._base = f"{api_base_url}{PREFIX}"

    async def _send(
        self,
        method: str,
        path: str,
        token: SecretStr,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token.get_secret_value()}",
            "Accept": "application/json",
        }
        try:
            response = await self._http.request(
                method,
                f"{self._base}{path}",
                headers=headers,
                json=dict(body) if body is not None else None,
                params=params,
            )
        except httpx.TransportError as exc:
            raise EbayTransientError(f"{type(exc).__name__} calling {method} {path}") from exc
        raise_for_status(response)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise EbayPayloadError(f"malformed JSON from {response.request.url.path}") from exc
        if not isinstance(body, dict):
            raise EbayPayloadError(f"expected a JSON object from {response.request.url.path}")
        return body

    @staticmethod
    def _created_id(response: httpx.Response) -> str:
        # 201 names the new resource in Location only (…/destination/{id}).
        location = response.headers.get("Location", "").rstrip("/")
        if "/" not in location:
            raise EbayPayloadError(f"{response.request.url.path} answered 201 without Location")
        return str(location.rsplit("/", 1)[-1])

    async def alert_email(self, app_token: SecretStr) -> str | None:
        """getConfig's alert e-mail; None while the application has no config."""
        try:
            body = self._json(await self._send("GET", "/config", app_token))
        except EbayRequestError as exc:
            if CONFIG_NOT_FOUND in error_ids(exc):
                return None
            raise
        email = body.get("alertEmail")
        return email if isinstance(email, str) else None

    async def update_config(self, app_token: SecretStr, alert_email: str) -> None:
        await self._send("PUT", "/config", app_token, {"alertEmail": alert_email})

    async def destinations(self, app_token: SecretStr) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, str] | None = {"limit": "100"}
        response = await self._send("GET", "/destination", app_token, params=params)
        while True:
            body = self._json(response)
            found += [d for d in body.get("destinations") or [] if isinstance(d, dict)]
            following = body.get("next")
            if not isinstance(following, str) or not following:
                return found
            response = await self._follow(following, app_token)

    async def _follow(self, url: str, token: SecretStr) -> httpx.Response:
        try:
            response = await self._http.get(
                url, headers={"Authorization": f"Bearer {token.get_secret_value()}"}
            )
        except httpx.TransportError as exc:
            raise EbayTransientError(f"{type(exc).__name__} following {url}") from exc
        raise_for_status(response)
        return response

    async def destination(self, app_token: SecretStr, destination_id: str) -> dict[str, Any] | None:
        try:
            return self._json(await self._send("GET", f"/destination/{destination_id}", app_token))
        except EbayRequestError as exc:
            if DESTINATION_NOT_FOUND in error_ids(exc):
                return None
            raise

    @staticmethod
    def _destination_body(
        name: str, endpoint: str, verification_token: SecretStr
    ) -> dict[str, Any]:
        return {
            "name": name,
            "status": "ENABLED",
            "deliveryConfig": {
                "endpoint": endpoint,
                "verificationToken": verification_token.get_secret_value(),
            },
        }

    async def create_destination(
        self, app_token: SecretStr, name: str, endpoint: str, verification_token: SecretStr
    ) -> str:
        """createDestination (eBay runs the endpoint's challenge first); the new id."""
        body = self._destination_body(name, endpoint, verification_token)
        return self._created_id(await self._send("POST", "/destination", app_token, body))

    async def update_destination(
        self,
        app_token: SecretStr,
        destination_id: str,
        name: str,
        endpoint: str,
        verification_token: SecretStr,
    ) -> None:
        """updateDestination as ENABLED: revives a disabled or marked-down destination."""
        body = self._destination_body(name, endpoint, verification_token)
        await self._send("PUT", f"/destination/{destination_id}", app_token, body)

    async def create_subscription(
        self, token: SecretStr, topic: str, destination_id: str, schema_version: str
    ) -> str:
        body = {
            "topicId": topic,
            "status": "ENABLED",
            "destinationId": destination_id,
            "payload": {
                "format": "JSON",
                "schemaVersion": schema_version,
                "deliveryProtocol": "HTTPS",
            },
        }
        return self._created_id(await self._send("POST", "/subscription", token, body))

    async def subscription(self, token: SecretStr, subscription_id: str) -> dict[str, Any] | None:
        """getSubscription; None when eBay no longer has it."""
        try:
            return self._json(await self._send("GET", f"/subscription/{subscription_id}", token))
        except EbayRequestError as exc:
            if SUBSCRIPTION_NOT_FOUND in error_ids(exc):
                return None
            raise

    async def subscriptions(self, token: SecretStr) -> list[dict[str, Any]]:
        """getSubscriptions (a user token lists that seller's own)."""
        found: list[dict[str, Any]] = []
        response = await self._send("GET", "/subscription", token, params={"limit": "100"})
        while True:
            body = self._json(response)
            found += [s for s in body.get("subscriptions") or [] if isinstance(s, dict)]
            following = body.get("next")
            if not isinstance(following, str) or not following:
                return found
            response = await self._follow(following, token)

    async def enable_subscription(self, token: SecretStr, subscription_id: str) -> None:
        await self._send("POST", f"/subscription/{subscription_id}/enable", token)

    async def delete_subscription(self, token: SecretStr, subscription_id: str) -> None:
        """deleteSubscription; one eBay no longer has counts as deleted."""
        try:
            await self._send("DELETE", f"/subscription/{subscription_id}", token)
        except EbayRequestError as exc:
            if SUBSCRIPTION_NOT_FOUND not in error_ids(exc):
                raise
