"""``s1adopt emulator``: serve emulated SMSO head ends and read their counters."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from s1adopt.entrypoints import event_loop

emulator_app = typer.Typer(help="Emulated SMSO head ends.", no_args_is_help=True)
err = Console(stderr=True)
MAX_STATS_BYTES = 512 * 1024 * 1024


@emulator_app.command("serve")
def serve(
    fleet_dir: Annotated[Path, typer.Argument(help="Fleet directory from `fleet generate`")],
    host: Annotated[str, typer.Option(help="Loopback address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Control port (0: any free port)")] = 8700,
    wan_delay: Annotated[
        float | None,
        typer.Option(help="Seconds every answer takes over the WAN (default: each model's)"),
    ] = None,
    session_limit: Annotated[
        int | None, typer.Option(help="Sessions every head end carries (default: the fleet's)")
    ] = None,
) -> None:
    """Serve the fleet's head ends; the control address tells where each one listens."""
    from s1adopt.emulators.runner import serve_emulator
    from s1adopt.emulators.world.core import HeadEndSettings

    if wan_delay is not None and not 0 <= wan_delay <= 600:
        err.print(f"[red]error:[/red] --wan-delay {wan_delay} is not 0 to 600 seconds")
        raise typer.Exit(2)
    if session_limit is not None and not 1 <= session_limit <= 100_000:
        err.print(f"[red]error:[/red] --session-limit {session_limit} is not 1 to 100000")
        raise typer.Exit(2)
    settings = HeadEndSettings(wan_delay=wan_delay, session_limit=session_limit)

    def ready(url: str) -> None:
        print(f"control: {url}", flush=True)

    try:
        event_loop.run(serve_emulator(fleet_dir, host, port, ready, settings=settings))
    except KeyboardInterrupt:
        pass
    except (ValueError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(4) from exc


def fetch_stats(headend: str) -> dict[str, Any]:
    """The emulator's counters from its control address."""
    url = headend.rstrip("/") + "/stats"
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{headend!r} is not an http:// control address")
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - scheme checked
        stats: dict[str, Any] = json.loads(response.read(MAX_STATS_BYTES))
    return stats


@emulator_app.command("stats")
def stats(
    headend: Annotated[str, typer.Option(help="Control address, e.g. http://127.0.0.1:8700")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The emulator's counters, including credential replacements per device."""
    try:
        data = fetch_stats(headend)
    except (ValueError, OSError, urllib.error.URLError) as exc:
        err.print(f"[red]error:[/red] cannot read {headend}/stats: {exc}")
        raise typer.Exit(4) from exc
    if as_json:
        print(json.dumps(data))
        return
    table = Table(title=f"Emulator counters at {headend}")
    table.add_column("counter")
    table.add_column("value", justify="right")
    for key, value in data.get("totals", {}).items():
        table.add_row(key, f"{value:,}")
    Console().print(table)
