"""Refused notifications on a running system: forged, replayed, oversized and unknown-key ones
get a clear status and have no effect.

Every service runs as its own process (``ebaysync.runtime``); nothing is subscribed, so only
this test posts to the admin API's ingress, over HTTP as eBay would. Trading notifications are
signed as the sandbox's keyset signs them (contracts notifications §7.4: MD5 of Timestamp +
DevID + AppID + CertID), in the sandbox's time; the REST one is signed by a key eBay (the
sandbox) does not know. "No effect" is read where an effect would show: the NOTIFICATIONS
stream holds only the one accepted notification, and the scheduler recorded only it.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from nats.js import JetStreamContext
from sqlalchemy import select

from admin_api.routes.push import DUPLICATE_HEADER, REST_PATH, TRADING_PATH
from admin_api.settings import AdminApiSettings
from common.db.push import ReceivedNotification
from common.push import trading_signature
from common.streams import NOTIFICATIONS_STREAM
from ebaysync.runtime_local import SANDBOX_CLIENT_ID
from testkit.progress import sandbox_now
from testkit.push import SANDBOX_DEV_ID
from testkit.push_system import PushSystem, push_system
from testkit.servers import DatabaseServer
from testkit.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.nats, pytest.mark.postgres]

# ADMIN_API_WEBHOOK_MAX_BODY_BYTES, left at its default by the runtime.
MAX_BODY: int = AdminApiSettings.model_fields["webhook_max_body_bytes"].default


@pytest.fixture
async def system(
    nats_url: str, database_server: DatabaseServer, tmp_path: Path, topology: JetStreamContext
) -> AsyncIterator[PushSystem]:
    async with push_system(
        nats_url,
        database_server,
        tmp_path,
        "refusals",
        cadence=timedelta(days=1),
        settle_lag=timedelta(minutes=2),
        backfill_days=0.1,
        sandbox_env={"SANDBOX_ORDERS_PER_DAY": "20", "SANDBOX_HISTORY_DAYS": "1"},
    ) as running:
        yield running


def trading(system: PushSystem, at: datetime, *, signature: str | None = None) -> bytes:
    """An ItemListed for the seller, stamped ``at`` and signed with the sandbox's keyset."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    keyset = (SANDBOX_DEV_ID, SANDBOX_CLIENT_ID, system.client_secret)
    signature = signature or trading_signature(stamp, *keyset)
    ns = "urn:ebay:apis:eBLBaseComponents"
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>'
        f'<ebl:RequesterCredentials soapenv:mustUnderstand="0" xmlns:ebl="{ns}">'
        f'<ebl:NotificationSignature xmlns:ebl="{ns}">{signature}</ebl:NotificationSignature>'
        "</ebl:RequesterCredentials></soapenv:Header><soapenv:Body>"
        f'<GetItemResponse xmlns="{ns}"><Timestamp>{stamp}</Timestamp><Ack>Success</Ack>'
        f"<CorrelationID>{uuid.uuid4().hex}</CorrelationID>"
        "<NotificationEventName>ItemListed</NotificationEventName>"
        f"<RecipientUserID>{system.username}</RecipientUserID>"
        "<Item><ItemID>110000000001</ItemID></Item></GetItemResponse>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def rest_signed_by_a_stranger(username: str) -> tuple[bytes, dict[str, str]]:
    """An ORDER_CONFIRMATION signed by a key no eBay ever issued (a kid it does not know)."""
    body = json.dumps(
        {
            "metadata": {"topic": "ORDER_CONFIRMATION", "schemaVersion": "1.0"},
            "notification": {
                "notificationId": str(uuid.uuid4()),
                "data": {"user": {"username": username}, "order": {"orderId": "01-00000-00001"}},
            },
        },
        separators=(",", ":"),
    ).encode()
    key = ec.generate_private_key(ec.SECP256R1())
    header = {
        "alg": "ecdsa",
        "kid": str(uuid.uuid4()),
        "signature": base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA1()))).decode(),
        "digest": "SHA1",
    }
    signature = base64.b64encode(json.dumps(header).encode()).decode()
    return body, {"X-EBAY-SIGNATURE": signature, "Content-Type": "application/json"}


async def test_forged_replayed_oversized_and_unknown_key_notifications_are_refused_without_effect(
    system: PushSystem, topology: JetStreamContext
) -> None:
    soap = {"Content-Type": "text/xml; charset=utf-8"}
    now = await sandbox_now(system.sandbox)
    published_before = (await topology.stream_info(NOTIFICATIONS_STREAM)).state.last_seq
    async with httpx.AsyncClient(base_url=system.admin_url, timeout=30) as ingress:

        async def post(path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            return await ingress.post(path, content=body, headers=headers)

        forged = trading(system, now, signature="AAAAAAAAAAAAAAAAAAAAAA==")
        assert (await post(TRADING_PATH, forged, soap)).status_code == 412
        # A replay of an old one: rightly signed, stamped an hour before eBay's time.
        stale = trading(system, now - timedelta(hours=1))
        assert (await post(TRADING_PATH, stale, soap)).status_code == 412
        padded = trading(system, now).replace(b"</Item>", b" " * MAX_BODY + b"</Item>")
        assert (await post(TRADING_PATH, padded, soap)).status_code == 413
        body, headers = rest_signed_by_a_stranger(system.username)
        assert (await post(REST_PATH, body, headers)).status_code == 412
        big = body[:-1] + b',"padding":"' + b"x" * MAX_BODY + b'"}'
        assert (await post(REST_PATH, big, headers)).status_code == 413

        # One good notification, then its replay: acknowledged both times, queued once.
        good = trading(system, now)
        first = await post(TRADING_PATH, good, soap)
        assert first.status_code == 200 and DUPLICATE_HEADER not in first.headers
        again = await post(TRADING_PATH, good, soap)
        assert again.status_code == 200 and again.headers[DUPLICATE_HEADER] == "true"

    async def recorded() -> list[ReceivedNotification]:
        async with system.sessions() as session:
            return list(await session.scalars(select(ReceivedNotification)))

    async def the_good_one_recorded() -> bool:
        return bool(await recorded())

    await eventually(the_good_one_recorded, within=60, what="the accepted notification recorded")
    info = await topology.stream_info(NOTIFICATIONS_STREAM)
    assert info.state.last_seq - published_before == 1, "only the accepted one reached the bus"
    [row] = await recorded()
    assert (row.source, row.topic, row.account_id) == ("trading", "ItemListed", system.account_id)
    assert row.targets == ["110000000001"]
