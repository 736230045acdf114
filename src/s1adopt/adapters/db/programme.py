"""The programme repository on SQLAlchemy Core (see ``services.ports.ProgrammeRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.repository import aware
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import InstallationType, MigrationState, outcome_label
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, PartyStatus, parse_roles
from s1adopt.domain.programme import COUNT_FIELDS, DemandLine, PartyDayCounts
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.services.ports import (
    AllocationRow,
    AttemptOutcome,
    ExchangeFileRecord,
    ScheduledInstallation,
)

IN_CHUNK = 500
_FINAL = [MigrationState.COMMISSIONED.value, MigrationState.EXCLUDED.value]
_IN_FORCE = (  # built once: its compiled form is cached
    select(t.registration)
    .where(
        t.registration.c.mpxn.in_(bindparam("m", expanding=True)),
        t.registration.c.effective_from <= bindparam("day"),
    )
    .order_by(t.registration.c.mpxn, t.registration.c.effective_from)
)


def _chunked(items: Sequence[Any], size: int = IN_CHUNK) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class SqlProgrammeRepository:
    """``services.ports.ProgrammeRepository`` on one open connection."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def _upsert(
        self, table: Any, rows: list[dict[str, Any]], keys: list[str], columns: list[str]
    ) -> None:
        if not rows:
            return
        dialect = self._c.dialect.name
        module: Any = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
        )
        for part in _chunked(rows):
            self._c.execute(stmt, list(part))

    # parties and registration data

    def upsert_parties(self, parties: Sequence[Party], at: datetime) -> None:
        """Add or update parties."""
        rows = [
            {
                "eui": p.eui.value,
                "short_code": p.short_code,
                "name": p.name[:128],
                "roles": " ".join(sorted(r.value for r in p.roles)),
                "status": p.status.value,
                "updated_at": at,
            }
            for p in parties
        ]
        self._upsert(
            t.party, rows, ["eui"], ["short_code", "name", "roles", "status", "updated_at"]
        )

    def parties(self) -> list[Party]:
        """Every party, by EUI-64."""
        return [_party(r) for r in self._c.execute(select(t.party).order_by(t.party.c.eui))]

    def party(self, eui: Eui64) -> Party | None:
        """One party."""
        row = self._c.execute(select(t.party).where(t.party.c.eui == eui.value)).one_or_none()
        return _party(row) if row is not None else None

    def add_registrations(self, records: Sequence[RegistrationRecord], file_id: int) -> None:
        """Add registration records (same meter point and day: the later file wins)."""
        rows = [
            {
                "mpxn": r.mpxn,
                "kind": r.kind.value,
                "supplier": r.supplier.value,
                "network_operator": r.network_operator.value,
                "effective_from": r.effective_from,
                "file_id": file_id,
            }
            for r in records
        ]
        self._upsert(
            t.registration,
            rows,
            ["mpxn", "effective_from"],
            ["kind", "supplier", "network_operator", "file_id"],
        )

    def in_force(self, mpxns: Sequence[str], day: date) -> dict[str, RegistrationRecord]:
        """The registration in force on ``day`` for each known meter point."""
        found: dict[str, RegistrationRecord] = {}
        for part in _chunked(sorted(set(mpxns))):
            rows = self._c.execute(_IN_FORCE, {"m": part, "day": day})
            for row in rows:  # ordered by day: the last one in force wins
                found[row.mpxn] = RegistrationRecord(
                    row.mpxn,
                    MeterPointKind(row.kind),
                    Eui64(row.supplier),
                    Eui64(row.network_operator),
                    row.effective_from,
                )
        return found

    # exchange files

    def file_seen(
        self, digest: str, kind: str, name: str | None = None
    ) -> ExchangeFileRecord | None:
        """A file of this kind with this digest taken in before (under ``name``, if given)."""
        ef = t.exchange_file
        conditions = [ef.c.digest == digest, ef.c.kind == kind]
        if name is not None:
            conditions.append(ef.c.name == name[:255])
        row = self._c.execute(select(ef).where(*conditions).order_by(ef.c.id).limit(1)).first()
        if row is None:
            return None
        return ExchangeFileRecord(row.id, row.name, bool(row.accepted), row.summary)

    def record_file(
        self,
        digest: str,
        name: str,
        kind: str,
        sender: str,
        at: datetime,
        accepted: bool,
        summary: str,
        faults: Sequence[tuple[str, str]],
    ) -> int:
        """Record a file taken in or refused; its id."""
        result = self._c.execute(
            insert(t.exchange_file).returning(t.exchange_file.c.id),
            {
                "digest": digest,
                "name": name[:255],
                "kind": kind,
                "sender": sender[:32],
                "received_at": at,
                "accepted": accepted,
                "summary": summary,
                "faults": [list(f) for f in faults],
            },
        )
        return int(result.scalar_one())

    def set_file_summary(self, file_id: int, summary: str) -> None:
        """Set the summary of a recorded file."""
        ef = t.exchange_file
        self._c.execute(update(ef).where(ef.c.id == file_id).values(summary=summary))

    # demand and allocation

    def put_demand(self, party: Eui64, lines: Sequence[DemandLine], reference: str) -> None:
        """Record demand lines (a later file replaces the same day and cohort)."""
        rows = [
            {
                "party": party.value,
                "day": line.day,
                "cohort": line.cohort,
                "installations": line.installations,
                "reference": reference,
            }
            for line in lines
        ]
        self._upsert(t.demand, rows, ["party", "day", "cohort"], ["installations", "reference"])

    def demand_on(self, day: date) -> dict[tuple[str, Eui64], int]:
        """Stated demand per (cohort, party) for a migration day."""
        d = t.demand
        rows = self._c.execute(
            select(d.c.cohort, d.c.party, d.c.installations).where(d.c.day == day)
        )
        return {(cohort, Eui64(party)): n for cohort, party, n in rows}

    def demand_reference(self, party: Eui64, day: date) -> str | None:
        """The reference of the demand file that stated the party's demand for ``day``."""
        d = t.demand
        return self._c.execute(
            select(d.c.reference)
            .where(d.c.party == party.value, d.c.day == day)
            .order_by(d.c.reference)
            .limit(1)
        ).scalar_one_or_none()

    def allocation_on(self, day: date) -> list[AllocationRow]:
        """The allocations decided for a migration day."""
        a = t.allocation
        rows = self._c.execute(select(a).where(a.c.day == day).order_by(a.c.cohort, a.c.party))
        return [
            AllocationRow(r.day, r.cohort, Eui64(r.party), r.demand, r.allocated, r.scheduled)
            for r in rows
        ]

    def save_allocation(self, rows: Sequence[AllocationRow], decided_on: date) -> None:
        """Store allocations (replacing those of the same day, cohort and party)."""
        self._upsert(
            t.allocation,
            [
                {
                    "day": r.day,
                    "cohort": r.cohort,
                    "party": r.party.value,
                    "demand": r.demand,
                    "allocated": r.allocated,
                    "scheduled": r.scheduled,
                    "decided_on": decided_on,
                }
                for r in rows
            ],
            ["day", "cohort", "party"],
            ["demand", "allocated", "scheduled", "decided_on"],
        )

    # authorisation

    def add_authorisations(
        self, rows: Sequence[tuple[str, Eui64]], file_id: int, day: date
    ) -> None:
        """Record meter points authorised by a party (a later authorisation replaces)."""
        self._upsert(
            t.authorisation,
            [
                {"mpxn": m, "party": p.value, "file_id": file_id, "authorised_on": day}
                for m, p in rows
            ],
            ["mpxn"],
            ["party", "file_id", "authorised_on"],
        )

    def authorisations(self, mpxns: Sequence[str]) -> dict[str, Eui64]:
        """The party that authorised each of the meter points."""
        a = t.authorisation
        found: dict[str, Eui64] = {}
        for part in _chunked(sorted(set(mpxns))):
            for mpxn, party in self._c.execute(
                select(a.c.mpxn, a.c.party).where(a.c.mpxn.in_(part))
            ):
                found[mpxn] = Eui64(party)
        return found

    def unauthorised_installations(self) -> list[tuple[str, str, str | None, str | None]]:
        """Installations waiting for an authorisation, by reference."""
        inst = t.installation
        rows = self._c.execute(
            select(inst.c.reference, inst.c.cohort, inst.c.mpan, inst.c.mprn)
            .where(inst.c.authorised_by.is_(None), inst.c.state.not_in(_FINAL))
            .order_by(inst.c.reference)
        )
        return [(r.reference, r.cohort, r.mpan, r.mprn) for r in rows]

    def installations_with_meter_points(self, mpxns: Sequence[str]) -> list[int]:
        """Unauthorised, unfinished installations whose MPAN or MPRN is among ``mpxns``."""
        inst = t.installation
        ids: set[int] = set()
        for part in _chunked(sorted(set(mpxns))):
            ids.update(
                self._c.execute(
                    select(inst.c.id).where(
                        or_(inst.c.mpan.in_(part), inst.c.mprn.in_(part)),
                        inst.c.authorised_by.is_(None),
                        inst.c.state.not_in(_FINAL),
                    )
                ).scalars()
            )
        return sorted(ids)

    def set_authorised(self, installation_ids: Sequence[int], party: Eui64, day: date) -> None:
        """Mark installations authorised by ``party`` (who becomes their reporting party)."""
        inst = t.installation
        for part in _chunked(list(installation_ids)):
            self._c.execute(
                update(inst)
                .where(inst.c.id.in_(part))
                .values(authorised_by=party.value, authorised_on=day, party=party.value)
            )

    # scheduling

    def _schedulable(self, day: date) -> list[Any]:
        inst = t.installation
        return [
            inst.c.authorised_by.is_not(None),
            inst.c.blocked.is_(False),
            inst.c.scheduled_for.is_(None),
            or_(
                inst.c.state == MigrationState.VALIDATED.value,
                and_(inst.c.state == MigrationState.FAILED.value, inst.c.retry_on <= day),
            ),
        ]

    def returning_ready(self, day: date) -> dict[tuple[str, Eui64], int]:
        """Per (cohort, party): schedulable installations attempted before."""
        inst = t.installation
        rows = self._c.execute(
            select(inst.c.cohort, inst.c.party, func.count())
            .where(*self._schedulable(day), inst.c.attempts > 0, inst.c.party.is_not(None))
            .group_by(inst.c.cohort, inst.c.party)
        )
        return {(cohort, Eui64(party)): n for cohort, party, n in rows}

    def schedule(
        self, cohort: str, party: Eui64, day: date, limit: int, dormant_from: date
    ) -> list[ScheduledInstallation]:
        """Schedule up to ``limit`` ready installations (retries first) for ``day``."""
        if limit <= 0:
            return []
        inst = t.installation
        conditions = [*self._schedulable(day), inst.c.cohort == cohort, inst.c.party == party.value]
        if day < dormant_from:
            conditions.append(inst.c.installation_type == InstallationType.ACTIVE.value)
        rows = self._c.execute(
            select(inst.c.id, inst.c.reference, inst.c.mpan, inst.c.mprn, inst.c.installation_type)
            .where(*conditions)
            .order_by(case((inst.c.state == MigrationState.FAILED.value, 0), else_=1), inst.c.id)
            .limit(limit)
        ).all()
        for part in _chunked([r.id for r in rows]):
            self._c.execute(update(inst).where(inst.c.id.in_(part)).values(scheduled_for=day))
        return [
            ScheduledInstallation(
                r.id,
                r.reference,
                party,
                r.mpan,
                r.mprn,
                day,
                InstallationType(r.installation_type).needs_notice,
            )
            for r in rows
        ]

    def scheduled_day(self, installation_id: int) -> date | None:
        """The migration day an installation is scheduled for."""
        inst = t.installation
        value: date | None = self._c.execute(
            select(inst.c.scheduled_for).where(inst.c.id == installation_id)
        ).scalar_one_or_none()
        return value

    def count_scheduled(self, installation_id: int, day: date, change: int) -> bool:
        """Adjust the scheduled count of the installation's allocation for ``day``."""
        inst, a = t.installation, t.allocation
        row = self._c.execute(
            select(inst.c.cohort, inst.c.party).where(inst.c.id == installation_id)
        ).one()
        where: list[Any] = [a.c.day == day, a.c.cohort == row.cohort, a.c.party == row.party]
        if change > 0:
            where.append(a.c.scheduled + change <= a.c.allocated)
        result = self._c.execute(update(a).where(*where).values(scheduled=a.c.scheduled + change))
        return bool(result.rowcount)

    def unschedule(self, installation_id: int) -> None:
        """Cancel an installation's schedule."""
        inst = t.installation
        self._c.execute(update(inst).where(inst.c.id == installation_id).values(scheduled_for=None))

    def set_schedule(self, installation_id: int, day: date) -> None:
        """Move an installation to another migration day."""
        inst = t.installation
        self._c.execute(update(inst).where(inst.c.id == installation_id).values(scheduled_for=day))

    def add_notices(self, kind: str, items: Sequence[ScheduledInstallation], sent_on: date) -> None:
        """Record notices sent (one per installation, kind and announced day)."""
        n = t.notice
        known: set[tuple[int, date]] = set()
        for part in _chunked([i.installation_id for i in items]):
            known.update(
                self._c.execute(
                    select(n.c.installation_id, n.c.day).where(
                        n.c.kind == kind, n.c.installation_id.in_(part)
                    )
                ).all()
            )
        rows = [
            {
                "kind": kind,
                "installation_id": i.installation_id,
                "day": i.day,
                "party": i.party.value,
                "sent_on": sent_on,
            }
            for i in items
            if (i.installation_id, i.day) not in known
        ]
        if rows:
            self._c.execute(insert(n), rows)

    def notices_sent_on(self, day: date) -> list[tuple[str, ScheduledInstallation]]:
        """The notices sent on a day, with their installations."""
        n, inst = t.notice, t.installation
        rows = self._c.execute(
            select(
                n.c.kind, n.c.day, n.c.party, inst.c.id, inst.c.reference, inst.c.mpan, inst.c.mprn
            )
            .join(inst, inst.c.id == n.c.installation_id)
            .where(n.c.sent_on == day)
            .order_by(n.c.kind, n.c.party, inst.c.reference)
        )
        return [
            (
                r.kind,
                ScheduledInstallation(
                    r.id, r.reference, Eui64(r.party), r.mpan, r.mprn, r.day, True
                ),
            )
            for r in rows
        ]

    # programme days

    def last_day(self) -> date | None:
        """The last migration day completed."""
        pd = t.programme_day
        value: date | None = self._c.execute(
            select(func.max(pd.c.day)).where(pd.c.completed_at.is_not(None))
        ).scalar_one_or_none()
        return value

    def begin_day(self, day: date, at: datetime) -> None:
        """Record that a day's run started (idempotent)."""
        pd = t.programme_day
        if self._c.execute(select(pd.c.day).where(pd.c.day == day)).first() is None:
            self._c.execute(insert(pd).values(day=day, started_at=at))

    def complete_day(self, day: date, at: datetime) -> None:
        """Record that a day's run finished."""
        pd = t.programme_day
        self._c.execute(update(pd).where(pd.c.day == day).values(completed_at=at))

    # reports

    def day_counts(self, day: date) -> list[PartyDayCounts]:
        """Every party's counts for a migration day, as the store stands now."""
        counts: dict[str, PartyDayCounts] = {}

        def of(party: str) -> PartyDayCounts:
            if party not in counts:
                counts[party] = PartyDayCounts(day, Eui64(party))
            return counts[party]

        a = t.allocation
        for party, allocated, scheduled in self._c.execute(
            select(a.c.party, func.sum(a.c.allocated), func.sum(a.c.scheduled))
            .where(a.c.day == day)
            .group_by(a.c.party)
        ):
            c = of(party)
            c.allocated, c.scheduled = int(allocated), int(scheduled)
            c.released = c.allocated - c.scheduled
        inst = t.installation
        for party, n in self._c.execute(
            select(inst.c.party, func.count())
            .where(inst.c.authorised_on == day, inst.c.party.is_not(None))
            .group_by(inst.c.party)
        ):
            of(party).authorised = n
        at = t.attempt
        for party, number, outcome, reason in self._c.execute(
            select(at.c.party, at.c.number, at.c.outcome, at.c.reason).where(
                at.c.day == day, at.c.party.is_not(None)
            )
        ):
            c = of(party)
            if outcome == AttemptOutcome.EXCLUDED_IN_VALIDATION:
                c.excluded_in_validation += 1
                continue
            c.attempted += 1
            if number > 1:
                c.retried += 1
            if outcome == AttemptOutcome.COMMISSIONED:
                c.commissioned += 1
            elif outcome == AttemptOutcome.EXCLUDED:
                c.excluded += 1
            else:
                c.failed += 1
                key = reason or "unknown"
                c.failed_by_reason[key] = c.failed_by_reason.get(key, 0) + 1
        authorised = [inst.c.authorised_by.is_not(None), inst.c.party.is_not(None)]
        outstanding = or_(
            inst.c.state == MigrationState.VALIDATED.value,
            and_(inst.c.state == MigrationState.FAILED.value, inst.c.retry_on.is_not(None)),
        )
        for party, backlog, waiting in self._c.execute(
            select(
                inst.c.party,
                func.count(),
                func.sum(case((outstanding, 1), else_=0)),
            )
            .where(*authorised, inst.c.state.not_in(_FINAL))
            .group_by(inst.c.party)
        ):
            c = of(party)
            c.backlog, c.outstanding = int(backlog), int(waiting or 0)
        return [counts[p] for p in sorted(counts)]

    def save_day_counts(self, counts: Sequence[PartyDayCounts]) -> None:
        """Store the day's counts (replacing an earlier run of the same day)."""
        self._upsert(
            t.party_day,
            [{"day": c.day, "party": c.party.value, "counts": _counts_json(c)} for c in counts],
            ["day", "party"],
            ["counts"],
        )

    def saved_day_counts(
        self, party: Eui64 | None = None, since: date | None = None, until: date | None = None
    ) -> list[PartyDayCounts]:
        """Stored day counts, by day then party."""
        pd = t.party_day
        conditions: list[Any] = []
        if party is not None:
            conditions.append(pd.c.party == party.value)
        if since is not None:
            conditions.append(pd.c.day >= since)
        if until is not None:
            conditions.append(pd.c.day <= until)
        rows = self._c.execute(select(pd).where(*conditions).order_by(pd.c.day, pd.c.party))
        return [_counts_from_json(r.day, r.party, r.counts) for r in rows]

    def attempt_lines(self, day: date) -> list[tuple[Eui64, str, str | None, str | None, str, int]]:
        """(party, reference, MPAN, MPRN, outcome, attempt number) of the day's attempt ends."""
        at, inst = t.attempt, t.installation
        rows = self._c.execute(
            select(
                at.c.party,
                inst.c.reference,
                inst.c.mpan,
                inst.c.mprn,
                at.c.outcome,
                at.c.reason,
                at.c.number,
                inst.c.electricity_only,
            )
            .join(inst, inst.c.id == at.c.installation_id)
            .where(at.c.day == day, at.c.party.is_not(None))
            .order_by(at.c.party, inst.c.reference)
        )
        lines = []
        for r in rows:
            if r.outcome == AttemptOutcome.COMMISSIONED:
                label = outcome_label(MigrationState.COMMISSIONED, None, bool(r.electricity_only))
            else:
                label = r.reason or r.outcome
            lines.append((Eui64(r.party), r.reference, r.mpan, r.mprn, str(label), r.number))
        return lines

    def flag_changes_on(self, day: date) -> list[tuple[str, str, str, datetime]]:
        """The DCC Service Flag changes of a day, in order."""
        fc = t.flag_change
        rows = self._c.execute(select(fc).where(fc.c.day == day).order_by(fc.c.id))
        return [(r.mpxn, r.kind, r.flag, aware(r.at)) for r in rows]


def _counts_json(c: PartyDayCounts) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(c, name) for name in COUNT_FIELDS}
    data["failed_by_reason"] = dict(sorted(c.failed_by_reason.items()))
    return data


def _counts_from_json(day: date, party: str, data: dict[str, Any]) -> PartyDayCounts:
    counts = PartyDayCounts(day, Eui64(party))
    for name in COUNT_FIELDS:
        setattr(counts, name, int(data.get(name, 0)))
    counts.failed_by_reason = {str(k): int(v) for k, v in data.get("failed_by_reason", {}).items()}
    return counts


def _party(row: Any) -> Party:
    return Party(
        Eui64(row.eui), row.short_code, row.name, parse_roles(row.roles), PartyStatus(row.status)
    )
