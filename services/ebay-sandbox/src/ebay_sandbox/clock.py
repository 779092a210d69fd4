"""Simulated clock: real UTC time shifted by an offset that only moves forward."""

from datetime import UTC, datetime, timedelta

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _real_now() -> datetime:
    return datetime.now(UTC)


class SandboxClock:
    """Sandbox time = real UTC now + offset (or a fixed instant + offset when frozen)."""

    def __init__(
        self,
        *,
        offset_seconds: float = 0,
        start: datetime | None = None,
        frozen: bool = False,
    ) -> None:
        real = _real_now()
        start_at = start.astimezone(UTC) if start is not None else real
        # Frozen: time only moves through advance(). Running: start is folded into the offset.
        self._anchor: datetime | None = start_at if frozen else None
        drift = timedelta(0) if frozen else start_at - real
        self._offset = timedelta(seconds=offset_seconds) + drift

    def now(self) -> datetime:
        """Current sandbox time (timezone-aware UTC)."""
        base = self._anchor if self._anchor is not None else _real_now()
        return base + self._offset

    def now_ms(self) -> int:
        """Current sandbox time as integer milliseconds since the Unix epoch."""
        return to_ms(self.now())

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` (must be >= 0) and return the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += timedelta(seconds=seconds)
        return self.now()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, truncated."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def from_ms(ms: int) -> datetime:
    """Timezone-aware UTC datetime for epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=ms)


def iso_ms(ms: int) -> str:
    """eBay timestamp format: ``YYYY-MM-DDTHH:MM:SS.sssZ``."""
    return from_ms(ms).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
