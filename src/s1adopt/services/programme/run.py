"""Running the migration programme day by day.

Each migration day, in order: take in the exchange's files (acknowledging each); decide the
allocation of the day ``lead_days`` ahead and schedule into it (with the dormant notices);
send the allocations and notices; release what is scheduled for today and what is due for a
retry; migrate it; report; mark the day done.

Rules:
- every phase is idempotent, so a run killed at any point and started again resumes the same
  day and ends as an uninterrupted run would: files are recognised, an allocation is decided
  once, releases and the work queue are crash-safe, reports are computed from the store;
- a day is done only when its report is kept; the next run starts with the day after the
  last one done;
- the programme clock makes days pass instantly (tests, the demo, catching up), or follows
  the calendar, waiting for each day to begin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.programme import PartyDayCounts
from s1adopt.formats.exchange.names import parse_name
from s1adopt.services.migration.release import release_ready
from s1adopt.services.migration.steps import QUEUE
from s1adopt.services.ports import ChunkHandler, Exchange, Progress, UnitOfWorkFactory, WorkEngine
from s1adopt.services.programme.capacity import DayPlan, ProgrammeRules, allocate_and_schedule
from s1adopt.services.programme.exchange_intake import ExchangeIntake, FileAnswer
from s1adopt.services.programme.reporting import (
    draw_progress,
    report_day,
    send_allocations,
    send_notices,
)

DAY_STARTS = time(6, 0)  # migration work of a simulated day starts at 06:00 UTC
_LAST_MOMENT = timedelta(hours=17, minutes=59, seconds=59)


class ProgrammeClock:
    """``services.ports.Clock`` of the programme: within a simulated day, time starts at
    06:00 and passes as it really does (never past the day's end); with no day set, or on
    the calendar, it is the wall clock."""

    def __init__(self, calendar: bool = False) -> None:
        self.calendar = calendar
        self._day: date | None = None
        self._started = monotonic()

    def set_day(self, day: date) -> None:
        """Begin migration day ``day``."""
        self._day, self._started = day, monotonic()

    def now(self) -> datetime:
        """The current time (UTC)."""
        if self.calendar or self._day is None:
            return datetime.now(UTC)
        elapsed = min(timedelta(seconds=monotonic() - self._started), _LAST_MOMENT)
        return datetime.combine(self._day, DAY_STARTS, UTC) + elapsed


@dataclass
class DayResult:
    """What one migration day did."""

    day: date
    answers: list[FileAnswer]
    plan: DayPlan
    released: int
    counts: list[PartyDayCounts]


@dataclass
class Programme:
    """The migration programme, wired (see the module rules)."""

    uow_factory: UnitOfWorkFactory
    exchange: Exchange
    clock: ProgrammeClock
    intake: ExchangeIntake
    engine: WorkEngine
    worker: ChunkHandler
    rules: ProgrammeRules
    chart_dir: Path | None

    def first_day(self, start: date | None) -> date:
        """The day to run next: after the last one done; else ``start``; else the earliest
        date in the exchange's file names; else today."""
        with self.uow_factory() as uow:
            last = uow.programme.last_day()
        if last is not None:
            return last + timedelta(days=1)
        if start is not None:
            return start
        days = []
        for item in self.exchange.inbox():
            try:
                days.append(parse_name(item.name).day)
            except ExchangeFileRejected:
                continue  # a malformed name is answered when the file is taken in
        return min(days) if days else datetime.now(UTC).date()

    async def run(
        self,
        days: int,
        start: date | None = None,
        progress: Progress | None = None,
        on_day: Callable[[DayResult], None] | None = None,
    ) -> list[DayResult]:
        """Run ``days`` migration days from ``first_day(start)``."""
        results = []
        day = self.first_day(start)
        for _ in range(days):
            if self.clock.calendar:
                await _wait_until(day)
            result = await self.run_day(day, progress)
            results.append(result)
            if on_day is not None:
                on_day(result)
            day += timedelta(days=1)
        if self.chart_dir is not None:
            draw_progress(self.uow_factory, self.chart_dir)
        return results

    async def run_day(self, day: date, progress: Progress | None = None) -> DayResult:
        """Run one migration day (see the module rules)."""
        self.clock.set_day(day)
        with self.uow_factory() as uow:
            uow.programme.begin_day(day, self.clock.now())
            uow.commit()
        answers = self.intake.take_in_all()
        target = day + timedelta(days=self.rules.lead_days)
        with self.uow_factory() as uow:
            plan = allocate_and_schedule(uow, target, day, self.rules)
            references = {
                party: ref
                for party in {r.party for r in plan.rows}
                if (ref := uow.programme.demand_reference(party, target))
            }
            uow.commit()
        send_allocations(self.exchange, plan.rows, references)
        send_notices(self.uow_factory, self.exchange, day)
        released = release_ready(self.uow_factory, self.clock, day=day)
        await self.engine.drain(QUEUE, self.worker, progress)
        counts = report_day(self.uow_factory, self.exchange, day)
        with self.uow_factory() as uow:
            uow.programme.complete_day(day, self.clock.now())
            uow.commit()
        return DayResult(day, answers, plan, released, counts)


async def _wait_until(day: date) -> None:
    """Sleep until ``day`` begins on the calendar (UTC)."""
    while (wait := (datetime.combine(day, time(0), UTC) - datetime.now(UTC)).total_seconds()) > 0:
        await asyncio.sleep(min(wait, 60.0))
