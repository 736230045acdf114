"""``s1adopt demo``: a whole migration on the embedded default, checked against expectations."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.config import Settings
from s1adopt.domain.errors import ConfigurationError
from s1adopt.entrypoints.emulator_cli import fetch_stats
from s1adopt.entrypoints.migration_run import cohort_table, run_migration, summary_table

MARKER = ".s1adopt-demo"


def fresh_workdir(workdir: Path) -> None:
    if workdir.exists():
        if not (workdir / MARKER).exists():
            raise ConfigurationError(
                f"{workdir} exists and is not a demo directory; choose another --workdir"
            )
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / MARKER).write_text("created by s1adopt demo; removed by the next demo run\n")


def start_emulator(fleet_dir: Path, log: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """``s1adopt emulator serve`` (with ``options``) in a child process on a free port: it and
    its control URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "s1adopt",
            "emulator",
            "serve",
            str(fleet_dir),
            "--port",
            "0",
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=open(log, "w"),  # noqa: SIM115 - owned by the child
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("control: "):
        process.kill()
        raise ConfigurationError(f"the emulator did not start; see {log}")
    return process, line.split(" ", 1)[1].strip()


def report_replacements(stats: dict[str, Any], out: Console) -> list[str]:
    """Print the emulator's count of credential replacements; the devices replaced twice."""
    replaced = stats["totals"].get("credential_replacements", 0)
    twice = [
        d for d, c in stats.get("devices", {}).items() if c.get("credential_replacements", 0) > 1
    ]
    out.print(
        f"emulator: {replaced:,} device credentials replaced, "
        f"{len(twice)} devices replaced more than once"
    )
    return twice


def run_demo(
    workdir: Path,
    installations: int,
    seed: int,
    fault_rate: float,
    out: Console,
    dormant_rate: float = 0.03,
) -> int:
    """Run the plain demo (``migrate`` of the whole fleet); return 0 when every outcome equals
    expected.json, 1 otherwise."""
    from s1adopt.emulators.fleet import generate_fleet

    fresh_workdir(workdir)
    settings = Settings(
        database_url=f"sqlite:///{workdir / 's1adopt.db'}",
        key_dir=workdir / "keys",
        report_dir=workdir / "reports",
    )
    application = Application(settings)
    fleet_dir = workdir / "fleet"
    out.print(
        f"[bold]1.[/bold] generating {installations:,} installations (seed {seed}, "
        f"{fault_rate:.0%} faulty) in {fleet_dir}"
    )
    fleet = generate_fleet(
        fleet_dir,
        installations,
        fault_rate,
        seed,
        application.keyring.transport_public_key,
        dormant_rate=dormant_rate,
    )
    out.print("[bold]2.[/bold] starting the emulated SMSO head ends on loopback")
    process, control = start_emulator(fleet_dir, workdir / "emulator.log")
    try:
        out.print(f"   control address {control}")
        out.print("[bold]3.[/bold] migrating: Data Validation, Device Testing, Commissioning")
        started = time.perf_counter()
        run = run_migration(application, fleet.files, control, show_progress=True)
        elapsed = time.perf_counter() - started
        stats = fetch_stats(control)
    finally:
        process.terminate()
        process.wait(timeout=30)
    out.print(
        summary_table(
            run.summary,
            f"Migration outcomes ({elapsed:.1f} s, "
            f"{run.summary.total / elapsed:,.0f} installations/s)",
        )
    )
    if len(run.summary.by_cohort) > 1:
        out.print(cohort_table(run.summary.by_cohort))
    twice = report_replacements(stats, out)
    expected = json.loads((fleet_dir / "expected.json").read_text())["installations"]
    actual = {
        o.reference: o.outcome
        for b in run.batches
        for o in application.queries.installation_outcomes(b.batch_id)
    }
    differences = {
        ref: (want, actual.get(ref)) for ref, want in expected.items() if actual.get(ref) != want
    }
    for report in run.reports:
        out.print(f"report: {report}")
    if differences or twice or run.rejected:
        table = Table(title="Outcomes that differ from expected.json")
        for col in ("installation", "expected", "actual"):
            table.add_column(col)
        for ref, (want, got) in sorted(differences.items())[:50]:
            table.add_row(ref, want, got or "missing")
        out.print(table)
        out.print(f"[red]{len(differences)} of {len(expected)} outcomes differ[/red]")
        return 1
    out.print(
        f"[green]all {len(expected):,} outcomes equal expected.json, installation by "
        f"installation[/green]"
    )
    return 0
