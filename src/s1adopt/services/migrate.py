"""The ``migrate`` use case: take in files, run the pipeline, summarise and report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.formats.report import explain, write_report
from s1adopt.services.intake import IntakeResult
from s1adopt.services.pipeline import MigrationPipeline
from s1adopt.services.ports import Progress
from s1adopt.services.queries import MigrationQueries, OutcomeSummary


@dataclass
class MigrationRun:
    """What one ``migrate`` run did."""

    batches: list[IntakeResult] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    summary: OutcomeSummary = field(default_factory=lambda: OutcomeSummary(0, {}, 0))
    reports: list[Path] = field(default_factory=list)


def take_in_all(
    paths: Sequence[Path], intake: Callable[[Path], IntakeResult], run: MigrationRun
) -> None:
    """Take in each file; a rejected file is recorded and the others go on."""
    for path in paths:
        try:
            run.batches.append(intake(path))
        except MigrationFileRejected as exc:
            run.rejected.append((path, str(exc)))


async def migrate_batches(
    run: MigrationRun,
    pipeline: MigrationPipeline,
    queries: MigrationQueries,
    report_dir: Path,
    progress: Progress | None = None,
) -> MigrationRun:
    """Run Device Testing and Commissioning for the run's batches, then report each batch."""
    batch_ids = sorted({b.batch_id for b in run.batches})
    if batch_ids:
        await pipeline.run(batch_ids, progress)
    for batch in run.batches:
        run.reports.append(write_batch_report(batch, queries, report_dir))
    run.summary = queries.outcome_summary(batch_ids)
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
    write_report(path, rows)
    return path
