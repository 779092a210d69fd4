"""The application's notification destination (contracts notifications §3): eBay's config
(alert e-mail), then one destination for the ingress's REST endpoint, created with the
verification token (eBay's GET challenge is answered by routes.push) or repaired when eBay
reports it disabled, marked down or pointing elsewhere."""

from __future__ import annotations

from pydantic import SecretStr

from admin_api.push_plan import ENABLED
from admin_api.routes.push import rest_endpoint
from admin_api.settings import PushSettings
from common.ebay.errors import EbayError
from common.ebay.notification import DESTINATION_EXISTS, NotificationClient, error_ids

DESTINATION_NAME = "ebaysync"


class Refused(Exception):
    """A step eBay's answers do not let us take (the reason is for the operator)."""


def endpoint_of(destination: dict[str, object]) -> str | None:
    config = destination.get("deliveryConfig")
    return str(config.get("endpoint")) if isinstance(config, dict) else None


async def ensure_destination(
    client: NotificationClient, app_token: SecretStr, push: PushSettings, known: str | None
) -> tuple[str, bool]:
    """The enabled destination's id (``known``: the one stored) and whether it needed a
    repair; raises EbayError or Refused."""
    endpoint = rest_endpoint(push)
    if await client.alert_email(app_token) is None:
        if not push.alert_email:
            raise Refused("eBay needs an alert e-mail first: set ADMIN_API_PUSH__ALERT_EMAIL")
        await client.update_config(app_token, push.alert_email)
    remote = await client.destination(app_token, known) if known else None
    if known is None or remote is None:
        return await _create(client, app_token, push, endpoint), known is not None
    if remote.get("status") != ENABLED or endpoint_of(remote) != endpoint:
        token = push.verification_token
        await client.update_destination(app_token, known, DESTINATION_NAME, endpoint, token)
        return known, True
    return known, False


async def _create(
    client: NotificationClient, app_token: SecretStr, push: PushSettings, endpoint: str
) -> str:
    token = push.verification_token
    try:
        return await client.create_destination(app_token, DESTINATION_NAME, endpoint, token)
    except EbayError as exc:
        if DESTINATION_EXISTS not in error_ids(exc):
            raise
    # Ours from an earlier life of the database: adopt it, enabled.
    for remote in await client.destinations(app_token):
        if endpoint_of(remote) == endpoint:
            found = str(remote["destinationId"])
            await client.update_destination(app_token, found, DESTINATION_NAME, endpoint, token)
            return found
    raise Refused(f"eBay says a destination exists for {endpoint} but lists none")
