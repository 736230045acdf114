"""The Migration Reporting Regime and the day's other outgoing files.

Rules:
- at the end of each migration day, every party's counts (``PartyDayCounts``) are computed
  from the store and kept, so a day's report never changes afterwards; the report goes to the
  party's outbox as XML and CSV (``MRR_D<yyyymmdd>_...``) with one line per installation
  whose attempt ended that day;
- the dormant notices recorded that day go to each supplier (``DMFU``/``DMMS``);
- the meter points whose DCC Service Flag changed that day go to every registration data
  provider (``RSF``); a chart of the programme's progress is drawn at the end of each run;
- writing is idempotent: a rerun of the day writes the same files again.
No file carries a secret: they are made of identities, counts and outcomes only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind, ServiceFlag
from s1adopt.domain.parties import Role
from s1adopt.domain.programme import (
    DCC_RECIPIENT,
    AllocationLine,
    AllocationResponse,
    Notice,
    NoticeKind,
    NoticeLine,
    PartyDayCounts,
)
from s1adopt.formats.charts import progress_chart
from s1adopt.formats.exchange.demand import allocation_file_name, write_allocation
from s1adopt.formats.exchange.notices import write_notice
from s1adopt.formats.exchange.reports import OutcomeLine, write_report
from s1adopt.formats.exchange.status import FlagChange, write_registration_status
from s1adopt.formats.report import explain
from s1adopt.services.ports import AllocationRow, Exchange, UnitOfWorkFactory

CHART_NAME = "programme-progress.png"


def day_reference(day: date) -> str:
    """The reference the day's files carry: ``D<yyyymmdd>``."""
    return f"D{day:%Y%m%d}"


def send_allocations(
    exchange: Exchange, rows: Sequence[AllocationRow], references: dict[Eui64, str]
) -> list[Path]:
    """Send each party its allocation for the day (``DR_...``), answering its demand file."""
    by_party: dict[Eui64, list[AllocationRow]] = defaultdict(list)
    for row in rows:
        by_party[row.party].append(row)
    written = []
    for party, mine in sorted(by_party.items()):
        response = AllocationResponse(
            references.get(party) or day_reference(mine[0].day),
            party,
            DCC_RECIPIENT,
            mine[0].day,
            tuple(AllocationLine(r.day, r.cohort, r.demand, r.allocated) for r in mine),
        )
        path = exchange.outbox(party.value) / allocation_file_name(response)
        write_allocation(path, response)
        written.append(path)
    return written


def send_notices(uow_factory: UnitOfWorkFactory, exchange: Exchange, day: date) -> list[Path]:
    """Send the dormant notices recorded on ``day``, one file per supplier and kind."""
    with uow_factory() as uow:
        sent = uow.programme.notices_sent_on(day)
    grouped: dict[tuple[str, Eui64], list[NoticeLine]] = defaultdict(list)
    for kind, item in sent:
        grouped[(kind, item.party)].append(
            NoticeLine(item.reference, item.mpan, item.mprn, item.day)
        )
    written = []
    for (kind, party), lines in sorted(grouped.items()):
        notice = Notice(NoticeKind(kind), party, day, tuple(lines))
        written.append(write_notice(exchange.outbox(party.value), notice, day_reference(day)))
    return written


def draw_progress(uow_factory: UnitOfWorkFactory, chart_dir: Path) -> Path | None:
    """Draw the programme's progress chart from the kept day counts (None before any day)."""
    with uow_factory() as uow:
        history = uow.programme.saved_day_counts()
    if not history:
        return None
    chart_dir.mkdir(parents=True, exist_ok=True)
    path = chart_dir / CHART_NAME
    progress_chart(history, path, "Migration programme: progress")
    return path


def report_day(
    uow_factory: UnitOfWorkFactory, exchange: Exchange, day: date
) -> list[PartyDayCounts]:
    """Compute, keep and send the day's reports (see the module rules)."""
    with uow_factory() as uow:
        counts = uow.programme.day_counts(day)
        uow.programme.save_day_counts(counts)
        uow.commit()
    with uow_factory() as uow:
        lines = uow.programme.attempt_lines(day)
        changes = uow.programme.flag_changes_on(day)
        providers = [
            p for p in uow.programme.parties() if Role.REGISTRATION_DATA_PROVIDER in p.roles
        ]
    outcomes: dict[Eui64, list[OutcomeLine]] = defaultdict(list)
    for party, reference, mpan, mprn, outcome, attempts in lines:
        outcomes[party].append(
            OutcomeLine(reference, mpan, mprn, outcome, attempts, explain(outcome))
        )
    for c in counts:
        write_report(
            exchange.outbox(c.party.value), day_reference(day), [c], outcomes.get(c.party, []), day
        )
    flags = [
        FlagChange(mpxn, MeterPointKind(kind), ServiceFlag(flag), at)
        for mpxn, kind, flag, at in changes
    ]
    for provider in providers:
        write_registration_status(
            exchange.outbox(provider.eui.value), day_reference(day), provider.eui, day, flags
        )
    return counts
