"""``s1adopt plan``: simulate a migration programme with the real run's allocation and retries."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from s1adopt.domain.capacity import DMIN
from s1adopt.domain.retry import MAX_FAILED_ATTEMPTS, RetryRules
from s1adopt.entrypoints.progress import RichProgress
from s1adopt.formats.charts import plan_chart
from s1adopt.services.planner import GB_COHORTS, Cohort, PlanResult, PlanSettings, simulate

err = Console(stderr=True)
out = Console()

_IOC, _MOC, _FOC = GB_COHORTS
N = TypeVar("N", int, float)
_DAY_FIGURES = (
    "allocated",
    "attempted",
    "retried",
    "commissioned",
    "failed",
    "excluded",
    "released",
    "backlog",
    "pending",
    "stranded",
    "cumulative_commissioned",
    "cumulative_excluded",
)


def plan(
    installations: Annotated[
        int, typer.Option(min=0, help="Installations in the fleet (GB SMETS1: about 15 million)")
    ] = 15_000_000,
    parties: Annotated[int, typer.Option(min=1, help="Supplier parties migrating")] = 20,
    party_shares: Annotated[
        str | None,
        typer.Option(help="Each party's share of the fleet, comma-separated (default: equal)"),
    ] = None,
    ioc_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the fleet in IOC")
    ] = _IOC.share,
    moc_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the fleet in MOC")
    ] = _MOC.share,
    foc_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the fleet in FOC")
    ] = _FOC.share,
    ioc_capacity: Annotated[
        int, typer.Option(min=0, help="IOC installations per migration day")
    ] = _IOC.daily_capacity,
    moc_capacity: Annotated[
        int, typer.Option(min=0, help="MOC installations per migration day")
    ] = _MOC.daily_capacity,
    foc_capacity: Annotated[
        int, typer.Option(min=0, help="FOC installations per migration day")
    ] = _FOC.daily_capacity,
    dmin: Annotated[
        int, typer.Option(min=0, help="MSM flat allocation per party, cohort and day")
    ] = DMIN,
    daily_demand: Annotated[
        int | None,
        typer.Option(
            min=0, help="Fixed demand per party, cohort and day (default: by the horizon)"
        ),
    ] = None,
    demand_horizon: Annotated[
        int,
        typer.Option(
            min=1, help="Default demand: a party's remaining installations over this many days"
        ),
    ] = 20,
    transient_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Attempts failing transiently (retried)")
    ] = 0.05,
    data_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Attempts failing on data (await a fix)")
    ] = 0.02,
    final_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Attempts failing finally (excluded)")
    ] = 0.01,
    corrected_share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Data failures the SMSO corrects")
    ] = 0.8,
    correction_days: Annotated[
        int, typer.Option(min=1, help="Days until corrected data arrives")
    ] = 10,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="The failed attempt that excludes (MEHRS)")
    ] = MAX_FAILED_ATTEMPTS,
    backoff: Annotated[
        str, typer.Option(help="Days before the retry after the 1st, 2nd, ... failure")
    ] = "1,2,4,8",
    start: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First migration day (default: today)"),
    ] = None,
    every_day: Annotated[
        bool, typer.Option("--every-day", help="Migrate at weekends too (default: Mon-Fri)")
    ] = False,
    max_days: Annotated[int, typer.Option(min=1, help="Migration days simulated at most")] = 3_650,
    chart: Annotated[
        Path | None, typer.Option(help="Write a PNG chart of the programme here")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """Simulate a migration programme day by day: the MSM's allocation (DMIN floor), failures
    at the given rates and the MEHRS retries and exclusions, as the real run applies them.
    The defaults are GB-like: 15 million installations, 20 parties, three cohorts."""
    try:
        settings = PlanSettings(
            start=(start.date() if start else date.today()),
            installations=installations,
            parties=parties,
            party_shares=_numbers(party_shares, float, "--party-shares") if party_shares else None,
            cohorts=(
                Cohort("IOC", ioc_share, ioc_capacity),
                Cohort("MOC", moc_share, moc_capacity),
                Cohort("FOC", foc_share, foc_capacity),
            ),
            dmin=dmin,
            daily_demand=None if daily_demand is None else ((daily_demand,) * 3,) * parties,
            demand_horizon_days=demand_horizon,
            transient_rate=transient_rate,
            data_rate=data_rate,
            final_rate=final_rate,
            data_corrected_share=corrected_share,
            data_correction_days=correction_days,
            retry_rules=RetryRules(max_attempts, _numbers(backoff, int, "--backoff")),
            working_days_only=not every_day,
            max_days=max_days,
        )
    except ValueError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with RichProgress(not as_json) as progress:
        result = simulate(settings, progress)
    if chart is not None:
        try:
            plan_chart(result, chart)
        except OSError as exc:
            err.print(f"[red]error:[/red] cannot write the chart to {chart}: {exc.strerror}")
            raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(plan_json(result, chart), default=_json_default))
        return
    out.print(plan_table(result))
    if chart is not None:
        out.print(f"chart: {chart}")


def plan_table(result: PlanResult) -> Table:
    """The programme's outcome as a Rich table."""
    s = result.settings
    table = Table(title=f"Migration programme of {s.installations:,} installations")
    table.add_column("figure")
    table.add_column("value", justify="right")
    done = result.completion_date
    table.add_row("completion date", done.isoformat() if done else "[red]not complete")
    kind = "migration days (Mon-Fri)" if s.working_days_only else "migration days"
    table.add_row(kind, f"{len(result.days):,}")
    table.add_row("commissioned", _with_share(result.commissioned, s.installations))
    table.add_row("excluded", _with_share(result.excluded, s.installations))
    table.add_row("  final failures", f"{result.excluded_final:,}")
    attempts = f"  {s.retry_rules.max_attempts} failed attempts"
    table.add_row(attempts, f"{result.excluded_after_max_attempts:,}")
    table.add_row("stranded (data never corrected)", _with_share(result.stranded, s.installations))
    if result.unfinished:
        table.add_row("[red]unfinished", f"[red]{result.unfinished:,}")
    table.add_row("peak backlog", f"{result.peak_backlog:,}")
    capacity = sum(c.daily_capacity for c in s.cohorts)
    table.add_row("capacity per day", f"{capacity:,}")
    return table


def plan_json(result: PlanResult, chart: Path | None = None) -> dict[str, Any]:
    """The programme as one JSON-ready object: settings, outcome and per-day figures."""
    return {
        "settings": asdict(result.settings),
        "completion_date": result.completion_date,
        "days": len(result.days),
        "peak_backlog": result.peak_backlog,
        "commissioned": result.commissioned,
        "excluded": result.excluded,
        "excluded_final": result.excluded_final,
        "excluded_after_max_attempts": result.excluded_after_max_attempts,
        "stranded": result.stranded,
        "unfinished": result.unfinished,
        "parties": [
            {"installations": n, "completion_date": done}
            for n, done in zip(result.party_installations, result.party_completion, strict=True)
        ],
        "chart": None if chart is None else str(chart),
        "per_day": [
            {"day": d.day, **{name: getattr(d, name) for name in _DAY_FIGURES}} for d in result.days
        ],
    }


def _numbers(text: str, kind: type[N], option: str) -> tuple[N, ...]:
    try:
        return tuple(kind(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError(f"{option} must be comma-separated numbers, got {text!r}") from exc


def _with_share(count: int, total: int) -> str:
    share = f" ({100 * count / total:.2f}%)" if total else ""
    return f"{count:,}{share}"


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
