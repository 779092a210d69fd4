"""Property-based run over the OpenAPI spec: whatever schemathesis sends, never a 5xx.

The app runs over real HTTP in a thread of its own (the generated tests are synchronous),
signed in as an admin of an org with one account, a run and a dead letter to find. The live
streams never end, so they are left out.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from embedded_servers import find_free_port
from hypothesis import HealthCheck, given, settings
from nats.js import JetStreamContext
from pydantic import SecretStr
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin_api.app import create_app
from common.families import Family
from common.messages import DeadLetter, SyncWindow, Trigger, encoded
from common.settings import EbayApiSettings, NatsSettings, PostgresSettings
from common.streams import DLQ_STREAM
from testkit.admin import PASSWORD, admin_settings, create_user
from testkit.factories import create_account, create_org
from token_service.app import create_app as create_token_service
from token_service.crypto import generate_key
from token_service.settings import TokenServiceSettings

pytestmark = [pytest.mark.nats, pytest.mark.postgres]

# Examples per operation and generation mode (positive and negative): bounded so the whole
# run stays well under a minute.
EXAMPLES = 10


class Server:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers


@pytest.fixture
async def admin_headers_and_data(
    sessions: async_sessionmaker[AsyncSession], topology: JetStreamContext
) -> str:
    """An org with an admin, an account and a dead letter; returns the admin's email."""
    async with sessions.begin() as session:
        org = await create_org(session)
        admin = await create_user(session, org.id, "admin")
        account = await create_account(session, org_id=org.id)
    now = datetime.now(UTC)
    command = SyncWindow(
        run_id=uuid.uuid4(),
        account_id=account.id,
        family=Family.ORDERS,
        window_from=now - timedelta(days=1),
        window_to=now,
        trigger=Trigger.MANUAL,
        issued_at=now,
    )
    letter = DeadLetter.of(command.subject, encoded(command), reason="test", failed_at=now)
    await topology.publish(letter.subject, encoded(letter), stream=DLQ_STREAM)
    return admin.email


@pytest.fixture
def server(
    admin_headers_and_data: str,
    migrated_database_url: str,
    nats_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Server]:
    """The admin API and the real token service, on a loop in a thread of their own."""
    # Several services in one process: none may take the fixed metrics port.
    monkeypatch.setenv("METRICS_PORT", "0")
    port = find_free_port()
    app = create_app(admin_settings(nats_url, migrated_database_url))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    token_service = create_token_service(
        TokenServiceSettings(
            nats=NatsSettings(url=nats_url),
            database=PostgresSettings(url=SecretStr(migrated_database_url)),
            # No test here reaches eBay: accounts without tokens are answered from the database.
            ebay=EbayApiSettings(api_base_url="http://127.0.0.1:9"),
            keys={"k1": SecretStr(generate_key())},
            active_key_id="k1",
        )
    )

    async def serve() -> None:
        await token_service.start()
        try:
            await uv.serve()
        finally:
            await token_service.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="fuzzed", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1000):
            if uv.started:
                break
            threading.Event().wait(0.02)
        login = httpx.post(
            f"{url}/api/auth/login",
            json={"email": admin_headers_and_data, "password": PASSWORD},
            timeout=30,
        )
        assert login.status_code == 200, login.text
        yield Server(url, {"Authorization": f"Bearer {login.json()['access_token']}"})
    finally:
        uv.should_exit = True
        thread.join(timeout=30)


# The server thread's own use of ``random`` can land while hypothesis draws an example in this
# thread; hypothesis then blames the strategy with a deprecation warning. It is not one.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
def test_no_request_makes_the_api_fail(server: Server) -> None:
    spec = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(spec).exclude(path_regex=r".*/live$")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) > 30
    for operation in operations:
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: Case[Any]) -> None:
            case.call_and_validate(
                base_url=server.url,
                headers=server.headers,
                checks=[not_a_server_error],
                timeout=30,
            )

        try:
            no_server_error()
        except Exception as exc:
            exc.add_note(f"operation: {operation.label}")
            raise
