"""Request counting: the sandbox reports its own request rate (``GET /sandbox/stats``)."""

import time
from collections import Counter, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_WINDOW_S = 10.0


class RequestStats:
    """Counts per endpoint and status; a sliding window gives the recent rate."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.total = 0
        self.endpoints: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self._recent: deque[float] = deque()

    def record(self, endpoint: str, status: int) -> None:
        """Count one finished request."""
        now = time.monotonic()
        self.total += 1
        self.endpoints[endpoint] += 1
        self.statuses[status] += 1
        self._recent.append(now)
        while self._recent and self._recent[0] < now - _WINDOW_S:
            self._recent.popleft()

    def snapshot(self) -> dict[str, object]:
        """Totals and rates."""
        now = time.monotonic()
        while self._recent and self._recent[0] < now - _WINDOW_S:
            self._recent.popleft()
        uptime = max(now - self.started, 1e-9)
        window = min(_WINDOW_S, uptime)
        return {
            "uptime_seconds": round(uptime, 3),
            "requests": self.total,
            "rate_per_second": round(self.total / uptime, 3),
            "recent_rate_per_second": round(len(self._recent) / window, 3),
            "recent_window_seconds": window,
            "endpoints": dict(self.endpoints.most_common()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


class StatsMiddleware:
    """Pure ASGI middleware (no buffering, so dropped connections stay dropped)."""

    def __init__(self, app: ASGIApp, stats: RequestStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def track(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, track)
        finally:
            self.stats.record(_label(scope), status)


def _label(scope: Scope) -> str:
    # Handlers name the eBay method (e.g. a Trading call); otherwise the route template.
    named = scope.get("state", {}).get("endpoint")
    if isinstance(named, str):
        return named
    route = scope.get("route")
    path = getattr(route, "path", None) or "unmatched"
    return f"{scope.get('method', '')} {path}"
