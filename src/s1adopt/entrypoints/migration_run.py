"""Running a migration from the command line: wiring, progress and the outcome table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.entrypoints import event_loop
from s1adopt.entrypoints.progress import RichProgress
from s1adopt.services.migrate import MigrationRun
from s1adopt.services.queries import OutcomeSummary

err = Console(stderr=True)


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
    with RichProgress(show_progress) as progress:

        async def work() -> MigrationRun:
            async with application.headend_directory(headend) as directory:
                migrator = application.migrator(directory, headend, progress)
                return await migrator.migrate(files, progress)

        return event_loop.run(work())
