"""Demand, capacity allocation (the Migration Scaling Methodology) and scheduling.

Rules:
- a supplier's demand file states, per migration day and cohort, the installations it wants
  migrated; a later file replaces the same day and cohort;
- the allocation for a migration day is decided once, ``lead_days`` before it: per cohort,
  ``domain.capacity.allocate`` shares the cohort's daily capacity among the parties by their
  demand, which is their stated demand plus their installations that come back (a retry due,
  corrected data): DCC retries within the same capacity;
- each party's allocation is filled with its ready installations (authorised, valid, not
  blocked, not yet scheduled; retries first, then oldest first); what it leaves unused is
  released, not carried over;
- a dormant installation is scheduled only when its supplier can be told ``notice_days``
  ahead: both its notices (firmware upgrade and migration schedule) are recorded with the
  schedule, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from s1adopt.domain.capacity import DMIN, allocate
from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import DemandFile, NoticeKind
from s1adopt.domain.retry import RetryRules
from s1adopt.services.ports import AllocationRow, ScheduledInstallation, UnitOfWork

COHORTS = ("IOC", "MOC", "FOC")


@dataclass(frozen=True, slots=True)
class ProgrammeRules:
    """The programme's settings: capacity, DMIN, lead times and the retry rules."""

    capacity: Mapping[str, int] = field(
        default_factory=lambda: {"IOC": 400, "MOC": 400, "FOC": 400}
    )
    dmin: int = DMIN
    lead_days: int = 2  # the allocation for day X is decided on day X - lead_days
    notice_days: int = 2  # dormant notices go this many days before the upgrade
    cutoff_days: int = 1  # a schedule can change until this many days before its day
    retry: RetryRules = field(default_factory=RetryRules)

    def __post_init__(self) -> None:
        if self.notice_days > self.lead_days:
            raise ValueError(
                f"dormant notices ({self.notice_days} days ahead) need allocation at least as "
                f"far ahead (lead {self.lead_days} days); raise the lead or shorten the notice"
            )
        if not 0 <= self.cutoff_days <= self.lead_days:
            raise ValueError(f"the cut-off must be between 0 and the lead ({self.lead_days})")
        if any(c < 0 for c in self.capacity.values()):
            raise ValueError("capacities must not be negative")


def take_in_demand(uow: UnitOfWork, demand: DemandFile, rules: ProgrammeRules) -> str:
    """Record a supplier's demand; ``ExchangeFileRejected`` lists every fault."""
    faults: list[tuple[str, str]] = []
    party = uow.programme.party(demand.party)
    if party is None:
        faults.append(("header", f"{demand.party} is not a known party"))
    elif not party.is_supplier:
        faults.append(("header", f"{demand.party} holds no supplier role"))
    for index, line in enumerate(demand.lines, 1):
        if line.cohort not in rules.capacity:
            known = ", ".join(sorted(rules.capacity))
            faults.append((f"line {index}", f"unknown cohort {line.cohort!r}; cohorts: {known}"))
    if faults:
        raise ExchangeFileRejected(f"demand {demand.reference} refused", faults)
    uow.programme.put_demand(demand.party, demand.lines, demand.reference)
    days = sorted({line.day for line in demand.lines})
    total = sum(line.installations for line in demand.lines)
    span = f"{days[0]} to {days[-1]}" if days else "no days"
    return f"demand for {total:,} installations over {len(days)} days ({span})"


@dataclass
class DayPlan:
    """What allocation decided for one migration day."""

    day: date
    rows: list[AllocationRow]
    notices: list[ScheduledInstallation]
    decided_now: bool


def allocate_and_schedule(
    uow: UnitOfWork, day: date, today: date, rules: ProgrammeRules
) -> DayPlan:
    """Decide the allocation of ``day`` and schedule into it (once: a second call returns
    what the first decided)."""
    existing = uow.programme.allocation_on(day)
    if existing:
        return DayPlan(day, existing, [], False)
    stated = uow.programme.demand_on(day)
    returning = uow.programme.returning_ready(day)
    dormant_from = today + timedelta(days=rules.notice_days)
    rows: list[AllocationRow] = []
    notices: list[ScheduledInstallation] = []
    for cohort in sorted(rules.capacity):
        demand: dict[Eui64, int] = {}
        for (c, party), n in (*stated.items(), *returning.items()):
            if c == cohort:
                demand[party] = demand.get(party, 0) + n
        shares = allocate(rules.capacity[cohort], demand, rules.dmin)
        for party in sorted(shares):
            scheduled = uow.programme.schedule(cohort, party, day, shares[party], dormant_from)
            notices.extend(s for s in scheduled if s.dormant)
            rows.append(
                AllocationRow(day, cohort, party, demand[party], shares[party], len(scheduled))
            )
    uow.programme.save_allocation(rows, today)
    for kind in NoticeKind:
        uow.programme.add_notices(kind.value, notices, today)
    return DayPlan(day, rows, notices, True)
