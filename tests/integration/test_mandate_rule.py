""""An agency holds an active mandate" has one Python form (registry.domain.model.Mandate.state)
and one SQL form (likeness_common.uow.active_mandate, used by every service's `represents` and by
the registry's talent listing). Against a real PostgreSQL, the two give the same answer at every
edge: just before and at valid_from, at ended_at, at valid_until, open-ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from likeness_common.ids import new_id
from likeness_common.uow import represented_talent, represents
from registry.adapters.postgres import PostgresUnitOfWork
from registry.domain.model import Agency, Mandate, Talent

T0 = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)
SHAPES = {
    "open-ended": (T0, None, None),
    "bounded": (T0, T0 + timedelta(days=10), None),
    "ended early": (T0, T0 + timedelta(days=10), T0 + timedelta(days=5)),
    "ended before it began": (T0, None, T0 - timedelta(days=1)),
}
INSTANTS = [T0 - TICK, T0, T0 + timedelta(days=5) - TICK, T0 + timedelta(days=5), T0 + timedelta(days=10) - TICK,
            T0 + timedelta(days=10), T0 + timedelta(days=400)]  # fmt: skip


@pytest.fixture(scope="module")
async def mandates(pool) -> tuple[str, dict[str, Mandate]]:
    agency = Agency(new_id("agc"), "Rule Agency", T0 - timedelta(days=30))
    made: dict[str, Mandate] = {}
    async with PostgresUnitOfWork(pool) as uow:
        await uow.agencies.add(agency)
        for shape, (valid_from, valid_until, ended_at) in SHAPES.items():
            talent = Talent(new_id("tal"), f"Talent {shape}", "", T0 - timedelta(days=30))
            await uow.talent.add(talent)
            made[shape] = Mandate(new_id("mnd"), agency.agency_id, talent.talent_id, valid_from, valid_until, ended_at)
            await uow.mandates.add(made[shape])
        await uow.commit()
    return agency.agency_id, made


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_sql_and_python_agree_on_every_edge(pool, mandates, shape):
    agency_id, made = mandates
    mandate = made[shape]
    for at in INSTANTS:
        in_sql = await represents(pool, agency_id, mandate.talent_id, at)
        assert in_sql == mandate.is_active(at), (shape, at, in_sql)
        assert (mandate.talent_id in await represented_talent(pool, agency_id, at)) == in_sql


async def test_the_edges_mean_what_the_domain_says(mandates):
    _, made = mandates
    bounded, ended = made["bounded"], made["ended early"]
    assert not bounded.is_active(T0 - TICK) and bounded.is_active(T0)  # valid_from is inclusive
    assert bounded.is_active(T0 + timedelta(days=10) - TICK) and not bounded.is_active(T0 + timedelta(days=10))  # valid_until exclusive
    assert ended.is_active(T0 + timedelta(days=5) - TICK) and not ended.is_active(T0 + timedelta(days=5))
    assert not any(made["ended before it began"].is_active(at) for at in INSTANTS)
