"""The circuit breaker per worker (account, family): how long failures in a row pause it.

Pure decisions only. The writer records failures (failed fetch attempts, dead-lettered runs) in
``sync_state.consecutive_failures`` and sets ``paused_until`` from :func:`pause_for`; the
scheduler skips a pair while ``paused_until`` lies ahead; a completed run closes the breaker.
After a pause the scheduler sends one window again (half-open): one more failure pauses the
pair for twice as long, up to the cap.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# 2**40 base periods exceed any sensible cap; the exponent stops there.
_MAX_DOUBLINGS = 40


class BreakerSettings(BaseSettings):
    """When the breaker opens and how long it holds (``WRITER_BREAKER__*``, nested)."""

    model_config = SettingsConfigDict(env_prefix="BREAKER_", extra="ignore")

    # Failures in a row before the first pause: a lone blip of eBay's does not pause anybody.
    threshold: int = Field(default=3, ge=1)
    # The first pause; each further failure doubles it.
    base_seconds: float = Field(default=60.0, gt=0)
    cap_seconds: float = Field(default=6 * 3600.0, gt=0)

    @property
    def base(self) -> timedelta:
        return timedelta(seconds=self.base_seconds)

    @property
    def cap(self) -> timedelta:
        return timedelta(seconds=self.cap_seconds)


def breaker_settings() -> BreakerSettings:
    return BreakerSettings()


BreakerField = Field(default_factory=breaker_settings)


def pause_for(consecutive_failures: int, settings: BreakerSettings) -> timedelta | None:
    """How long to pause a worker after this many failures in a row; None: keep it running."""
    if consecutive_failures < settings.threshold:
        return None
    doublings = min(consecutive_failures - settings.threshold, _MAX_DOUBLINGS)
    # In float seconds: a timedelta would overflow before the cap applies.
    return timedelta(seconds=min(settings.cap_seconds, settings.base_seconds * 2.0**doublings))
