"""Every family has all its facts, and they agree: the conformance test of ``FamilySpec``.

A family's declarative facts are one :class:`common.families.FamilySpec`; what only a service
can hold is keyed by family there (the writer's table and mapping, the fetcher's source, the
CLI's ground truth, the admin API's labels). Each case walks one member of the ``Family`` enum,
so a family added to the enum without its spec, or without any of those, fails here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx
import pytest
from fastapi import FastAPI
from faststream.nats import NatsBroker

from admin_api.dependencies import current_user
from admin_api.routes import families as families_route
from common.db.base import Base
from common.db.topics import ENDED_TOPICS, TOPIC_RULES
from common.ebay.quota import EbayApi
from common.ebay.scopes import FAMILY_SCOPES, scope_needs, scopes_for
from common.families import (
    FAMILIES,
    PURPOSE_FAMILIES,
    Family,
    FamilySpec,
    Purpose,
    Push,
)
from common.ledger import FAMILY_APIS, DailyQuotas
from common.push import PUSH_FAMILIES
from common.settings import WindowSettings
from common.windows import DEFAULT_LOOKBACK
from ebaysync.truths import TRUTHS
from fetcher.settings import FetcherSettings
from fetcher.sources import EnvironmentSource, SourceContext, build_sources
from fetcher.sources.details import WithDetails
from fetcher.sources.targeted import WithTargets
from fetcher.tokens import TokenClient
from writer.families import FAMILY_TABLES

EVERY_FAMILY = pytest.mark.parametrize("family", list(Family), ids=str)


def spec_of(family: Family) -> FamilySpec:
    assert family in FAMILIES, f"{family} has no FamilySpec in common.families.FAMILIES"
    return FAMILIES[family]


@pytest.fixture(scope="module")
async def sources() -> AsyncIterator[Mapping[Family, EnvironmentSource]]:
    """The fetcher's sources as it builds them; nothing here calls eBay or the token service."""
    async with httpx.AsyncClient() as http:
        tokens = TokenClient(NatsBroker(), timeout=1.0)
        built = build_sources(SourceContext(http, FetcherSettings(), tokens))
        assert all(isinstance(s, EnvironmentSource) for s in built.values())
        yield {f: s for f, s in built.items() if isinstance(s, EnvironmentSource)}


@pytest.fixture(scope="module")
async def served_labels() -> dict[str, str]:
    """``GET /api/families`` of the admin API's own router, for a signed-in user."""
    app = FastAPI()
    app.include_router(families_route.router)
    app.dependency_overrides[current_user] = lambda: object()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        response = await client.get("/api/families")
    assert response.status_code == 200
    return {f["family"]: f["label"] for f in response.json()}


def test_every_family_has_a_spec_and_nothing_else_does() -> None:
    assert set(FAMILIES) == set(Family)
    assert all(spec.family is family for family, spec in FAMILIES.items())
    labels = [spec.label for spec in FAMILIES.values()]
    assert len(set(labels)) == len(labels), "two families share a label"


@EVERY_FAMILY
def test_the_writer_has_its_table_and_mapping(family: Family) -> None:
    spec = spec_of(family)
    assert family in FAMILY_TABLES, f"writer.families.FAMILY_TABLES has no {family}"
    table = FAMILY_TABLES[family]
    assert callable(table.map_record)
    assert table.spec.table.name == spec.table
    assert table.spec.key == ("account_id", *spec.key)
    assert table.spec.family is family
    assert table.spec.snapshot is spec.snapshot
    # The ORM's table, as the migrations create it, has the spec's key as its primary key.
    orm = Base.metadata.tables[spec.table]
    assert tuple(c.name for c in orm.primary_key.columns) == ("account_id", *spec.key)
    for child in table.child_specs:
        assert child.parent is table.spec


@EVERY_FAMILY
async def test_the_fetcher_builds_its_source(
    family: Family, sources: Mapping[Family, EnvironmentSource]
) -> None:
    spec = spec_of(family)
    assert family in sources, f"fetcher.sources.build_sources builds no source for {family}"
    source = sources[family]
    assert source.family is family
    assert source.phases == spec.phases
    targeted = source.default
    assert isinstance(targeted, WithTargets)
    assert isinstance(targeted.inner, WithDetails) is spec.detail
    # A targeted call exactly for the families whose notifications are re-read at once.
    assert (targeted.call is not None) is (spec.push is Push.TARGETED)


@EVERY_FAMILY
def test_push_topics_name_it_only_as_its_spec_says(family: Family) -> None:
    assert (family in PUSH_FAMILIES) is (spec_of(family).push is not Push.NONE)


@EVERY_FAMILY
def test_verify_has_its_truth(family: Family) -> None:
    spec = spec_of(family)
    assert family in TRUTHS, f"ebaysync.truths.TRUTHS has no {family}"
    truth = TRUTHS[family]
    assert truth.family is family
    assert truth.table.__tablename__ == spec.table  # type: ignore[attr-defined]
    assert truth.key_column == spec.key[0]
    # A snapshot has no date to be due by; an incremental family's records are dated.
    assert (truth.date is None) is spec.snapshot


@EVERY_FAMILY
def test_its_api_has_a_configured_quota(family: Family) -> None:
    api = spec_of(family).api
    assert api is not EbayApi.OTHER
    assert FAMILY_APIS[family] is api
    assert getattr(DailyQuotas(), api.value) > 0


@EVERY_FAMILY
def test_its_scopes_are_asked_for(family: Family) -> None:
    spec = spec_of(family)
    assert spec.scopes
    assert FAMILY_SCOPES[family] == spec.scopes
    # A connect for the family's side asks for the scope it needs, so its calls are allowed.
    asked = scopes_for(spec.side)
    assert spec.scopes[0] in asked.split()
    [need] = [n for n in scope_needs(asked) if n.needed_by == family.value]
    assert need.granted


@EVERY_FAMILY
def test_its_windows_and_phases_follow_its_kind(family: Family) -> None:
    spec = spec_of(family)
    policy = WindowSettings().policy(family)
    assert policy.lookback_limit == (spec.lookback or DEFAULT_LOOKBACK)
    if spec.snapshot:
        assert spec.phases == ("snapshot",)
        assert not spec.cadences
    else:
        assert spec.phases[0] == "window"
        assert family not in ENDED_TOPICS, "only a snapshot ends the rows it no longer sees"
    assert set(spec.cadences) <= set(spec.phases[1:])


@EVERY_FAMILY
def test_its_side_decides_which_purposes_sync_it(family: Family) -> None:
    side = spec_of(family).side
    assert side in (Purpose.SELLER, Purpose.BUYER)
    assert family in PURPOSE_FAMILIES[side]
    assert family in PURPOSE_FAMILIES[Purpose.BOTH]
    other = Purpose.BUYER if side is Purpose.SELLER else Purpose.SELLER
    assert family not in PURPOSE_FAMILIES[other]


@EVERY_FAMILY
def test_the_admin_api_serves_its_label(family: Family, served_labels: dict[str, str]) -> None:
    assert served_labels.get(family.value) == spec_of(family).label


def test_business_topics_name_only_families() -> None:
    assert set(TOPIC_RULES) <= set(Family)
    assert set(ENDED_TOPICS) <= {f for f, s in FAMILIES.items() if s.snapshot}


def test_a_spec_that_contradicts_itself_is_refused() -> None:
    base = FAMILIES[Family.ORDERS]
    with pytest.raises(ValueError, match="seller's or the buyer's"):
        FamilySpec(**{**vars(base), "side": Purpose.BOTH})
    with pytest.raises(ValueError, match="refresh phase"):
        FamilySpec(**{**vars(base), "cadences": {"window": base.lookback}})
    with pytest.raises(ValueError, match="snapshot"):
        FamilySpec(**{**vars(base), "lookback": None})
