"""Which keyset and hosts an account's environment resolves to (common.environments)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from common.environments import EbayEnvironments, ProductionKeyset, SandboxKeyset
from common.settings import EbayApiSettings

DEFAULT = EbayApiSettings(
    api_base_url="https://api.example",
    apiz_base_url="https://apiz.example",
    auth_base_url="https://auth.example",
    client_id="default-client",
    client_secret=SecretStr("default-secret"),
    ru_name="default-ru",
    request_timeout_seconds=7,
)


def test_without_keysets_of_their_own_every_environment_uses_the_ebay_keyset() -> None:
    environments = EbayEnvironments(production=ProductionKeyset(), sandbox=SandboxKeyset())
    for environment in ("production", "sandbox", None):
        assert environments.keyset(environment, DEFAULT) == DEFAULT


def test_an_environment_with_its_own_client_id_gets_its_keyset_and_hosts() -> None:
    environments = EbayEnvironments(
        production=ProductionKeyset(),
        sandbox=SandboxKeyset(client_id="sbx", client_secret=SecretStr("s"), ru_name="sbx-ru"),
    )
    sandbox = environments.keyset("sandbox", DEFAULT)
    assert (sandbox.client_id, sandbox.client_secret.get_secret_value(), sandbox.ru_name) == (
        "sbx",
        "s",
        "sbx-ru",
    )
    assert sandbox.api_base_url == "https://api.sandbox.ebay.com"
    assert sandbox.apiz_base_url == "https://apiz.sandbox.ebay.com"
    assert sandbox.auth_base_url == "https://auth.sandbox.ebay.com"
    assert sandbox.request_timeout_seconds == 7  # what is not per environment stays
    assert environments.keyset("production", DEFAULT) == DEFAULT


def test_keysets_come_from_their_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBAY_SANDBOX_CLIENT_ID", "from-env")
    monkeypatch.setenv("EBAY_SANDBOX_API_BASE_URL", "http://127.0.0.1:1")
    environments = EbayEnvironments()
    assert environments.has_own_keyset("sandbox") and not environments.has_own_keyset("production")
    assert environments.keyset("sandbox", DEFAULT).api_base_url == "http://127.0.0.1:1"


def test_an_unknown_environment_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown eBay environment"):
        EbayEnvironments().keyset("staging", DEFAULT)
