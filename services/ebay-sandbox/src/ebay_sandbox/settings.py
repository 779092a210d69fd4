"""Sandbox configuration, read from ``SANDBOX_*`` environment variables."""

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxConfig(BaseSettings):
    """Everything that shapes one sandbox instance; same config + seed gives the same data."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    seed: int = 1
    sellers: int = Field(default=3, ge=0, le=10_000)
    orders_per_day: float = Field(default=20, ge=0)
    history_days: int = Field(default=120, ge=0)
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
