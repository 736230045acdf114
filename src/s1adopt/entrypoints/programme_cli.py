"""The programme's commands: ``programme run``, ``registration load``, ``installation ...``,
``schedule ...``, ``report ...`` and ``party list``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.domain.errors import (
    S1AdoptError,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import OPERATOR
from s1adopt.domain.programme import COUNT_FIELDS, PartyDayCounts
from s1adopt.entrypoints import event_loop
from s1adopt.entrypoints.errors import guard
from s1adopt.entrypoints.options import DbOption, settings_for
from s1adopt.entrypoints.progress import RichProgress
from s1adopt.formats.charts import progress_chart
from s1adopt.services.programme.run import DayResult, ProgrammeClock

programme_app = typer.Typer(help="Run the migration programme day by day.", no_args_is_help=True)
registration_app = typer.Typer(help="Registration data.", no_args_is_help=True)
installation_app = typer.Typer(
    help="Operator and supplier actions on an installation.", no_args_is_help=True
)
schedule_app = typer.Typer(help="Change an installation's migration day.", no_args_is_help=True)
report_app = typer.Typer(help="Migration Reporting Regime reports.", no_args_is_help=True)
party_app = typer.Typer(help="Parties of the service.", no_args_is_help=True)

err = Console(stderr=True)
out = Console()
T = TypeVar("T")

ActorOption = Annotated[
    str,
    typer.Option(
        "--as", help="Who acts: 'operator' or the responsible supplier's EUI-64", show_default=True
    ),
]


def application(db: str | None, clock: ProgrammeClock | None = None) -> Application:
    """The wired service, on ``db`` if given."""
    settings = settings_for(db)
    return Application(settings, clock_override=clock)


def counts_json(c: PartyDayCounts) -> dict[str, Any]:
    """One party's counts as JSON (the names of the Migration Reporting Regime)."""
    data = {name: getattr(c, name) for name in COUNT_FIELDS}
    data["failed_by_reason"] = dict(sorted(c.failed_by_reason.items()))
    return data


def totals(days: Sequence[Sequence[PartyDayCounts]]) -> dict[str, Any]:
    """Sums over days and parties; ``outstanding`` and ``backlog`` as they stand at the end."""
    total: dict[str, Any] = {name: 0 for name in COUNT_FIELDS}
    reasons: dict[str, int] = {}
    for counts in days:
        for c in counts:
            for name in COUNT_FIELDS:
                if name not in ("outstanding", "backlog"):
                    total[name] += getattr(c, name)
            for reason, n in c.failed_by_reason.items():
                reasons[reason] = reasons.get(reason, 0) + n
    last = days[-1] if days else []
    total["outstanding"] = sum(c.outstanding for c in last)
    total["backlog"] = sum(c.backlog for c in last)
    total["failed_by_reason"] = dict(sorted(reasons.items()))
    return total


def day_table(
    counts: Sequence[PartyDayCounts], title: str, codes: dict[str, str] | None = None
) -> Table:
    """A day's counts: a row per count, a column per party (its short code when known)."""
    table = Table(title=title, title_justify="left")
    table.add_column("count")
    for c in counts:
        table.add_column((codes or {}).get(c.party.value, c.party.value[-5:]), justify="right")
    for name in COUNT_FIELDS:
        table.add_row(name.replace("_", " "), *(f"{getattr(c, name):,}" for c in counts))
    reasons = sorted({r for c in counts for r in c.failed_by_reason})
    for reason in reasons:
        table.add_row(
            f"  failed: {reason}", *(f"{c.failed_by_reason.get(reason, 0):,}" for c in counts)
        )
    return table


def party_codes(app: Application) -> dict[str, str]:
    """Parties' short codes by EUI-64, for narrow tables."""
    with app.unit_of_work() as uow:
        return {p.eui.value: p.short_code for p in uow.programme.parties()}


@programme_app.command("run")
def programme_run(
    exchange: Annotated[Path, typer.Option(help="The exchange directory (<party>/inbox|outbox)")],
    headend: Annotated[
        str, typer.Option(help="Control address of the head ends, e.g. http://127.0.0.1:8700")
    ],
    days: Annotated[int, typer.Option(help="Migration days to run", min=1, max=3660)] = 1,
    start: Annotated[
        str | None,
        typer.Option(
            help="First day (YYYY-MM-DD) when none has run yet; default: the "
            "earliest date in the exchange's file names"
        ),
    ] = None,
    calendar: Annotated[
        bool, typer.Option(help="Follow the calendar: wait for each day to begin")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    db: DbOption = None,
) -> None:
    """Run migration days: take in files, allocate, schedule, notify, migrate, retry, report."""
    first = _date(start, "--start") if start else None
    if not exchange.is_dir():
        err.print(f"[red]error:[/red] {exchange} is not a directory (the exchange's root)")
        raise typer.Exit(4)
    clock = ProgrammeClock(calendar=calendar)
    app = application(db, clock)
    results: list[DayResult] = []

    def show(result: DayResult) -> None:
        if not as_json:
            out.print(day_table(result.counts, f"Migration day {result.day}", party_codes(app)))
            refused = [a for a in result.answers if not a.accepted]
            for answer in refused:
                err.print(
                    f"[yellow]refused[/yellow] {answer.sender}/{answer.name}: {answer.summary}"
                )

    async def work() -> list[DayResult]:
        async with app.headend_directory(headend) as directory:
            programme = app.programme(exchange, directory)
            with RichProgress(not as_json) as progress:
                progress.start("migration days", days)

                def each(result: DayResult) -> None:
                    results.append(result)
                    progress.advance()
                    show(result)

                return await programme.run(days, first, None, each)

    done = guard(lambda: event_loop.run(work()))
    if as_json:
        print(
            json.dumps(
                {
                    "days": [
                        {
                            "date": r.day.isoformat(),
                            "released": r.released,
                            "files": [
                                {
                                    "from": a.sender,
                                    "name": a.name,
                                    "accepted": a.accepted,
                                    "summary": a.summary,
                                }
                                for a in r.answers
                            ],
                            "parties": {
                                c.party.value: {"party": c.party.value, **counts_json(c)}
                                for c in r.counts
                            },
                        }
                        for r in done
                    ],
                    "totals": totals([r.counts for r in done]),
                }
            )
        )
        return
    out.print(_totals_table(totals([r.counts for r in done]), len(done)))
    chart = app.settings.report_dir / "programme-progress.png"
    if chart.exists():
        out.print(f"progress chart: {chart}")


def _totals_table(total: dict[str, Any], days: int) -> Table:
    table = Table(title=f"Programme totals over {days} day(s)")
    table.add_column("count")
    table.add_column("installations", justify="right")
    for name in COUNT_FIELDS:
        table.add_row(name.replace("_", " "), f"{total[name]:,}")
    for reason, n in total["failed_by_reason"].items():
        table.add_row(f"  failed: {reason}", f"{n:,}")
    return table


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        err.print(f"[red]error:[/red] {option} {text!r} is not a date like 2026-12-01")
        raise typer.Exit(2) from exc


@registration_app.command("load")
def registration_load(
    files: Annotated[list[Path], typer.Argument(help="Registration data files (REG_...xml)")],
    db: DbOption = None,
) -> None:
    """Take in registration data files (parties, and who supplies each meter point)."""
    app = application(db)
    failed = False
    with RichProgress() as progress:
        for path in files:
            try:
                load = app.load_registration(path, progress)
            except S1AdoptError as exc:
                failed = True
                err.print(f"[red]rejected:[/red] {exc}")
                for where, problem in getattr(exc, "faults", [])[:20]:
                    err.print(f"  {where}: {problem}")
                continue
            if load.already_known:
                out.print(f"{path.name}: already taken in (not applied twice)")
            else:
                out.print(f"{path.name}: {load.parties:,} parties, {load.records:,} registrations")
    if failed:
        raise typer.Exit(2)


def _action(db: str | None, run: Callable[[Application], Any]) -> None:
    app = application(db)
    result = guard(lambda: run(app))
    out.print(f"{result.reference}: {result.message} (state {result.state})")


@installation_app.command("retry")
def installation_retry(
    identifier: Annotated[str, typer.Argument(help="Reference, device EUI-64, MPAN or MPRN")],
    actor: ActorOption = OPERATOR,
    db: DbOption = None,
) -> None:
    """Make a failed installation ready for another attempt."""
    _action(db, lambda app: app.admin().retry(identifier, actor))


@installation_app.command("block")
def installation_block(
    identifier: Annotated[str, typer.Argument(help="Reference, device EUI-64, MPAN or MPRN")],
    actor: ActorOption = OPERATOR,
    note: Annotated[str, typer.Option(help="Why (kept in the history)")] = "",
    db: DbOption = None,
) -> None:
    """Block an installation for migration (audited)."""
    _action(db, lambda app: app.admin().set_blocked(identifier, True, actor, note))


@installation_app.command("unblock")
def installation_unblock(
    identifier: Annotated[str, typer.Argument(help="Reference, device EUI-64, MPAN or MPRN")],
    actor: ActorOption = OPERATOR,
    note: Annotated[str, typer.Option(help="Why (kept in the history)")] = "",
    db: DbOption = None,
) -> None:
    """Unblock an installation for migration (audited)."""
    _action(db, lambda app: app.admin().set_blocked(identifier, False, actor, note))


@schedule_app.command("move")
def schedule_move(
    identifier: Annotated[str, typer.Argument(help="Reference, device EUI-64, MPAN or MPRN")],
    day: Annotated[str, typer.Option(help="The new migration day, YYYY-MM-DD")],
    actor: ActorOption = OPERATOR,
    db: DbOption = None,
) -> None:
    """Move a scheduled installation to another day (before the cut-off, within allocation)."""
    new = _date(day, "--day")
    _action(db, lambda app: app.admin().reschedule(identifier, new, actor))


@schedule_app.command("cancel")
def schedule_cancel(
    identifier: Annotated[str, typer.Argument(help="Reference, device EUI-64, MPAN or MPRN")],
    actor: ActorOption = OPERATOR,
    db: DbOption = None,
) -> None:
    """Cancel an installation's schedule (before the cut-off)."""
    _action(db, lambda app: app.admin().reschedule(identifier, None, actor))


@report_app.command("days")
def report_days(
    party: Annotated[str | None, typer.Option(help="Only this party (EUI-64)")] = None,
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD)")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this day (YYYY-MM-DD)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """The kept daily reports, a table per day (or JSON)."""
    counts = _saved(db, party, since, until)
    if as_json:
        print(
            json.dumps(
                [
                    {"date": c.day.isoformat(), "party": c.party.value, **counts_json(c)}
                    for c in counts
                ]
            )
        )
        return
    if not counts:
        err.print("no migration day has been reported yet (run `s1adopt programme run`)")
        raise typer.Exit(3)
    codes = party_codes(application(db))
    by_day: dict[date, list[PartyDayCounts]] = {}
    for c in counts:
        by_day.setdefault(c.day, []).append(c)
    for day, rows in by_day.items():
        out.print(day_table(rows, f"Migration day {day}", codes))


@report_app.command("chart")
def report_chart(
    output: Annotated[Path, typer.Argument(help="PNG file to write")],
    party: Annotated[str | None, typer.Option(help="Only this party (EUI-64)")] = None,
    db: DbOption = None,
) -> None:
    """Draw the programme's progress over time as a PNG chart."""
    counts = _saved(db, party, None, None)
    if not counts:
        err.print("no migration day has been reported yet (run `s1adopt programme run`)")
        raise typer.Exit(3)
    progress_chart(counts, output, "Migration programme: progress")
    out.print(f"chart: {output}")


def _saved(
    db: str | None, party: str | None, since: str | None, until: str | None
) -> list[PartyDayCounts]:
    app = application(db)
    who = None
    if party:
        who = guard(lambda: Eui64.parse(party))
    first = _date(since, "--since") if since else None
    last = _date(until, "--until") if until else None

    def read() -> list[PartyDayCounts]:
        with app.unit_of_work() as uow:
            return uow.programme.saved_day_counts(who, first, last)

    return guard(read)


@party_app.command("list")
def party_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """The parties known from registration data."""
    app = application(db)

    def read() -> list[Any]:
        with app.unit_of_work() as uow:
            return list(uow.programme.parties())

    parties = guard(read)
    if as_json:
        print(
            json.dumps(
                [
                    {**asdict(p), "eui": p.eui.value, "roles": sorted(r.value for r in p.roles)}
                    for p in parties
                ]
            )
        )
        return
    table = Table(title="Parties")
    for column in ("EUI-64", "code", "name", "roles", "status"):
        table.add_column(column)
    for p in parties:
        table.add_row(
            p.eui.value, p.short_code, p.name, " ".join(sorted(r.value for r in p.roles)), p.status
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add the programme's commands to the CLI."""
    app.add_typer(programme_app, name="programme")
    app.add_typer(registration_app, name="registration")
    app.add_typer(installation_app, name="installation")
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(report_app, name="report")
    app.add_typer(party_app, name="party")
