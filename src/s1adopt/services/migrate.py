"""The ``migrate`` use case: take files in, authorise and release their installations, work
until done, report.

Rules: running ``migrate`` on files is the operator's authorisation of their installations
(recorded as authorised by ``operator``), outside the programme's demand and scheduling; each
valid installation of the files gets one attempt per run (failed ones wait for
``installation retry`` or corrected data); re-running the same files resumes their work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.domain.installation import OPERATOR
from s1adopt.formats.report import explain, write_report
from s1adopt.services.intake import IntakeResult
from s1adopt.services.migration.release import release_ready
from s1adopt.services.migration.steps import QUEUE
from s1adopt.services.ports import (
    ChunkHandler,
    Clock,
    Progress,
    UnitOfWorkFactory,
    WorkEngine,
)
from s1adopt.services.queries import MigrationQueries, OutcomeSummary


@dataclass
class MigrationRun:
    """What one ``migrate`` run did."""

    batches: list[IntakeResult] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    summary: OutcomeSummary = field(default_factory=lambda: OutcomeSummary(0, {}, 0))
    reports: list[Path] = field(default_factory=list)
    released: int = 0


@dataclass
class Migrator:
    """What ``migrate`` works with."""

    uow_factory: UnitOfWorkFactory
    intake: Callable[[Path], IntakeResult]
    engine: WorkEngine
    worker: ChunkHandler
    queries: MigrationQueries
    clock: Clock
    report_dir: Path

    async def migrate(
        self, paths: Sequence[Path], progress: Progress | None = None
    ) -> MigrationRun:
        """Take in ``paths`` and migrate their installations (see the module rules)."""
        run = MigrationRun()
        for path in paths:
            try:
                run.batches.append(self.intake(path))
            except MigrationFileRejected as exc:
                run.rejected.append((path, str(exc)))
        batch_ids = sorted({b.batch_id for b in run.batches})
        if batch_ids:
            today = self.clock.now().date()
            with self.uow_factory() as uow:
                uow.migration.authorise_batches(batch_ids, OPERATOR, today)
                uow.commit()
            run.released = release_ready(
                self.uow_factory, self.clock, batch_ids=batch_ids, actor=OPERATOR
            )
        await self.engine.drain(QUEUE, self.worker, progress)
        for batch in run.batches:
            run.reports.append(write_batch_report(batch, self.queries, self.report_dir))
        run.summary = self.queries.outcome_summary(batch_ids)
        return run


def write_batch_report(batch: IntakeResult, queries: MigrationQueries, report_dir: Path) -> Path:
    """Write the report of one batch: installation, meter points, outcome, explanation."""
    stem = Path(batch.file_name).stem
    path = report_dir / f"batch-{batch.batch_id:06d}-{stem}.csv"
    rows = (
        (
            o.reference,
            o.mpan or "",
            o.mprn or "",
            o.outcome,
            o.attempts,
            explain(o.outcome),
            o.detail,
        )
        for o in queries.installation_outcomes(batch.batch_id)
    )
    refused = (
        (reference, "", "", f"refused:{reason}", "", "The record was not applied.", detail)
        for reference, reason, detail in queries.refused_records(batch.batch_id)
    )
    write_report(path, chain(rows, refused))
    return path
