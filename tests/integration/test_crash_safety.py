"""Crash safety of ``migrate``: a crash at every commit boundary in turn, and several in a row.

The crash is injected at the unit of work: at the n-th commit the process "dies" just before
or just after committing (a BaseException, so no handler of ours can swallow it, and the other
chunks in flight stop where they are). A fresh run of the same command then resumes. The
devices (the fake head end) live on between runs, as real ones would.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest
from sqlalchemy import func, select

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.uow import SqlUnitOfWork
from s1adopt.domain.identities import Eui64
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.secrets import Secret
from tests.builders import with_device
from tests.conftest import StepClock
from tests.integration.migration_world import World


class Crash(BaseException):
    """Stands for the process being killed (SIGKILL) at a commit boundary."""


@dataclass
class CrashPlan:
    """Crash at the ``at``-th commit (counted from 1), ``after`` it or just before it."""

    at: int | None
    after: bool = False
    commits: int = 0


class CrashingUnitOfWork:
    """A real unit of work that dies at the commit its plan names."""

    def __init__(self, inner: SqlUnitOfWork, plan: CrashPlan) -> None:
        self._inner, self._plan = inner, plan

    def __enter__(self) -> CrashingUnitOfWork:
        self._inner.__enter__()
        self.migration = self._inner.migration
        self.programme = self._inner.programme
        self.work = self._inner.work
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        plan = self._plan
        plan.commits += 1
        if plan.commits == plan.at and not plan.after:
            raise Crash(f"killed before commit {plan.commits}")
        self._inner.commit()
        if plan.commits == plan.at and plan.after:
            raise Crash(f"killed after commit {plan.commits}")


def _fleet(world: World) -> tuple[list[InstallationRecord], dict[str, str]]:
    """A mixed fleet and the outcome each installation must reach."""
    records = [world.fleet.installation(i, dual_fuel=i % 3 == 0) for i in range(1, 11)]
    dormant = with_device(world.fleet.installation(11, kind="Dormant"), 1, firmware_version="1.6.0")
    gt01 = world.fleet.installation(12, dual_fuel=True)
    silent = world.fleet.installation(13)
    wrong_key = world.fleet.installation(14)
    bad_id = with_device(world.fleet.installation(15), 1, device_id="not-an-eui")
    records += [dormant, gt01, silent, wrong_key]
    for record in records:
        world.install_devices(record)
    records.append(bad_id)
    devices = world.headend.devices
    devices[Eui64.parse(dormant.devices[1].device_id)].dormant = True
    for dev in gt01.devices:
        if dev.device_type in ("GPF", "GSME"):
            devices[Eui64.parse(dev.device_id)].han_failure = True
    devices[Eui64.parse(silent.devices[1].device_id)].answers = False
    devices[Eui64.parse(wrong_key.devices[1].device_id)].credential = Secret(b"k" * 32)
    expected = {r.reference: "commissioned" for r in records[:11]}
    expected |= {
        gt01.reference: "commissioned_electricity_only",
        silent.reference: "device_no_response",
        wrong_key.reference: "credential_mismatch",
        bad_id.reference: "invalid_device_id",
    }
    return records, expected


async def _run(world: World, path: Path, plan: CrashPlan) -> bool:
    """One ``migrate`` process under ``plan``; True when it ran to the end."""
    world.uow_factory = lambda: CrashingUnitOfWork(SqlUnitOfWork(world.engine), plan)
    try:
        await world.migrator(chunk=4).migrate([path])
    except Crash:
        return False
    finally:
        world.uow_factory = world.uow
    return True


def _check(world: World, expected: dict[str, str]) -> None:
    """Outcomes as expected, nothing repeated, nothing left over."""
    with world.engine.connect() as conn:
        batches = conn.execute(select(t.migration_batch.c.id)).scalars().all()
    assert len(batches) == 1, "the file was taken in twice"
    assert world.outcomes(batches[0]) == expected
    replaced = world.headend.replacements
    assert max(replaced.values()) == 1, "a device's credential was replaced twice"
    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.work_item)).scalar_one() == 0
        attempts = Counter(
            dict(conn.execute(select(t.installation.c.reference, t.installation.c.attempts)).all())
        )
        ends = conn.execute(select(func.count()).select_from(t.attempt)).scalar_one()
    tried = {ref for ref, outcome in expected.items() if outcome != "invalid_device_id"}
    assert {ref for ref, n in attempts.items() if n} == tried
    assert all(attempts[ref] == 1 for ref in tried), "an attempt was started twice"
    assert ends == len(tried), "an attempt's end was recorded twice or not at all"


async def _commits_of_a_clean_run(tmp: Path, url: str) -> int:
    world = World(url, tmp / "clean", StepClock())
    records, expected = _fleet(world)
    plan = CrashPlan(at=None)
    assert await _run(world, world.write(records), plan)
    _check(world, expected)
    world.engine.dispose()
    return plan.commits


@pytest.mark.parametrize("after", [False, True], ids=["before-commit", "after-commit"])
async def test_a_crash_at_every_commit_boundary_in_turn_changes_no_outcome(
    tmp_path: Path, database_url: str, after: bool
) -> None:
    boundaries = await _commits_of_a_clean_run(tmp_path, database_url)
    assert boundaries >= 8  # intake, authorisation, release and each step of each chunk
    for at in range(1, boundaries + 1):
        (tmp_path / str(at)).mkdir()
        world = World(_fresh(database_url, tmp_path, at), tmp_path / str(at), StepClock())
        records, expected = _fleet(world)
        path = world.write(records)
        assert not await _run(world, path, CrashPlan(at, after)), f"no crash at commit {at}"
        assert await _run(world, path, CrashPlan(at=None))
        _check(world, expected)
        world.engine.dispose()


async def test_several_crashes_in_a_row_at_random_commits_change_no_outcome(
    tmp_path: Path, database_url: str
) -> None:
    rng = random.Random(20261129)
    for trial in range(6):
        (tmp_path / str(trial)).mkdir()
        world = World(_fresh(database_url, tmp_path, trial), tmp_path / str(trial), StepClock())
        records, expected = _fleet(world)
        path = world.write(records)
        crashes = 0
        for _ in range(8):  # up to eight kills in a row, each early in its run
            if await _run(world, path, CrashPlan(rng.randint(1, 6), rng.random() < 0.5)):
                break
            crashes += 1
        assert crashes >= 2
        assert await _run(world, path, CrashPlan(at=None))
        _check(world, expected)
        world.engine.dispose()


def _fresh(database_url: str, tmp: Path, n: int) -> str:
    """A fresh store for one trial: a new SQLite file, or the test's PostgreSQL database
    emptied (PostgreSQL tests get one database each)."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp / f'store-{n}.db'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return database_url
