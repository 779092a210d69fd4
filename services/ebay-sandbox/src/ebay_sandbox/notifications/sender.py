"""The sender: turns world changes into notifications and POSTs them in the background.

A scan (every ``notify_scan_seconds`` of real time, or at once when kicked) asks each watched
seller's :class:`SellerWatch` what changed since the last scan and routes every notification to
the subscription (REST) or preferences (Trading) in force. Workers deliver from a queue, so
nothing blocks the API call that caused a change. An attempt that is not acknowledged is resent
after ``notify_retry_seconds`` of *sandbox* time (same notificationId, ``publishAttemptCount``
+1, re-signed); a REST destination unacknowledged for ``notify_markdown_hours`` is marked down.
Faults (drop, delay, duplicate, reorder) apply to each notification once, before its first
attempt, and everything is counted per topic for tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import uuid
from typing import TYPE_CHECKING

import httpx
import orjson

from ebay_sandbox.clock import iso_ms
from ebay_sandbox.notifications.changes import Change, SellerWatch
from ebay_sandbox.notifications.payloads import (
    RestNotification,
    rest_envelope,
    rest_notifications,
)
from ebay_sandbox.notifications.store import Subscription
from ebay_sandbox.notifications.trading_payloads import soap_envelope, trading_notifications

if TYPE_CHECKING:
    from ebay_sandbox.state import Sandbox

from ebay_sandbox.notifications.deliveries import (
    LISTING_EVENTS,
    REST_ACKS,
    TRADING_ACKS,
    Delivery,
    PushFaults,
    PushStats,
)


class PushSender:
    """Scans, routes, applies faults, delivers, retries; started by the app's lifespan."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        config = sandbox.config
        self.faults = PushFaults(
            config.notify_drop,
            config.notify_delay,
            config.notify_delay_seconds,
            config.notify_duplicate,
            config.notify_reorder,
        )
        self.stats = PushStats()
        self._random = random.Random(f"{config.seed}/push-faults")
        self._watches: dict[int, SellerWatch] = {}
        self._extra: list[Change] = []
        self._kick = asyncio.Event()
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._retries: list[tuple[int, int, Delivery]] = []
        self._seq = itertools.count()
        self._held: Delivery | None = None
        self._delayed: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight = 0
        self._http: httpx.AsyncClient | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the scanner and the delivery workers."""
        self._http = httpx.AsyncClient(timeout=self.sandbox.config.notify_timeout_seconds)
        self._tasks = [asyncio.create_task(self._scanner(), name="push-scanner")]
        for n in range(self.sandbox.config.notify_workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"push-worker-{n}"))

    async def stop(self) -> None:
        """Stop every task and close the HTTP client (undelivered notifications are lost)."""
        tasks = [*self._tasks, *self._delayed]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks, self._delayed = [], set()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def kick(self) -> None:
        """Scan now rather than at the next interval. Sellers who just became watched are
        watched from this instant on (so a change right after a subscription is not missed)."""
        self._watch(self.sandbox.clock.now_ms())
        self._kick.set()

    def _watch(self, now_ms: int) -> None:
        watched = self.sandbox.notifications.watched_users()
        for seller in self.sandbox.sellers:
            if seller.username not in watched:
                self._watches.pop(seller.index, None)  # re-subscribing starts afresh
            elif seller.index not in self._watches:
                self._watches[seller.index] = SellerWatch(self.sandbox.world(seller), now_ms)

    def emit(self, change: Change) -> None:
        """A change that is not a passing instant of the world (deletion, revocation)."""
        self._extra.append(change)
        self.kick()

    @property
    def pending(self) -> int:
        """Notifications queued, held back, delayed or being attempted (not: waiting for a
        retry, which needs the sandbox clock to move)."""
        held = 1 if self._held is not None else 0
        return self._queue.qsize() + held + len(self._delayed) + self._in_flight

    @property
    def scheduled_retries(self) -> int:
        """Resends waiting for their sandbox instant."""
        return len(self._retries)

    # --- scanning and routing -----------------------------------------------------------------

    async def _scanner(self) -> None:
        interval = self.sandbox.config.notify_scan_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), timeout=interval)
            self._kick.clear()
            self.scan()

    def _wants_listings(self, username: str) -> bool:
        events = self.sandbox.notifications.trading.user_events.get(username, {})
        return any(events.get(e) == "Enable" for e in LISTING_EVENTS)

    def scan(self) -> int:
        """Route every change since the last scan and queue due retries; returns the number of
        notifications generated."""
        sandbox = self.sandbox
        now_ms = sandbox.clock.now_ms()
        self._watch(now_ms)
        changes: list[Change] = []
        for seller in sandbox.sellers:
            watch = self._watches.get(seller.index)
            if watch is not None:
                listings = self._wants_listings(seller.username)
                changes += watch.advance(now_ms, listings=listings)
        changes.sort(key=lambda c: c.at_ms)
        changes += self._extra
        self._extra = []
        generated = sum(self.route(change) for change in changes)
        while self._retries and self._retries[0][0] <= now_ms:
            self._queue.put_nowait(heapq.heappop(self._retries)[2])
        if self._held is not None:  # nothing came after it in this scan: let it go
            self._queue.put_nowait(self._held)
            self._held = None
        return generated

    def route(self, change: Change) -> int:
        """Queue the notifications ``change`` causes; returns how many."""
        store = self.sandbox.notifications
        count = 0
        for note in rest_notifications(change):
            sub = store.live_subscription(note.topic, note.username)
            if sub is None:
                continue
            self._submit(self._rest_delivery(sub, note))
            count += 1
        prefs = store.trading
        for trading in trading_notifications(change):
            if not prefs.enabled(trading.username, trading.event):
                continue
            for url in prefs.urls_for(trading.username):
                self._submit(
                    Delivery(
                        "trading",
                        trading.event,
                        trading.username,
                        url,
                        str(uuid.uuid4()),
                        trading=trading,
                    )
                )
                count += 1
        return count

    def send_test(self, sub: Subscription) -> None:
        """``testSubscription``: a mocked payload of the topic, at once."""
        seller = self.sandbox.seller(sub.username) if sub.username else None
        data: dict[str, object] = {"test": True}
        if seller is not None:
            data = {"userId": seller.user_id, "username": seller.username}
        note = RestNotification(sub.topic_id, sub.username, self.sandbox.clock.now_ms(), data)
        self.stats.count(sub.topic_id, "generated")
        self._queue.put_nowait(self._rest_delivery(sub, note, test=True))

    def _rest_delivery(
        self, sub: Subscription, note: RestNotification, *, test: bool = False
    ) -> Delivery:
        """``note`` to ``sub``'s destination, in the subscription's schema version."""
        destination = self.sandbox.notifications.destinations[sub.destination_id]
        return Delivery(
            "rest",
            note.topic,
            note.username,
            destination.endpoint,
            str(uuid.uuid4()),
            rest=note,
            schema_version=sub.schema_version,
            subscription_id=sub.subscription_id,
            test=test,
        )

    def _submit(self, delivery: Delivery) -> None:
        faults, draw, topic = self.faults, self._random.random, delivery.topic
        self.stats.count(topic, "generated")
        if draw() < faults.drop:
            self.stats.count(topic, "dropped")
            self._log(delivery, "dropped", None)
            return
        copies = 1
        if draw() < faults.duplicate:
            self.stats.count(topic, "duplicated")
            copies = 2
        for _ in range(copies):
            copy = Delivery(**{**delivery.__dict__})
            if draw() < faults.delay:
                self.stats.count(topic, "delayed")
                task = asyncio.get_running_loop().create_task(self._later(copy))
                self._delayed.add(task)
                task.add_done_callback(self._delayed.discard)
            elif self._held is None and draw() < faults.reorder:
                self.stats.count(topic, "reordered")
                self._held = copy  # goes out after the next one
            else:
                self._queue.put_nowait(copy)
                if self._held is not None:
                    self._queue.put_nowait(self._held)
                    self._held = None

    async def _later(self, delivery: Delivery) -> None:
        await asyncio.sleep(self.faults.delay_seconds)
        self._queue.put_nowait(delivery)

    # --- delivery -----------------------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            delivery = await self._queue.get()
            self._in_flight += 1
            try:
                await self.attempt(delivery)
            finally:
                self._in_flight -= 1

    def _still_wanted(self, delivery: Delivery) -> bool:
        store = self.sandbox.notifications
        if delivery.test:
            return True
        if delivery.channel == "rest":
            sub = store.live_subscription(delivery.topic, delivery.username)
            return sub is not None and sub.subscription_id == delivery.subscription_id
        assert delivery.username is not None
        prefs = store.trading
        return prefs.enabled(delivery.username, delivery.topic) and delivery.url in prefs.urls_for(
            delivery.username
        )

    def _request(self, delivery: Delivery, now_ms: int) -> tuple[bytes, dict[str, str]]:
        config = self.sandbox.config
        if delivery.rest is not None:
            document = rest_envelope(
                delivery.rest,
                delivery.schema_version,
                delivery.notification_id,
                now_ms,
                delivery.attempt,
            )
            body = orjson.dumps(document)
            return body, {
                "Content-Type": "application/json",
                "X-EBAY-SIGNATURE": self.sandbox.push_keys.signature_header(body),
            }
        assert delivery.trading is not None
        keyset = (config.dev_id, config.client_id, config.client_secret.get_secret_value())
        body = soap_envelope(delivery.trading, now_ms, keyset)
        return body, {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"https://developer.ebay.com/notification/{delivery.topic}"',
        }

    async def attempt(self, delivery: Delivery) -> bool:
        """POST once; schedule a retry (sandbox clock) when not acknowledged."""
        topic = delivery.topic
        if not self._still_wanted(delivery):
            self.stats.count(topic, "cancelled")
            self._log(delivery, "cancelled", None)
            return False
        now_ms = self.sandbox.clock.now_ms()
        body, headers = self._request(delivery, now_ms)
        self.stats.count(topic, "attempts")
        status: int | None = None
        assert self._http is not None
        try:
            response = await self._http.post(delivery.url, content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError:
            status = None
        acks = REST_ACKS if delivery.channel == "rest" else TRADING_ACKS
        ok = status in acks
        self._log(delivery, "delivered" if ok else "failed", status)
        self._destination_health(delivery, ok, now_ms)
        if ok:
            self.stats.count(topic, "delivered")
            return True
        delays = self.sandbox.config.retry_delays_ms
        if delivery.attempt <= len(delays) and not delivery.test:
            self.stats.count(topic, "retried")
            retry = Delivery(**{**delivery.__dict__, "attempt": delivery.attempt + 1})
            due = now_ms + delays[delivery.attempt - 1]
            heapq.heappush(self._retries, (due, next(self._seq), retry))
            if delays[delivery.attempt - 1] == 0:
                self.kick()
        else:
            self.stats.count(topic, "failed")
        return False

    def _destination_health(self, delivery: Delivery, ok: bool, now_ms: int) -> None:
        if delivery.channel != "rest" or delivery.subscription_id is None:
            return
        store = self.sandbox.notifications
        sub = store.subscriptions.get(delivery.subscription_id)
        destination = store.destinations.get(sub.destination_id) if sub else None
        if destination is None:
            return
        if ok:
            destination.failing_since_ms = None
            return
        if destination.failing_since_ms is None:
            destination.failing_since_ms = now_ms
        limit_ms = int(self.sandbox.config.notify_markdown_hours * 3_600_000)
        if now_ms - destination.failing_since_ms >= limit_ms:
            destination.status = "MARKED_DOWN"

    def _log(self, delivery: Delivery, outcome: str, status: int | None) -> None:
        self.stats.log.append(
            {
                "notificationId": delivery.notification_id,
                "channel": delivery.channel,
                "topic": delivery.topic,
                "username": delivery.username,
                "url": delivery.url,
                "attempt": delivery.attempt,
                "outcome": outcome,
                "status": status,
                "at": iso_ms(self.sandbox.clock.now_ms()),
            }
        )
