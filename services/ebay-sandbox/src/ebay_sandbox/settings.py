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

    @field_validator("strictness")
    @classmethod
    def _known_variants(cls, value: str) -> str:
        parse_strictness(value)
        return value

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
