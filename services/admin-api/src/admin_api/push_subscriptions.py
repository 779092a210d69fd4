"""The subscriptions job (``push_subscriptions``, common.jobs): keeps eBay's side of push.

Each run, per application (keyset): the alert config, the destination (createDestination with
the verification token; eBay's challenge is answered by the ingress, routes.push), the
application-scoped topics (application token); then per account with stored tokens: each USER
topic (createSubscription with the seller's user token, asked of the token service over
``token.get``: only it decrypts tokens) and the seller's Trading events
(SetNotificationPreferences, checked with GetNotificationPreferences). A subscription eBay
reports disabled is enabled again, one it no longer has is created again; those of a
deactivated account are deleted. A topic the consent lacks a scope for is not tried: its row
says "push unavailable for F: reconnect". What eBay answered is kept in ``push_subscriptions``
and ``push_destinations`` for the admin UI. Decisions: :mod:`admin_api.push_plan`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.commands import BusError, request_access_token
from admin_api.context import AdminContext
from admin_api.push_destination import Refused, ensure_destination
from admin_api.push_plan import (
    ENABLED,
    FAILED,
    REST,
    TRADING,
    UNAVAILABLE,
    Kept,
    Step,
    Wanted,
    account_topics,
    application_topics,
    next_step,
    seller_current,
)
from admin_api.push_trading import DELIVERY_URL_NAME, disable_events, enable_events
from admin_api.routes.push import rest_endpoint
from admin_api.settings import AdminApiSettings
from common.clock import utc_now
from common.db.accounts import EbayAccount
from common.db.push import PushSubscription
from common.db.push_state import PushStateRepository
from common.db.tokens import EbayToken
from common.ebay.errors import EbayError
from common.ebay.notification import (
    SUBSCRIPTION_EXISTS,
    NotificationClient,
    application_token,
    error_ids,
)
from common.ebay.trading import TradingClient
from common.messages import AccessTokenReply
from common.settings import EbayApiSettings

log = logging.getLogger(__name__)

TokenSource = Callable[[int], Awaitable[AccessTokenReply]]


@dataclass
class Report:
    created: int = 0
    repaired: int = 0
    removed: int = 0
    unavailable: int = 0
    failed: int = 0
    current: int = 0  # sellers left alone: confirmed within the recheck interval
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.created} subscriptions created, {self.repaired} repaired, "
            f"{self.removed} removed, {self.unavailable} unavailable, {self.failed} failed, "
            f"{self.current} sellers current"
        )
        return "; ".join([text, *self.notes])


@dataclass(frozen=True)
class Seller:
    account: EbayAccount
    granted: str | None  # None: no tokens stored (never connected, or revoked)


class SubscriptionManager:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: AdminApiSettings,
        tokens: TokenSource,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._settings = settings
        self._tokens = tokens
        self._clock = clock

    async def run(self) -> str:
        report = Report()
        sellers = await self._sellers()
        keysets: dict[str, tuple[EbayApiSettings, list[Seller]]] = {
            self._settings.ebay.client_id: (self._settings.ebay, [])
        }
        for seller in sellers:
            keyset = self._settings.environments.keyset(
                seller.account.environment, self._settings.ebay
            )
            keysets.setdefault(keyset.client_id, (keyset, []))[1].append(seller)
        for application, (keyset, group) in keysets.items():
            try:
                await self._application(application, keyset, group, report)
            except EbayError as exc:
                report.failed += 1
                report.notes.append(f"application {application[:8]}…: {exc}")
                log.warning("push subscriptions of application failed: %s", exc)
        return report.summary()

    async def _sellers(self) -> list[Seller]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(EbayAccount, EbayToken.granted_scopes, EbayToken.scopes)
                .outerjoin(EbayToken, EbayToken.account_id == EbayAccount.id)
                .order_by(EbayAccount.id)
            )
            found = [
                Seller(a, granted if granted is not None else scopes)
                for a, granted, scopes in rows.all()
            ]
        return found

    async def _application(
        self, application: str, keyset: EbayApiSettings, sellers: list[Seller], report: Report
    ) -> None:
        client = NotificationClient(self._http, keyset.api_base_url)
        app_token = await application_token(
            self._http, keyset.api_base_url, keyset.client_id, keyset.client_secret
        )
        async with self._sessions() as session:
            rows = list(await PushStateRepository(session).subscriptions(application))
        by_key = {(r.account_id, r.api, r.topic): r for r in rows}
        destination_id = await self._destination(client, app_token, application, report)
        for wanted in application_topics():
            row = by_key.get((None, wanted.api, wanted.topic))
            await self._rest(
                client,
                app_token,
                app_token,
                application,
                None,
                wanted,
                row,
                destination_id,
                True,
                report,
            )
        for seller in sellers:
            try:
                await self._seller(
                    client, app_token, application, keyset, seller, by_key, destination_id, report
                )
            except EbayError as exc:
                report.failed += 1
                log.warning("push subscriptions of account %s: %s", seller.account.id, exc)

    async def _destination(
        self, client: NotificationClient, app_token: SecretStr, application: str, report: Report
    ) -> str | None:
        """The enabled destination's id; None when eBay refused it (the subscriptions wait
        for the next run)."""
        push = self._settings.push
        async with self._sessions() as session:
            stored = await PushStateRepository(session).destination(application)
        destination_id = stored.destination_id if stored is not None else None
        status, detail = ENABLED, None
        try:
            destination_id, repaired = await ensure_destination(
                client, app_token, push, destination_id
            )
            report.repaired += repaired
        except (EbayError, Refused) as exc:
            status, detail = FAILED, str(exc)
            report.failed += 1
            report.notes.append(f"destination: {exc}")
        async with self._sessions.begin() as session:
            await PushStateRepository(session).save_destination(
                application, rest_endpoint(push), destination_id, status, detail, self._clock()
            )
        return destination_id if status == ENABLED else None

    async def _seller(
        self,
        client: NotificationClient,
        app_token: SecretStr,
        application: str,
        keyset: EbayApiSettings,
        seller: Seller,
        by_key: dict[tuple[int | None, str, str], PushSubscription],
        destination_id: str | None,
        report: Report,
    ) -> None:
        account = seller.account
        keep = account.active and seller.granted is not None
        mine = {k: r for k, r in by_key.items() if k[0] == account.id}
        if not keep and not mine:
            return
        wanted_topics = account_topics(seller.granted or "")
        kept = {
            (api, topic): Kept(r.status, r.destination_id, r.checked_at)
            for (_, api, topic), r in mine.items()
        }
        recheck = timedelta(seconds=self._settings.push.recheck_seconds)
        if keep and seller_current(wanted_topics, kept, destination_id, self._clock(), recheck):
            report.current += 1
            return
        user_token: SecretStr | None = None
        try:
            reply = await self._tokens(account.id)
            user_token = reply.access_token
        except BusError as exc:  # no token service now: removals go on, the rest waits
            log.warning("push subscriptions of account %s: %s", account.id, exc)
        if not keep:
            await self._remove(client, app_token, keyset, account, mine, user_token, report)
            return
        if user_token is None:
            report.failed += 1
            return
        for wanted in wanted_topics:
            row = mine.get((account.id, wanted.api, wanted.topic))
            if wanted.api == TRADING:
                await self._trading(keyset, account, wanted, row, user_token, application, report)
                continue
            await self._rest(
                client,
                app_token,
                user_token,
                application,
                account.id,
                wanted,
                row,
                destination_id,
                wanted.unavailable is None,
                report,
            )

    async def _rest(
        self,
        client: NotificationClient,
        app_token: SecretStr,
        token: SecretStr,
        application: str,
        account_id: int | None,
        wanted: Wanted,
        row: PushSubscription | None,
        destination_id: str | None,
        available: bool,
        report: Report,
    ) -> None:
        ebay_id = row.ebay_subscription_id if row is not None else None
        if available and destination_id is None:
            return  # no destination yet: nothing can be subscribed
        status, detail, step = ENABLED, None, Step.NOTHING
        try:
            remote = await client.subscription(token, ebay_id) if available and ebay_id else None
            step = next_step(available, ebay_id, remote.get("status") if remote else None)
            if step is Step.DELETE:
                assert ebay_id is not None
                # The application token: a consent that lost a scope may not delete.
                await client.delete_subscription(app_token, ebay_id)
                ebay_id = None
            if step in (Step.CREATE, Step.RECREATE):
                assert destination_id is not None
                ebay_id = await self._create(client, token, wanted, destination_id)
            elif step is Step.ENABLE:
                assert ebay_id is not None
                await client.enable_subscription(token, ebay_id)
        except (EbayError, Refused) as exc:
            status, detail = FAILED, str(exc)
            report.failed += 1
        if status != FAILED:
            if not available:
                status, detail = UNAVAILABLE, wanted.unavailable
                report.unavailable += 1
            report.created += step is Step.CREATE
            report.repaired += step in (Step.RECREATE, Step.ENABLE)
        async with self._sessions.begin() as session:
            await PushStateRepository(session).save(
                account_id=account_id,
                application=application,
                api=REST,
                topic=wanted.topic,
                ebay_subscription_id=ebay_id,
                destination_id=destination_id if ebay_id else None,
                status=status,
                detail=detail,
                at=self._clock(),
                repaired=status == ENABLED and step in (Step.RECREATE, Step.ENABLE),
            )

    async def _create(
        self, client: NotificationClient, token: SecretStr, wanted: Wanted, destination_id: str
    ) -> str:
        try:
            return await client.create_subscription(
                token, wanted.topic, destination_id, wanted.schema_version
            )
        except EbayError as exc:
            if SUBSCRIPTION_EXISTS not in error_ids(exc):
                raise
        # eBay has one already (created before this database knew it): adopt it.
        for remote in await client.subscriptions(token):
            if remote.get("topicId") == wanted.topic:
                found = str(remote["subscriptionId"])
                if remote.get("status") != ENABLED:
                    await client.enable_subscription(token, found)
                return found
        raise Refused(f"eBay says {wanted.topic} is subscribed but lists no such subscription")

    async def _trading(
        self,
        keyset: EbayApiSettings,
        account: EbayAccount,
        wanted: Wanted,
        row: PushSubscription | None,
        token: SecretStr,
        application: str,
        report: Report,
    ) -> None:
        trading = TradingClient(self._http, keyset.api_base_url)
        status, detail, repaired = ENABLED, None, False
        try:
            if await enable_events(trading, token, account.site_id, self._settings.push.public_url):
                # Enabled before, found off at eBay: a repair; else the first subscription.
                repaired = row is not None and row.status == ENABLED
                report.repaired += repaired
                report.created += not repaired
        except EbayError as exc:
            status, detail = FAILED, str(exc)
            report.failed += 1
        async with self._sessions.begin() as session:
            await PushStateRepository(session).save(
                account_id=account.id,
                application=application,
                api=TRADING,
                topic=wanted.topic,
                ebay_subscription_id=None,
                destination_id=DELIVERY_URL_NAME,
                status=status,
                detail=detail,
                at=self._clock(),
                repaired=repaired,
            )

    async def _remove(
        self,
        client: NotificationClient,
        app_token: SecretStr,
        keyset: EbayApiSettings,
        account: EbayAccount,
        rows: dict[tuple[int | None, str, str], PushSubscription],
        user_token: SecretStr | None,
        report: Report,
    ) -> None:
        """A deactivated or disconnected account: its subscriptions go, at eBay and here. REST
        ones are deleted with the application token (the seller's may be gone); Trading
        events need the seller's token, and without one eBay stops sending anyway."""
        for row in rows.values():
            if row.api == REST and row.ebay_subscription_id:
                await client.delete_subscription(app_token, row.ebay_subscription_id)
            elif row.api == TRADING and user_token is not None and row.status == ENABLED:
                trading = TradingClient(self._http, keyset.api_base_url)
                public_url = self._settings.push.public_url
                await disable_events(trading, user_token, account.site_id, public_url)
            async with self._sessions.begin() as session:
                await PushStateRepository(session).remove(row.id)
            report.removed += 1


def subscription_manager(context: AdminContext) -> SubscriptionManager:
    """The job's manager: user tokens from the token service over ``token.get``."""
    within = context.settings.token_request_timeout_seconds

    async def tokens(account_id: int) -> AccessTokenReply:
        return await request_access_token(context.broker, account_id, within)

    return SubscriptionManager(context.sessions, context.http, context.settings, tokens, utc_now)
