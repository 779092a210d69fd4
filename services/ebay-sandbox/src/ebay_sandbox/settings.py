"""Sandbox configuration, read from ``SANDBOX_*`` environment variables."""

from pydantic import AwareDatetime, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ebay_sandbox.profiles import Profile, parse_profiles, with_overrides
from ebay_sandbox.strictness import Strictness, parse_strictness


class SandboxConfig(BaseSettings):
    """Everything that shapes one sandbox instance; same config + seed gives the same data."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    seed: int = 1
    sellers: int = Field(default=3, ge=0, le=10_000)
    # Size profile per seller, assigned in turn: "small", or e.g. "huge,small,small".
    profile: str = "small"
    # Overrides of the profile's volumes, applied to every seller (None: the profile decides).
    orders_per_day: float | None = Field(default=None, ge=0)
    history_days: int | None = Field(default=None, ge=0, le=3650)
    listings: int | None = Field(default=None, ge=1, le=40_000)
    messages_per_day: float | None = Field(default=None, ge=0)
    purchases_per_day: float | None = Field(default=None, ge=0)
    client_id: str = "ebaysync-SBX-client"
    client_secret: SecretStr = SecretStr("sandbox-secret")
    ru_name: str = "ebaysync-RuName"
    accept_url: str = "http://127.0.0.1/oauth/callback"
    clock_offset_seconds: float = 0
    # Sandbox extensions for reproducible tests: pin the start instant and/or stop real time.
    clock_start: AwareDatetime | None = None
    clock_frozen: bool = False
    # The instant the generated history is anchored at (default: sandbox time at start-up).
    # Pinning it lets a restarted sandbox serve the same orders while its clock runs on.
    origin: AwareDatetime | None = None
    # EU/UK sellers' Finances calls need HTTP message signatures (fact sheet section 5).
    require_signatures: bool = True
    # Memory bounds: generated entities kept per seller and family, rendered pages kept.
    entity_cache: int = Field(default=40_000, ge=100)
    page_cache: int = Field(default=2_000, ge=0)
    # eBay behaviour the contracts leave open, played the other way (ebay_sandbox.strictness):
    # "" is the lenient default, e.g. "offers-no-offer-400,postorder-max-limit-50".
    strictness: str = ""
    # Push notifications (ebay_sandbox.notifications). Trading's NotificationSignature is
    # MD5(Timestamp + DevID + AppID + CertID): AppID is client_id, CertID client_secret.
    dev_id: str = "ebaysync-sandbox-devid"
    # createDestination/updateDestination GET the endpoint's challenge first, as eBay does.
    notify_verify_endpoint: bool = True
    # Real seconds between scans of the simulated world for changes to notify.
    notify_scan_seconds: float = Field(default=0.2, gt=0, le=60)
    # Per delivery attempt (eBay's Trading budget is 3 s; REST undocumented).
    notify_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    # Sandbox seconds before each resend of an unacknowledged notification; attempts = 1 + len.
    notify_retry_seconds: str = "60,600"
    # An endpoint unacknowledged this long (sandbox hours) is marked down (MARKED_DOWN).
    notify_markdown_hours: float = Field(default=24, gt=0)
    notify_workers: int = Field(default=4, ge=1, le=64)
    # Fault shares (0..1) of notifications dropped, delayed, duplicated or reordered.
    notify_drop: float = Field(default=0, ge=0, le=1)
    notify_delay: float = Field(default=0, ge=0, le=1)
    notify_delay_seconds: float = Field(default=2.0, ge=0, le=3600)
    notify_duplicate: float = Field(default=0, ge=0, le=1)
    notify_reorder: float = Field(default=0, ge=0, le=1)
    # The hash getPublicKey names and X-EBAY-SIGNATURE uses (eBay's vectors: SHA1).
    notify_digest: str = "SHA1"

    # Daily call limits per quota window (ebay_sandbox.ratelimits; fact sheet §6 defaults), as
    # Developer Analytics getRateLimits reports them: Trading per call, Post-Order per resource.
    quota_trading: int = Field(default=5_000, ge=0)
    quota_postorder: int = Field(default=5_000, ge=0)
    quota_fulfillment: int = Field(default=100_000, ge=0)
    quota_payment_dispute: int = Field(default=250_000, ge=0)
    quota_finances: int = Field(default=15_000, ge=0)
    quota_inventory: int = Field(default=2_000_000, ge=0)
    quota_notification: int = Field(default=10_000, ge=0)
    quota_analytics: int = Field(default=5_000, ge=0)
    # Per seller and 15 s (getUserRateLimits): GetMyeBaySelling's documented 300.
    quota_user_selling: int = Field(default=300, ge=0)
    # Refuse calls over a limit as eBay does (Trading 518, REST 429 2001). Off by default: the
    # sandbox's accelerated days would otherwise stop long tests that eBay's real ones never see.
    quota_enforce: bool = False

    @field_validator("strictness")
    @classmethod
    def _known_variants(cls, value: str) -> str:
        parse_strictness(value)
        return value

    @field_validator("notify_retry_seconds")
    @classmethod
    def _retry_list(cls, value: str) -> str:
        delays = [float(v) for v in value.split(",") if v.strip()]
        if any(d < 0 for d in delays) or len(delays) > 10:
            raise ValueError("notify_retry_seconds: up to 10 non-negative numbers")
        return value

    @property
    def retry_delays_ms(self) -> tuple[int, ...]:
        """Sandbox milliseconds before each resend."""
        return tuple(
            int(float(v) * 1000) for v in self.notify_retry_seconds.split(",") if v.strip()
        )

    @field_validator("profile")
    @classmethod
    def _known_profiles(cls, value: str) -> str:
        parse_profiles(value)
        return value

    @property
    def strict(self) -> Strictness:
        """The strictness variant in force."""
        return parse_strictness(self.strictness)

    def seller_profile(self, index: int) -> Profile:
        """The effective profile of seller ``index`` (0-based), overrides applied."""
        profiles = parse_profiles(self.profile)
        return with_overrides(
            profiles[index % len(profiles)],
            orders_per_day=self.orders_per_day,
            history_days=self.history_days,
            listings=self.listings,
            messages_per_day=self.messages_per_day,
            purchases_per_day=self.purchases_per_day,
        )
