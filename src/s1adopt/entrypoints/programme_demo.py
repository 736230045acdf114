"""``s1adopt demo``: the migration programme's story on the embedded default.

Act 1, the migration: three suppliers' installations migrate over a few migration days from
the exchange alone; the emulator shows that no unauthorised installation was contacted; then
the responsible suppliers authorise what they had missed, a few more days run, and every
installation's outcome is checked against ``expected.json``. Act 2, a change of supplier
(``cos_demo``): on the next day a migrated meter of each cohort switches supplier and the new
supplier takes it over through DUIS.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.config import Settings
from s1adopt.domain.programme import PartyDayCounts
from s1adopt.entrypoints.cos_demo import run_change_of_supplier
from s1adopt.entrypoints.demo import fresh_workdir, report_replacements, start_emulator
from s1adopt.entrypoints.emulator_cli import fetch_stats
from s1adopt.services.programme.queries import awaiting_authorisation
from s1adopt.services.programme.run import DayResult, ProgrammeClock

SUPPLIERS = 3
COLUMNS = (  # (count, heading) of the day tables, narrow enough for 80 columns
    ("authorised", "auth"),
    ("allocated", "alloc"),
    ("scheduled", "sched"),
    ("attempted", "tried"),
    ("commissioned", "comm"),
    ("failed", "failed"),
    ("excluded", "excl"),
    ("outstanding", "outst"),
    ("backlog", "backlog"),
)


def _day_table(result: DayResult, codes: dict[str, str]) -> Table:
    files = len(result.answers)
    refused = sum(1 for a in result.answers if not a.accepted)
    title = f"Migration day {result.day}"
    if files:
        title += f": {files} files taken in, {refused} refused"
    table = Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False
    )
    table.add_column("party", no_wrap=True)
    for _, heading in COLUMNS:
        table.add_column(heading, justify="right", no_wrap=True)
    for c in result.counts:
        table.add_row(
            codes.get(c.party.value, c.party.value), *(f"{getattr(c, n):,}" for n, _ in COLUMNS)
        )
    return table


def _contacted(app: Application, stats: dict[str, Any], references: set[str]) -> list[str]:
    """Those of ``references`` whose devices the emulator saw a request for."""
    touched = {key.upper() for key in stats.get("devices", {})}
    found = []
    for reference in sorted(references):
        view = app.queries.find_installation(reference)
        if view is None:
            continue
        if any(d.device_id.replace("-", "") in touched for d in view.devices):
            found.append(reference)
    return found


def _outcomes(app: Application, expected: dict[str, str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for reference in expected:
        view = app.queries.find_installation(reference)
        found[reference] = view.outcome if view is not None else None
    return found


def run_programme_demo(
    workdir: Path,
    installations: int,
    seed: int,
    fault_rate: float,
    out: Console,
    dormant_rate: float = 0.03,
    days: int = 6,
) -> int:
    """Run the demo; 0 when every outcome equals expected.json, nothing unauthorised was
    contacted, no credential was replaced twice in the migration and the change of supplier
    went as expected; 1 otherwise."""
    from s1adopt.emulators.fleet import generate_fleet
    from s1adopt.emulators.supplier_tool import Authorising, send_authorisation

    fresh_workdir(workdir)
    settings = Settings(
        database_url=f"sqlite:///{workdir / 's1adopt.db'}",
        key_dir=workdir / "keys",
        report_dir=workdir / "reports",
    )
    clock = ProgrammeClock()
    app = Application(settings, clock_override=clock)
    fleet_dir = workdir / "fleet"
    out.print(
        f"[bold]1.[/bold] generating {installations:,} installations of {SUPPLIERS} suppliers "
        f"(seed {seed}, {fault_rate:.0%} faulty, 5% left unauthorised) with their exchange"
    )
    fleet = generate_fleet(
        fleet_dir,
        installations,
        fault_rate,
        seed,
        app.keyring.transport_public_key,
        dormant_rate=dormant_rate,
        suppliers=SUPPLIERS,
    )
    assert fleet.exchange_dir is not None
    expected_file = json.loads(fleet.expected_file.read_text())
    expected: dict[str, str] = expected_file["installations"]
    unauthorised = set(expected_file["unauthorised"])
    out.print("[bold]2.[/bold] starting the emulated SMSO head ends on loopback")
    process, control = start_emulator(fleet_dir, workdir / "emulator.log")
    try:
        started = time.perf_counter()
        out.print(
            f"[bold]3.[/bold] act 1, the migration: {days} migration days from the exchange "
            f"({fleet.exchange_dir})"
        )
        first = _run_days(app, fleet.exchange_dir, control, days, out)
        stats = fetch_stats(control)
        contacted = _contacted(app, stats, unauthorised)
        out.print(
            f"   {len(unauthorised)} installations were left unauthorised; the emulator saw "
            f"requests for [bold]{len(contacted)}[/bold] of them"
        )
        next_day = first[-1].day + timedelta(days=1)
        waiting = awaiting_authorisation(app.unit_of_work, next_day)
        out.print(
            f"[bold]4.[/bold] act 1, continued: the responsible suppliers authorise the "
            f"{sum(len(v) for v in waiting.values())} installations they had missed"
        )
        for supplier, items in sorted(waiting.items()):
            send_authorisation(
                fleet.exchange_dir,
                supplier,
                [Authorising(i.reference, i.cohort, i.mpan, i.mprn) for i in items],
                next_day,
                "LATE1",
                settings.lead_days,
            )
        second = _run_days(app, fleet.exchange_dir, control, settings.lead_days + 2, out)
        elapsed = time.perf_counter() - started
        stats = fetch_stats(control)
        migrated = _verdict(
            app, fleet.exchange_dir, out, expected, contacted, stats, [*first, *second], elapsed
        )
        switch_day = second[-1].day + timedelta(days=1)
        clock.set_day(switch_day)
        out.print(
            f"[bold]5.[/bold] act 2, {switch_day}: a customer of each cohort changes supplier; "
            "the new supplier takes the meter over through DUIS"
        )
        switched = run_change_of_supplier(app, control, expected, workdir, switch_day, out)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return migrated if switched else 1


def _run_days(
    app: Application, exchange: Path, control: str, days: int, out: Console
) -> list[DayResult]:
    async def work() -> list[DayResult]:
        async with app.headend_directory(control) as directory:
            programme = app.programme(exchange, directory)
            codes: dict[str, str] = {}

            def each(result: DayResult) -> None:
                if not codes:
                    with app.unit_of_work() as uow:
                        codes.update((p.eui.value, p.short_code) for p in uow.programme.parties())
                out.print(_day_table(result, codes))

            return await programme.run(days, None, None, each)

    return asyncio.run(work())


def _verdict(
    app: Application,
    exchange: Path,
    out: Console,
    expected: dict[str, str],
    contacted: Sequence[str],
    stats: dict[str, Any],
    results: Sequence[DayResult],
    elapsed: float,
) -> int:
    counts: list[PartyDayCounts] = [c for r in results for c in r.counts]
    commissioned = sum(c.commissioned for c in counts)
    out.print(
        f"{len(results)} migration days in {elapsed:.1f} s: {commissioned:,} installations "
        f"commissioned, {sum(c.failed for c in counts):,} failed, "
        f"{sum(c.excluded for c in counts):,} excluded"
    )
    chart = app.settings.report_dir / "programme-progress.png"
    out.print(f"progress chart: {chart}")
    out.print(f"reports and answers: each party's outbox under {exchange}")
    twice = report_replacements(stats, out)
    actual = _outcomes(app, expected)
    differences = {
        ref: (want, actual.get(ref)) for ref, want in expected.items() if actual.get(ref) != want
    }
    if differences or twice or contacted:
        table = Table(title="Outcomes that differ from expected.json")
        for col in ("installation", "expected", "actual"):
            table.add_column(col)
        for ref, (want, got) in sorted(differences.items())[:50]:
            table.add_row(ref, want, got or "not migrated")
        out.print(table)
        out.print(
            f"[red]{len(differences)} of {len(expected)} outcomes differ; {len(contacted)} "
            f"unauthorised installations contacted; {len(twice)} credentials replaced twice[/red]"
        )
        return 1
    out.print(
        f"[green]all {len(expected):,} outcomes equal expected.json, installation by "
        f"installation; no unauthorised installation was contacted[/green]"
    )
    return 0
