"""The store's parts of a cluster, on SQLite and PostgreSQL: work holds, head-end session
leases shared by processes, and the singleton lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select, update

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.engine import make_engine, upgrade_schema
from s1adopt.adapters.work.claims import WorkClaims
from s1adopt.adapters.work.locks import StoreLock
from s1adopt.adapters.work.sessions import SessionLeaseStore, SharedSessions


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    upgrade_schema(engine)
    return engine


def _items(engine: Engine, ids: range, queue: str = "migration") -> None:
    now = datetime.now(UTC)
    with engine.begin() as c:
        c.execute(
            insert(t.work_item),
            [{"queue": queue, "subject_id": i, "step": "test", "created_at": now} for i in ids],
        )


def test_two_holders_never_hold_one_item_and_a_released_item_is_free_again(
    engine: Engine,
) -> None:
    _items(engine, range(1, 11))
    claims = WorkClaims(engine, ttl=30)
    first = claims.claim("migration", list(range(1, 7)), "a")
    second = claims.claim("migration", list(range(4, 11)), "b")
    assert first == [1, 2, 3, 4, 5, 6]
    assert second == [7, 8, 9, 10]
    assert [s for s, _ in claims.unheld("migration")] == []
    claims.release("migration", [4, 5], "a")
    claims.release("migration", [7], "a")  # not a's: stays b's
    assert [s for s, _ in claims.unheld("migration")] == [4, 5]
    assert claims.claim("migration", [4, 5, 7], "b") == [4, 5, 7]
    assert claims.remaining("migration") == 10


def test_a_hold_that_ran_out_is_taken_by_another_holder_and_renewal_keeps_it(
    engine: Engine,
) -> None:
    _items(engine, range(1, 4))
    claims = WorkClaims(engine, ttl=30)
    assert claims.claim("migration", [1, 2, 3], "dead") == [1, 2, 3]
    assert claims.claim("migration", [1, 2, 3], "other") == []
    with engine.begin() as c:  # the dead holder's lease runs out
        c.execute(update(t.work_item).values(claimed_until=datetime(2020, 1, 1, tzinfo=UTC)))
    assert [s for s, _ in claims.unheld("migration")] == [1, 2, 3]
    assert claims.claim("migration", [1, 2, 3], "other") == [1, 2, 3]
    before = datetime.now(UTC)
    claims.renew("migration", "other")
    with engine.begin() as c:
        untils = set(c.execute(select(t.work_item.c.claimed_until)).scalars())
    assert all(u.replace(tzinfo=u.tzinfo or UTC) > before for u in untils)


def test_session_shares_never_add_up_to_more_than_the_limit(engine: Engine) -> None:
    store = SessionLeaseStore(engine)
    a = store.renew("he", "a", 10, True, frozenset(), ttl=30)
    assert len(a.slots) == a.share == 10  # alone: the whole limit
    b = store.renew("he", "b", 10, True, frozenset(), ttl=30)
    assert b.share == 5
    assert b.slots == frozenset()
    a = store.renew("he", "a", 10, True, frozenset({0, 1, 2, 3, 4, 5, 6}), ttl=30)
    assert a.share == 5
    assert len(a.slots) == 7
    a = store.renew("he", "a", 10, True, frozenset({0}), ttl=30)
    assert len(a.slots) == 5
    b = store.renew("he", "b", 10, True, frozenset(), ttl=30)
    assert len(b.slots) == 5
    assert not (a.slots & b.slots)
    c = store.renew("he", "c", 10, True, frozenset(), ttl=30)
    assert c.share == 3
    assert len(c.slots) == 0
    with engine.begin() as conn:
        holders = [h for h in conn.execute(select(t.session_lease.c.holder)).scalars() if h]
    assert len(holders) <= 10
    store.give_back("he", "a")
    c = store.renew("he", "c", 10, True, frozenset(), ttl=30)
    assert c.share == 5
    assert len(c.slots) == 5
    b = store.renew("he", "b", 10, False, frozenset(), ttl=30)  # wants none: gives all back
    assert b.slots == frozenset()
    assert b.share == 0


def test_a_dead_processes_sessions_come_back_when_its_leases_run_out(engine: Engine) -> None:
    store = SessionLeaseStore(engine)
    store.renew("he", "dead", 4, True, frozenset(), ttl=30)
    alive = store.renew("he", "alive", 4, True, frozenset(), ttl=30)
    assert alive.slots == frozenset()
    with engine.begin() as c:
        c.execute(update(t.session_lease).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
        c.execute(
            update(t.session_claimant)
            .where(t.session_claimant.c.holder == "dead")
            .values(expires_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    alive = store.renew("he", "alive", 4, True, frozenset(), ttl=30)
    assert alive.share == 4
    assert len(alive.slots) == 4


async def test_processes_sharing_a_head_end_never_run_more_sessions_than_its_limit(
    engine: Engine,
) -> None:
    store = SessionLeaseStore(engine)
    limit, running, peak = 6, 0, 0
    limiters = [
        SharedSessions(store, "he", limit, f"p{i}", guard=1.0, ttl=6.0, renew_every=0.2)
        for i in range(3)
    ]
    served: list[str] = []

    async def one(limiter: SharedSessions, name: str) -> None:
        nonlocal running, peak
        async with limiter.session():
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1
            served.append(name)

    await asyncio.gather(*(one(limiters[i % 3], f"p{i % 3}") for i in range(300)))
    for limiter in limiters:
        await limiter.close()
    assert peak <= limit
    assert len(served) == 300
    assert {"p0", "p1", "p2"} <= set(served)  # every process got sessions
    with engine.begin() as c:
        assert not [h for h in c.execute(select(t.session_lease.c.holder)).scalars() if h]


def test_one_scheduler_holds_the_lock_and_another_takes_over_when_it_runs_out(
    engine: Engine,
) -> None:
    first = StoreLock(engine, "device-runtime", "first", ttl=30)
    second = StoreLock(engine, "device-runtime", "second", ttl=30)
    assert first.acquire()
    assert not second.acquire()
    assert first.renew()
    assert not second.renew()
    with engine.begin() as c:
        c.execute(update(t.service_lock).values(expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    assert second.acquire()
    assert not first.renew()  # the first has lost it and must stop
    second.release()
    assert first.acquire()
