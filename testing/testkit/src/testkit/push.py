"""Push on a running system (``ebaysync.runtime``): the ingress's settings, the sandbox's
subscriptions for a seller, and where the push channel stands.

Subscribing goes through the sandbox's management calls as ebaysync's subscription job would
(contracts notifications §3, §7.1): ``updateConfig``, ``createDestination`` (the sandbox runs
the ingress's challenge), ``createSubscription`` per REST topic with the seller's user token,
and, for Trading events, ``SetNotificationPreferences``. Tests and benchmarks do it themselves
so that they choose the topics (docs/adr/0018-push-notifications.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from admin_api.routes.push import REST_PATH, TRADING_PATH
from common.push import PUSH_SCOPES
from ebay_sandbox.consent import approve_consent
from ebaysync.runtime_local import SANDBOX_CLIENT_ID, SANDBOX_RU_NAME

NOTIFY = "/commerce/notification/v1"
TOKEN = "/identity/v1/oauth2/token"
BASE_SCOPE = "https://api.ebay.com/oauth/api_scope"
VERIFICATION_TOKEN = "e2e_push_verification_token_0123456789abcdef"
# The sandbox's DevID (SANDBOX_DEV_ID's default): Trading's NotificationSignature covers it.
SANDBOX_DEV_ID = "ebaysync-sandbox-devid"
# What a targeted window can re-read today: orders, messages, returns (ADR 0018, "State").
TARGETED_TOPICS = (
    "ORDER_CONFIRMATION",
    "ITEM_MARKED_SHIPPED",
    "NEW_MESSAGE",
    "ORDER_RETURN_ACTIVITY",
)
# Trading's listing events (the sandbox sends these four for listings starting and ending).
LISTING_EVENTS = ("ItemListed", "ItemSold", "ItemUnsold", "ItemClosed")


def push_service_env(admin_port: int, host: str = "127.0.0.1") -> dict[str, str]:
    """The services' settings that turn the ingress on for this machine (the subscriptions
    job stays off: :func:`subscribe` chooses the topics)."""
    return {
        "ADMIN_API_PUSH__ENABLED": "true",
        "ADMIN_API_PUSH__PUBLIC_URL": f"http://{host}:{admin_port}",
        "ADMIN_API_PUSH__VERIFICATION_TOKEN": VERIFICATION_TOKEN,
        "ADMIN_API_PUSH__TRADING_DEV_ID": SANDBOX_DEV_ID,
        "ADMIN_API_PUSH__SUBSCRIPTIONS_SECONDS": "0",
    }


async def _token(sandbox: httpx.AsyncClient, auth: httpx.BasicAuth, form: dict[str, str]) -> str:
    response = await sandbox.post(TOKEN, data=form, auth=auth)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def subscribe(
    sandbox: httpx.AsyncClient,
    client_secret: str,
    username: str,
    admin_url: str,
    *,
    topics: Sequence[str] = TARGETED_TOPICS,
    trading_events: Sequence[str] = (),
) -> None:
    """Make the sandbox notify ``username``'s changes of ``topics`` (REST) and
    ``trading_events`` (Trading) to the ingress at ``admin_url``."""
    auth = httpx.BasicAuth(SANDBOX_CLIENT_ID, client_secret)
    app = await _token(sandbox, auth, {"grant_type": "client_credentials", "scope": BASE_SCOPE})
    code = await approve_consent(
        sandbox,
        username=username,
        client_id=SANDBOX_CLIENT_ID,
        ru_name=SANDBOX_RU_NAME,
        scopes=" ".join((BASE_SCOPE, *PUSH_SCOPES)),
    )
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": SANDBOX_RU_NAME}
    user = await _token(sandbox, auth, form)
    as_app = {"Authorization": f"Bearer {app}"}
    if topics:
        resp = await sandbox.put(
            f"{NOTIFY}/config", json={"alertEmail": "ops@example.com"}, headers=as_app
        )
        assert resp.status_code == 204, resp.text
        destination_id = await _destination(sandbox, as_app, admin_url.rstrip("/") + REST_PATH)
        for topic in topics:
            body: dict[str, Any] = {
                "topicId": topic,
                "status": "ENABLED",
                "destinationId": destination_id,
                "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"},
            }
            resp = await sandbox.post(
                f"{NOTIFY}/subscription", json=body, headers={"Authorization": f"Bearer {user}"}
            )
            assert resp.status_code == 201, resp.text
    if trading_events:
        await _enable_trading(sandbox, user, admin_url.rstrip("/") + TRADING_PATH, trading_events)


async def _destination(sandbox: httpx.AsyncClient, as_app: dict[str, str], endpoint: str) -> str:
    """The destination for ``endpoint``: created, or the one that exists (a second seller)."""
    body = {
        "name": "ebaysync",
        "status": "ENABLED",
        "deliveryConfig": {"endpoint": endpoint, "verificationToken": VERIFICATION_TOKEN},
    }
    resp = await sandbox.post(f"{NOTIFY}/destination", json=body, headers=as_app)
    if resp.status_code == 201:
        return str(resp.headers["location"].rsplit("/", 1)[-1])
    listed = await sandbox.get(f"{NOTIFY}/destination", headers=as_app)
    for destination in listed.json().get("destinations", []):
        if destination["deliveryConfig"]["endpoint"] == endpoint:
            return str(destination["destinationId"])
    raise AssertionError(f"no destination for {endpoint}: {resp.text}")


async def _enable_trading(
    sandbox: httpx.AsyncClient, user_token: str, url: str, events: Sequence[str]
) -> None:
    enable = "".join(
        f"<NotificationEnable><EventType>{e}</EventType><EventEnable>Enable</EventEnable>"
        "</NotificationEnable>"
        for e in events
    )
    body = (
        '<SetNotificationPreferencesRequest xmlns="urn:ebay:apis:eBLBaseComponents">'
        f"<ApplicationDeliveryPreferences><ApplicationURL>{url}</ApplicationURL>"
        "<ApplicationEnable>Enable</ApplicationEnable><DeviceType>Platform</DeviceType>"
        "</ApplicationDeliveryPreferences>"
        f"<UserDeliveryPreferenceArray>{enable}</UserDeliveryPreferenceArray>"
        "</SetNotificationPreferencesRequest>"
    )
    headers = {
        "X-EBAY-API-CALL-NAME": "SetNotificationPreferences",
        "X-EBAY-API-SITEID": "0",
        "X-EBAY-API-COMPATIBILITY-LEVEL": "1355",
        "X-EBAY-API-IAF-TOKEN": user_token,
        "Content-Type": "text/xml",
    }
    resp = await sandbox.post("/ws/api.dll", content=body, headers=headers)
    assert resp.status_code == 200 and "<Ack>Success</Ack>" in resp.text, resp.text


async def push_stats(sandbox: httpx.AsyncClient) -> dict[str, Any]:
    """The sandbox's push counters (``totals``, per topic) and what is still on its way."""
    response = await sandbox.get("/sandbox/notifications/stats")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


async def push_settled(sandbox: httpx.AsyncClient) -> bool:
    """Every notification generated so far was delivered or dropped (none queued, delayed,
    held back for reordering or being attempted); scans first so none waits for a scan."""
    scanned = await sandbox.post("/sandbox/notifications/scan")
    scanned.raise_for_status()
    return int(scanned.json()["pending"]) == 0 and int((await push_stats(sandbox))["pending"]) == 0
