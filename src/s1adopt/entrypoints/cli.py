"""The ``s1adopt`` command line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.config import Settings
from s1adopt.entrypoints import demo as demo_module
from s1adopt.entrypoints import event_loop
from s1adopt.entrypoints.cluster_cli import register as register_cluster
from s1adopt.entrypoints.duis_cli import register as register_duis
from s1adopt.entrypoints.emulator_cli import emulator_app
from s1adopt.entrypoints.errors import guard
from s1adopt.entrypoints.migration_run import cohort_table, run_migration, summary_table
from s1adopt.entrypoints.options import DbOption, settings_for
from s1adopt.entrypoints.plan_cli import plan
from s1adopt.entrypoints.programme_cli import register as register_programme
from s1adopt.entrypoints.programme_demo import run_programme_demo
from s1adopt.entrypoints.progress import RichProgress
from s1adopt.services.migration.steps import QUEUE
from s1adopt.services.queries import InstallationView

app = typer.Typer(
    name="s1adopt",
    help="Enrolment and Adoption of SMETS1 installations: migrate, inventory, emulate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fleet_app = typer.Typer(help="Generate emulated SMETS1 fleets.", no_args_is_help=True)
inventory_app = typer.Typer(help="Look up the Smart Metering Inventory.", no_args_is_help=True)
keys_app = typer.Typer(help="The service's keys.", no_args_is_help=True)
app.add_typer(fleet_app, name="fleet")
app.add_typer(emulator_app, name="emulator")
app.add_typer(inventory_app, name="inventory")
app.add_typer(keys_app, name="keys")
app.command("plan")(plan)
register_programme(app)
register_duis(app)
register_cluster(app)

err = Console(stderr=True)
out = Console()
T = TypeVar("T")


@app.command()
def migrate(
    files: Annotated[list[Path], typer.Argument(help="Migration files (XML, schema v1)")],
    headend: Annotated[
        str | None,
        typer.Option(help="Control address of the head ends, e.g. http://127.0.0.1:8700"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default S1ADOPT_WORKERS or 1)", min=1, max=64),
    ] = None,
    db: DbOption = None,
) -> None:
    """Validate, test and commission the installations of migration files (resumable)."""
    settings = settings_for(db)
    if workers is not None:
        settings = settings.model_copy(update={"workers": workers})
    application = Application(settings)
    if headend is None:
        err.print(
            "[red]error:[/red] --headend is required: the control address of the SMSO "
            "head ends (start the emulator with `s1adopt emulator serve DIR`)"
        )
        raise typer.Exit(4)
    run = guard(lambda: run_migration(application, files, headend, not as_json))
    if as_json:
        print(
            json.dumps(
                {
                    "total": run.summary.total,
                    "outcomes": run.summary.outcomes,
                    "unfinished": run.summary.unfinished,
                    "cohorts": run.summary.by_cohort,
                    "batches": [
                        {
                            "batch": b.batch_id,
                            "file": b.file_name,
                            "resumed": b.already_known,
                            "report": str(r),
                        }
                        for b, r in zip(run.batches, run.reports, strict=True)
                    ],
                    "rejected": [{"file": str(p), "error": e} for p, e in run.rejected],
                },
                indent=None,
            )
        )
    else:
        for _path, message in run.rejected:
            err.print(f"[red]rejected:[/red] {message}")
        out.print(summary_table(run.summary, "Migration outcomes"))
        if len(run.summary.by_cohort) > 1:
            out.print(cohort_table(run.summary.by_cohort))
        for report in run.reports:
            out.print(f"report: {report}")
    if run.rejected:
        raise typer.Exit(2)


@app.command("work-drain", hidden=True)
def work_drain(
    queue: Annotated[str, typer.Option(help="The work queue")],
    partition: Annotated[int, typer.Option(help="This worker's index", min=0)],
    of: Annotated[int, typer.Option(help="How many workers share the work", min=1)],
    headend: Annotated[str, typer.Option(help="Control address of the head ends")],
) -> None:
    """One worker process of a process-pool engine (settings from the environment)."""
    if partition >= of:
        err.print(f"[red]error:[/red] partition {partition} is not below {of}")
        raise typer.Exit(2)
    if queue != QUEUE:
        err.print(f"[red]error:[/red] unknown queue {queue!r}; the queue is {QUEUE!r}")
        raise typer.Exit(2)
    application = Application(Settings())

    async def work() -> None:
        async with application.headend_directory(headend) as directory:
            engine = application.work_engine(partition=(partition, of))
            await engine.drain(queue, application.migration_worker(directory))

    guard(lambda: event_loop.run(work()))


@inventory_app.command("show")
def inventory_show(
    identifier: Annotated[str, typer.Argument(help="Device EUI-64, MPAN, MPRN or reference")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """Show an installation with its devices, SMI statuses and histories."""
    application = Application(settings_for(db))
    view = guard(lambda: application.queries.find_installation(identifier))
    if view is None:
        err.print(
            f"[red]error:[/red] {identifier!r} is not in the inventory (try a device "
            "EUI-64 like 90-B3-D5-1F-30-01-00-00, a 13-digit MPAN or an MPRN)"
        )
        raise typer.Exit(3)
    if as_json:
        print(json.dumps(_view_json(view), default=str))
        return
    _print_view(view)


def _view_json(view: InstallationView) -> dict[str, Any]:
    return {
        "installation": view.reference,
        "batch": view.batch_id,
        "cohort": view.cohort,
        "smso": view.smso,
        "type": view.installation_type,
        "state": view.state,
        "outcome": view.outcome,
        "attempts": view.attempts,
        "party": view.party,
        "authorisedBy": view.authorised_by,
        "scheduledFor": view.scheduled_for.isoformat() if view.scheduled_for else None,
        "retryOn": view.retry_on.isoformat() if view.retry_on else None,
        "blocked": view.blocked,
        "meterPoints": [{"mpxn": m, "kind": k, "serviceFlag": f} for m, k, f in view.meter_points],
        "history": [
            {"state": h.status, "at": h.at.isoformat(), "note": h.note} for h in view.history
        ],
        "devices": [
            {
                "deviceId": d.device_id,
                "type": d.device_type,
                "manufacturer": d.manufacturer,
                "model": d.model,
                "firmware": d.firmware_version,
                "smiStatus": d.smi_status,
                "statusSince": d.status_since.isoformat(),
                "associatedWith": d.associated_with,
                "mpxn": d.mpxn,
                "credentialHolder": d.credential_holder,
                "history": [
                    {"status": h.status, "from": h.at.isoformat(), "reason": h.note}
                    for h in d.history
                ],
            }
            for d in view.devices
        ],
    }


def _print_view(view: InstallationView) -> None:
    out.print(
        f"[bold]Installation {view.reference}[/bold]  batch {view.batch_id}  "
        f"cohort {view.cohort}  SMSO {view.smso}  {view.installation_type}"
    )
    out.print(
        f"migration state: [bold]{view.state}[/bold]  outcome: {view.outcome or '-'}  "
        f"attempts: {view.attempts}"
    )
    out.print(
        f"party: {view.party or '-'}  authorised by: {view.authorised_by or '-'}  "
        f"scheduled for: {view.scheduled_for or '-'}  retry on: {view.retry_on or '-'}"
        + ("  [red]blocked for migration[/red]" if view.blocked else "")
    )
    for mpxn, kind, flag in view.meter_points:
        out.print(f"{kind} {mpxn}  DCC service flag: {flag or '-'}")
    table = Table(title="Devices", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    for col in ("device", "type", "model", "fw", "SMI status", "since", "keys"):
        table.add_column(col, no_wrap=True)  # an EUI-64 to copy, never cut
    for d in view.devices:
        table.add_row(
            d.device_id,
            d.device_type,
            d.model,
            d.firmware_version or "-",
            d.smi_status,
            d.status_since.strftime("%Y-%m-%d"),
            d.credential_holder,
        )
    out.print(table)
    history = Table(title="History")
    for col in ("at", "of", "status", "note"):
        history.add_column(col)
    for h in view.history:
        history.add_row(h.at.strftime("%Y-%m-%d %H:%M:%S"), "installation", h.status, h.note)
    for d in view.devices:
        for h in d.history:
            history.add_row(h.at.strftime("%Y-%m-%d %H:%M:%S"), d.device_id, h.status, h.note)
    out.print(history)


@fleet_app.command("generate")
def fleet_generate(
    installations: Annotated[int, typer.Option(help="How many installations", min=1)] = 1000,
    fault_rate: Annotated[
        float, typer.Option(help="Share of faulty installations", min=0.0, max=1.0)
    ] = 0.05,
    seed: Annotated[int, typer.Option(help="Seed: same seed, same fleet")] = 1,
    dormant_rate: Annotated[
        float, typer.Option(help="Share of dormant installations", min=0.0, max=1.0)
    ] = 0.03,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the fleet to")] = Path(
        "fleet"
    ),
    suppliers: Annotated[
        int | None,
        typer.Option(
            help="Suppliers sharing the fleet; also writes DIR/exchange/ for `programme run`",
            min=1,
            max=200,
        ),
    ] = None,
    unauthorised_rate: Annotated[
        float,
        typer.Option(
            help="Share of installations left unauthorised or authorised by the wrong supplier",
            min=0.0,
            max=1.0,
        ),
    ] = 0.05,
    start: Annotated[
        str, typer.Option(help="The programme's first day (YYYY-MM-DD) the exchange files carry")
    ] = "2026-12-01",
) -> None:
    """Write migration files, registration data, expected.json and the emulator's state for a
    generated fleet (and, with --suppliers, the exchange a programme runs from)."""
    from s1adopt.emulators.fleet import generate_fleet

    try:
        first_day = date.fromisoformat(start)
    except ValueError as exc:
        err.print(f"[red]error:[/red] --start {start!r} is not a date like 2026-12-01")
        raise typer.Exit(2) from exc
    application = Application(Settings())
    public_key = guard(lambda: application.keyring.transport_public_key)
    with RichProgress() as progress:
        progress.start("generating fleet", installations)
        try:
            summary = generate_fleet(
                out_dir,
                installations,
                fault_rate,
                seed,
                public_key,
                progress.advance,
                dormant_rate=dormant_rate,
                suppliers=suppliers,
                unauthorised_rate=unauthorised_rate,
                start=first_day,
            )
        except ValueError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
    out.print(f"fleet of {summary.total:,} installations in {out_dir}")
    for path in summary.files:
        out.print(f"  migration file: {path}")
    if summary.registration_file is not None:
        out.print(f"  registration data: {summary.registration_file}")
    if summary.exchange_dir is not None:
        out.print(
            f"  exchange: {summary.exchange_dir} ({len(summary.suppliers)} suppliers, "
            f"{summary.unauthorised:,} installations left unauthorised)"
        )
    out.print(f"  expected outcomes: {out_dir / 'expected.json'}")


@fleet_app.command("verify")
def fleet_verify(
    fleet_dir: Annotated[Path, typer.Argument(help="A generated fleet (with expected.json)")],
    db: DbOption = None,
) -> None:
    """Compare every installation's outcome in the store with the fleet's expected.json;
    exit 0 only when all are equal (a table of the differences otherwise)."""
    expected_path = fleet_dir / "expected.json"
    try:
        expected: dict[str, str] = json.loads(expected_path.read_text())["installations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        err.print(f"[red]error:[/red] {expected_path} is not a generated fleet's expected.json")
        raise typer.Exit(2) from exc
    application = Application(settings_for(db))
    actual = guard(
        lambda: {o.reference: o.outcome for o in application.queries.installation_outcomes(None)}
    )
    differences = [
        (reference, want, actual.get(reference, "(not in the store)"))
        for reference, want in sorted(expected.items())
        if actual.get(reference) != want
    ]
    if not differences:
        out.print(f"all {len(expected):,} outcomes equal {expected_path}")
        return
    table = Table(title=f"{len(differences):,} of {len(expected):,} outcomes differ")
    for column in ("installation", "expected", "in the store"):
        table.add_column(column)
    for row in differences[:50]:
        table.add_row(*row)
    out.print(table)
    raise typer.Exit(1)


@keys_app.command("init")
def keys_init() -> None:
    """Create the service's keys if absent: the vault key, the migration transport key pair,
    and the DSP's and the S1SP's XML-signing keys with their certificates (unless
    S1ADOPT_DSP_KEY/CERT or S1ADOPT_S1SP_KEY/CERT point at others, e.g. the public test DSP's)."""
    application = Application(Settings())
    settings = application.settings
    public = guard(lambda: application.keyring.transport_public_key)
    out.print(
        f"keys in {settings.key_dir}; migration transport public key (X25519, hex): {public.hex()}"
    )
    for name, identity, configured in (
        ("DSP", lambda: application.dsp, settings.dsp_cert),
        ("S1SP", lambda: application.s1sp, settings.s1sp_cert),
    ):
        signer = guard(identity)
        where = configured or settings.key_dir / f"{name.lower()}.pem"
        out.print(
            f"{name} signing certificate: issuer {signer.issuer}, serial "
            f"{signer.certificate.serial_number} ({where})",
            soft_wrap=True,
        )


@app.command()
def demo(
    installations: Annotated[int, typer.Option(help="Installations in the fleet", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the fleet")] = 1,
    fault_rate: Annotated[float, typer.Option(help="Share of faulty installations")] = 0.05,
    dormant_rate: Annotated[float, typer.Option(help="Share of dormant installations")] = 0.03,
    workdir: Annotated[Path, typer.Option(help="Where the demo keeps its files")] = Path(
        "s1adopt-demo"
    ),
    days: Annotated[int, typer.Option(help="Migration days of the first act", min=3)] = 6,
    plain: Annotated[
        bool, typer.Option(help="The plain story instead: `migrate` the whole fleet at once")
    ] = False,
) -> None:
    """The migration programme's story: a generated fleet of three suppliers served by
    emulated head ends, migrated day by day from the exchange, checked against expected.json."""
    if plain:
        code = guard(
            lambda: demo_module.run_demo(
                workdir, installations, seed, fault_rate, out, dormant_rate
            )
        )
    else:
        code = guard(
            lambda: run_programme_demo(
                workdir, installations, seed, fault_rate, out, dormant_rate, days
            )
        )
    raise typer.Exit(code)


def main() -> None:
    """Run the CLI."""
    app(prog_name="s1adopt")


if __name__ == "__main__":
    main()
