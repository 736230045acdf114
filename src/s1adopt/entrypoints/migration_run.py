"""Running a migration from the command line: wiring, progress and the outcome table."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.entrypoints.progress import RichProgress
from s1adopt.entrypoints.workers import run_workers
from s1adopt.services.intake import IntakeResult, take_in_migration_file
from s1adopt.services.migrate import MigrationRun, migrate_batches, take_in_all
from s1adopt.services.queries import OutcomeSummary


def summary_table(summary: OutcomeSummary, title: str) -> Table:
    """Outcome counts as a table."""
    table = Table(title=title)
    table.add_column("outcome")
    table.add_column("installations", justify="right")
    table.add_column("share", justify="right")
    for label, count in sorted(summary.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
        share = f"{100 * count / summary.total:.1f}%" if summary.total else "-"
        table.add_row(label, f"{count:,}", share)
    if summary.unfinished:
        table.add_row("(unfinished)", f"{summary.unfinished:,}", "")
    table.add_row("[bold]total", f"[bold]{summary.total:,}", "")
    return table


err = Console(stderr=True)


def cohort_table(by_cohort: dict[str, dict[str, int]]) -> Table:
    """Outcome counts with a column per cohort."""
    cohorts = sorted(by_cohort)
    labels = sorted({label for counts in by_cohort.values() for label in counts})
    table = Table(title="Outcomes by cohort")
    table.add_column("outcome")
    for cohort in cohorts:
        table.add_column(cohort, justify="right")
    for label in labels:
        table.add_row(label, *(f"{by_cohort[c].get(label, 0):,}" for c in cohorts))
    table.add_row("[bold]total", *(f"[bold]{sum(by_cohort[c].values()):,}" for c in cohorts))
    return table


def run_migration(
    application: Application, files: list[Path], headend: str | None, show_progress: bool
) -> MigrationRun:
    """Take in ``files`` and migrate their installations through the head ends at ``headend``."""
    run = MigrationRun()
    keyring, eligible = application.keyring, application.eligible_products
    settings = application.settings
    with RichProgress(show_progress) as progress:

        def intake(path: Path) -> IntakeResult:
            return take_in_migration_file(
                path,
                application.unit_of_work,
                eligible,
                keyring.unsealer(),
                keyring.vault(),
                application.clock,
                settings.max_migration_file_bytes,
                progress,
            )

        take_in_all(files, intake, run)
        batch_ids = sorted({b.batch_id for b in run.batches})
        if settings.workers > 1 and headend is not None and batch_ids:
            failures = run_workers(
                settings, batch_ids, headend, lambda: application.pending_work(batch_ids), progress
            )
            for failure in failures:  # the parent finishes what a failed worker left
                err.print(f"[yellow]warning:[/yellow] {failure}")

        async def work() -> MigrationRun:
            async with application.headend_directory(headend) as directory:
                pipeline = application.pipeline(directory)
                return await migrate_batches(
                    run, pipeline, application.queries, settings.report_dir, progress
                )

        asyncio.run(work())
    return run
