"""Read-side queries on SQLAlchemy Core."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, Engine, func, select, true

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.repository import aware
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import MigrationState, outcome_label
from s1adopt.services.queries import (
    DeviceView,
    HistoryEntry,
    InstallationOutcome,
    InstallationView,
    OutcomeSummary,
)


def _outcome(state: str, reason: str | None, electricity_only: object) -> str | None:
    return outcome_label(MigrationState(state), reason, bool(electricity_only))


class SqlMigrationQueries:
    """``services.queries.MigrationQueries`` on an engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def outcome_summary(self, batch_ids: Sequence[int]) -> OutcomeSummary:
        """Counts per outcome over the batches' installations, overall and per cohort."""
        inst = t.installation
        stmt = (
            select(
                inst.c.cohort,
                inst.c.state,
                inst.c.failure_reason,
                inst.c.electricity_only,
                func.count(),
            )
            .where(inst.c.batch_id.in_(list(batch_ids)))
            .group_by(inst.c.cohort, inst.c.state, inst.c.failure_reason, inst.c.electricity_only)
        )
        overall: Counter[str] = Counter()
        by_cohort: dict[str, Counter[str]] = {}
        total = unfinished = 0
        with self._engine.connect() as conn:
            for cohort, state, reason, electricity_only, n in conn.execute(stmt):
                total += n
                label = _outcome(state, reason, electricity_only)
                if label is None:
                    unfinished += n
                else:
                    overall[label] += n
                by_cohort.setdefault(cohort, Counter())[label or "in progress"] += n
        return OutcomeSummary(
            total,
            dict(sorted(overall.items())),
            unfinished,
            {cohort: dict(sorted(c.items())) for cohort, c in sorted(by_cohort.items())},
        )

    def installation_outcomes(self, batch_id: int | None) -> Iterator[InstallationOutcome]:
        """Every installation of a batch (None: of every batch) in reference order, streamed."""
        inst = t.installation
        stmt = (
            select(
                inst.c.reference,
                inst.c.mpan,
                inst.c.mprn,
                inst.c.state,
                inst.c.failure_reason,
                inst.c.electricity_only,
                inst.c.attempts,
                inst.c.failure_detail,
            )
            .where(inst.c.batch_id == batch_id if batch_id is not None else true())
            .order_by(inst.c.reference)
        )
        with self._engine.connect() as conn:
            for row in conn.execution_options(yield_per=2000).execute(stmt):
                yield InstallationOutcome(
                    row.reference,
                    row.mpan,
                    row.mprn,
                    row.state,
                    _outcome(row.state, row.failure_reason, row.electricity_only) or "in progress",
                    row.attempts,
                    row.failure_detail,
                )

    def refused_records(self, batch_id: int) -> list[tuple[str, str, str]]:
        """The batch's records that could not be applied, in reference order."""
        br = t.batch_refusal
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(br.c.reference, br.c.reason, br.c.detail)
                .where(br.c.batch_id == batch_id)
                .order_by(br.c.reference)
            )
            return [(r.reference, r.reason, r.detail) for r in rows]

    def find_installation(self, identifier: str) -> InstallationView | None:
        """The installation holding a device, meter point or reference."""
        text = identifier.strip()
        with self._engine.connect() as conn:
            inst_id = None
            try:
                device_id = Eui64.parse(text).value
                inst_id = conn.execute(
                    select(t.device.c.installation_id).where(t.device.c.device_id == device_id)
                ).scalar_one_or_none()
            except InvalidIdentity:
                pass
            if inst_id is None:
                inst_id = conn.execute(
                    select(t.meter_point.c.installation_id).where(t.meter_point.c.mpxn == text)
                ).scalar_one_or_none()
            if inst_id is None:
                inst = t.installation
                inst_id = conn.execute(
                    select(inst.c.id)
                    .where(
                        (inst.c.reference == text) | (inst.c.mpan == text) | (inst.c.mprn == text)
                    )
                    .order_by(inst.c.id.desc())
                    .limit(1)
                ).scalar_one_or_none()
            if inst_id is None:
                return None
            return self._installation_view(conn, inst_id)

    @staticmethod
    def _installation_view(conn: Connection, inst_id: int) -> InstallationView:
        row = conn.execute(select(t.installation).where(t.installation.c.id == inst_id)).one()
        history = [
            HistoryEntry(
                h.state, aware(h.at), ": ".join(part for part in (h.reason, h.detail) if part)
            )
            for h in conn.execute(
                select(t.installation_history)
                .where(t.installation_history.c.installation_id == inst_id)
                .order_by(t.installation_history.c.id)
            )
        ]
        devices = []
        for d in conn.execute(
            select(t.device)
            .where(t.device.c.installation_id == inst_id)
            .order_by(t.device.c.device_id)
        ):
            dev_history = [
                HistoryEntry(h.status, aware(h.effective_from), h.reason)
                for h in conn.execute(
                    select(t.device_status_history)
                    .where(t.device_status_history.c.device_id == d.device_id)
                    .order_by(t.device_status_history.c.id)
                )
            ]
            devices.append(
                DeviceView(
                    d.device_id,
                    d.device_type,
                    d.manufacturer,
                    d.model,
                    d.firmware_version,
                    d.smi_status,
                    aware(d.status_since),
                    d.associated_with,
                    d.mpxn,
                    d.credential_holder,
                    dev_history,
                )
            )
        points = [
            (p.mpxn, p.kind, p.service_flag)
            for p in conn.execute(
                select(t.meter_point).where(t.meter_point.c.installation_id == inst_id)
            )
        ]
        if not points:
            points = [(m, k, None) for m, k in ((row.mpan, "MPAN"), (row.mprn, "MPRN")) if m]
        return InstallationView(
            row.reference,
            row.batch_id,
            row.cohort,
            row.smso,
            row.installation_type,
            row.state,
            _outcome(row.state, row.failure_reason, row.electricity_only),
            row.attempts,
            points,
            devices,
            history,
            row.party,
            row.authorised_by,
            row.scheduled_for,
            row.retry_on,
            bool(row.blocked),
        )
