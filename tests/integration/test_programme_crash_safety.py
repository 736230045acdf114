"""Crash safety of ``programme run``: a crash at every commit boundary of a programme in turn.

A small exchange (registration data, two suppliers' demand and authorisations, an SMSO's
migration data) runs for five migration days. At the n-th commit the process "dies" just
before or just after committing; a fresh run of the same command resumes. The outcome, every
day's report and the exchange's answers must equal those of a run that never crashed, and no
attempt or credential replacement may be repeated.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.uow import SqlUnitOfWork
from s1adopt.adapters.exchange.directory import DirectoryExchange
from s1adopt.adapters.work.inprocess import InProcessEngine
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import (
    AuthorisationEntry,
    AuthorisationRequest,
    DemandFile,
    DemandLine,
)
from s1adopt.domain.records import InstallationRecord
from s1adopt.formats.exchange.authorisation import (
    authorisation_file_name,
    password_file_name,
    write_authorisation,
    write_password,
)
from s1adopt.formats.exchange.demand import demand_file_name, write_demand
from s1adopt.formats.exchange.names import FileKind, build_name
from s1adopt.services.programme.capacity import ProgrammeRules
from s1adopt.services.programme.exchange_intake import ExchangeIntake
from s1adopt.services.programme.run import Programme, ProgrammeClock
from tests.builders import SMSO, write_file
from tests.integration.migration_world import World
from tests.integration.test_crash_safety import Crash, CrashingUnitOfWork, CrashPlan, _fresh
from tests.integration.test_programme_services import (
    PROVIDER,
    SUPPLIER_A,
    SUPPLIER_B,
    _inbox,
    _register,
)

START = date(2026, 12, 1)
DAYS = 5


def _exchange(world: World) -> Path:
    """The exchange of a small programme: 8 installations of two suppliers, one of them
    dual fuel, one dormant-free fault (a silent meter) and one left unauthorised."""
    root = world.tmp / "exchange"
    ours = [world.fleet.installation(i, dual_fuel=i == 2) for i in range(1, 5)]
    theirs = [world.fleet.installation(i) for i in range(5, 9)]
    for record in ours + theirs:
        world.install_devices(record)
    world.headend.devices[Eui64.parse(ours[3].devices[1].device_id)].answers = False
    _register(world, ours, SUPPLIER_A, "R1", directory=_inbox(root, PROVIDER))
    _register(world, theirs, SUPPLIER_B, "R2", directory=_inbox(root, PROVIDER))
    for party, records, reference in ((SUPPLIER_A, ours, "A"), (SUPPLIER_B, theirs[:3], "B")):
        _send(root, party, records, reference)
    name = build_name(FileKind.MIGRATION_DATA, "M1", Eui64.parse(SMSO), "DCC", START)
    write_file(_inbox(root, Eui64.parse(SMSO)) / name, "F1", world.sealer, ours + theirs)
    return root


def _send(root: Path, party: Eui64, records: list[InstallationRecord], reference: str) -> None:
    inbox = _inbox(root, party)
    demand = DemandFile(
        reference,
        party,
        "DCC",
        START,
        tuple(DemandLine(START + timedelta(days=d), "IOC", 2) for d in (2, 3)),
    )
    write_demand(inbox / demand_file_name(demand), demand)
    request = AuthorisationRequest(
        reference,
        party,
        "DCC",
        datetime.combine(START, datetime.min.time(), UTC),
        tuple(AuthorisationEntry(r.mpan, r.mprn, r.reference) for r in records),
    )
    write_authorisation(inbox / authorisation_file_name(request), request, "pw-" + reference)
    write_password(inbox / password_file_name(request), "pw-" + reference)


async def _run(world: World, root: Path, plan: CrashPlan) -> bool:
    """One ``programme run --days 5``-like process under ``plan``; True if it ran to the end."""
    clock = ProgrammeClock()
    world.clock = clock  # type: ignore[assignment]
    factory = lambda: CrashingUnitOfWork(SqlUnitOfWork(world.engine), plan)  # noqa: E731
    world.uow_factory = factory
    rules = ProgrammeRules(capacity={"IOC": 400})
    exchange = DirectoryExchange(root)
    programme = Programme(
        factory,
        exchange,
        clock,
        ExchangeIntake(factory, exchange, clock, world.take_in_path, rules, 1 << 30),
        InProcessEngine(factory, 3, 2),
        world.worker(),
        rules,
        None,
    )
    try:
        remaining = (START + timedelta(days=DAYS) - programme.first_day(START)).days
        await programme.run(remaining, START)
    except Crash:
        return False
    finally:
        world.uow_factory = world.uow
    return True


def _picture(world: World) -> dict[str, object]:
    """What must not depend on crashes: outcomes, reports, answers, attempts."""
    with world.engine.connect() as conn:
        inst = t.installation
        outcomes = sorted(
            conn.execute(
                select(inst.c.reference, inst.c.state, inst.c.failure_reason, inst.c.attempts)
            ).all()
        )
        reports = sorted(
            (str(r.day), r.party, sorted(r.counts.items()))
            for r in conn.execute(select(t.party_day))
        )
        answers = sorted((r.name, r.accepted) for r in conn.execute(select(t.exchange_file)))
        days = conn.execute(
            select(func.count())
            .select_from(t.programme_day)
            .where(t.programme_day.c.completed_at.is_not(None))
        ).scalar_one()
        work = conn.execute(select(func.count()).select_from(t.work_item)).scalar_one()
    return {
        "outcomes": outcomes,
        "reports": reports,
        "answers": answers,
        "days": days,
        "work": work,
    }


def _outbox_names(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*/outbox/*"))


async def _clean(tmp: Path, url: str) -> tuple[dict[str, object], list[str], int]:
    world = World(_fresh(url, tmp, 0), tmp / "clean", ProgrammeClock())  # type: ignore[arg-type]
    root = _exchange(world)
    plan = CrashPlan(at=None)
    assert await _run(world, root, plan)
    picture = _picture(world)
    world.engine.dispose()
    return picture, _outbox_names(root), plan.commits


@pytest.mark.parametrize("after", [False, True], ids=["before-commit", "after-commit"])
async def test_a_crash_at_every_commit_boundary_of_a_programme_changes_nothing(
    tmp_path: Path, database_url: str, after: bool
) -> None:
    (tmp_path / "clean").mkdir()
    reference, outbox, boundaries = await _clean(tmp_path, database_url)
    outcomes = {r[0]: (r[1], r[2], r[3]) for r in reference["outcomes"]}  # type: ignore[attr-defined]
    assert outcomes["S1-0000001"] == ("commissioned", None, 1)
    assert outcomes["S1-0000004"] == ("excluded", "device_no_response", 1)
    assert outcomes["S1-0000008"] == ("validated", None, 0)  # never authorised
    assert reference["days"] == DAYS
    assert boundaries > 20
    step = 1 if database_url.startswith("sqlite") else 3  # PostgreSQL: every third, for time
    for at in range(1, boundaries + 1, step):
        (tmp_path / str(at)).mkdir()
        world = World(
            _fresh(database_url, tmp_path, at),
            tmp_path / str(at),
            ProgrammeClock(),  # type: ignore[arg-type]
        )
        root = _exchange(world)
        assert not await _run(world, root, CrashPlan(at, after)), f"no crash at commit {at}"
        assert await _run(world, root, CrashPlan(at=None))
        assert _picture(world) == reference, f"crash at commit {at} changed the programme"
        assert _outbox_names(root) == outbox
        assert max(world.headend.replacements.values()) == 1
        world.engine.dispose()
