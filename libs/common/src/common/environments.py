"""eBay's two environments (production, sandbox) and the keyset and hosts of each: the one home
of the mapping from an account's environment to what its calls and token refreshes use.

One deployment can hold accounts of both. The ``EBAY_*`` keyset (:class:`EbayApiSettings`) is
the one every deployment already has; an environment with a keyset of its own
(``EBAY_PRODUCTION_*`` / ``EBAY_SANDBOX_*``, recognised by its client id) uses that one and its
hosts, any other uses ``EBAY_*``. So a deployment with a single keyset works as before, whatever
environment it labels its accounts with.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.settings import EbayApiSettings

Environment = Literal["production", "sandbox"]
ENVIRONMENTS: tuple[Environment, ...] = ("production", "sandbox")


class EnvironmentKeyset(BaseSettings):
    """One environment's own keyset and hosts; unused while ``client_id`` is empty."""

    model_config = SettingsConfigDict(extra="ignore")

    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    ru_name: str = ""
    api_base_url: str
    apiz_base_url: str
    auth_base_url: str


class ProductionKeyset(EnvironmentKeyset):
    model_config = SettingsConfigDict(env_prefix="EBAY_PRODUCTION_", extra="ignore")

    api_base_url: str = "https://api.ebay.com"
    apiz_base_url: str = "https://apiz.ebay.com"
    auth_base_url: str = "https://auth.ebay.com"


class SandboxKeyset(EnvironmentKeyset):
    model_config = SettingsConfigDict(env_prefix="EBAY_SANDBOX_", extra="ignore")

    api_base_url: str = "https://api.sandbox.ebay.com"
    apiz_base_url: str = "https://apiz.sandbox.ebay.com"
    auth_base_url: str = "https://auth.sandbox.ebay.com"


class EbayEnvironments(BaseModel):
    production: ProductionKeyset = Field(default_factory=ProductionKeyset)
    sandbox: SandboxKeyset = Field(default_factory=SandboxKeyset)

    def has_own_keyset(self, environment: str) -> bool:
        return bool(self._own(environment).client_id)

    def keyset(self, environment: str | None, default: EbayApiSettings) -> EbayApiSettings:
        """The keyset and hosts an account of ``environment`` is served with (None, from a
        caller that names none: ``default``, the ``EBAY_*`` one)."""
        if environment is None or not self.has_own_keyset(environment):
            return default
        own = self._own(environment)
        return default.model_copy(
            update={
                "client_id": own.client_id,
                "client_secret": own.client_secret,
                "ru_name": own.ru_name,
                "api_base_url": own.api_base_url,
                "apiz_base_url": own.apiz_base_url,
                "auth_base_url": own.auth_base_url,
            }
        )

    def _own(self, environment: str) -> EnvironmentKeyset:
        if environment == "production":
            return self.production
        if environment == "sandbox":
            return self.sandbox
        raise ValueError(f"unknown eBay environment {environment!r}")


def ebay_environments() -> EbayEnvironments:
    return EbayEnvironments()


EnvironmentsField = Field(default_factory=ebay_environments)
