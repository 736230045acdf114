"""Device-service commands on ``s1adopt duis``: a user's ``request`` and ``listen``, and the
operator's ``responses``, ``response``, ``redeliver`` and ``commands``."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from s1adopt.entrypoints.device_client import (
    body_of,
    device_srv,
    load_signer,
    parse_eui,
    request_values,
    send_device_request,
    signed_request,
    time_counter,
)
from s1adopt.entrypoints.device_listener import Inbox, Received, listen
from s1adopt.entrypoints.duis_client import MAX_DOCUMENT, public_key_of
from s1adopt.entrypoints.errors import guard
from s1adopt.entrypoints.options import DbOption, application_for
from s1adopt.formats.duis.schemas import OfficialSchemas
from s1adopt.services.duis.device_ports import Delivery
from s1adopt.services.duis.outbox import (
    STATUSES,
    RequestCommands,
    find_delivery,
    list_deliveries,
    redeliver,
    request_commands,
)

out = Console()
err = Console(stderr=True)


def duis_request(
    srv: Annotated[str, typer.Argument(help="The SRV, e.g. 4.1.1 or 7.2")],
    device: Annotated[str, typer.Option(help="The target device's EUI-64")],
    user: Annotated[str, typer.Option(help="Your EUI-64 (the RequestID's originator)")],
    key: Annotated[Path, typer.Option(help="Your signing key (PKCS#8 DER or PEM)")],
    cert: Annotated[Path, typer.Option(help="Your certificate (PEM)")],
    url: Annotated[
        str, typer.Option(help="The gateway, e.g. http://127.0.0.1:8079")
    ] = "http://127.0.0.1:8079",
    device_type: Annotated[
        str, typer.Option(help="The device's type, for the example values and the fuel")
    ] = "ESME",
    values: Annotated[
        str | None,
        typer.Option(help="The request values as a JSON object, or @FILE (default: examples)"),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Set a value: KEY=TEXT or KEY:=JSON; a.b reaches inside (repeat)"
        ),
    ] = None,
    counter: Annotated[
        int | None,
        typer.Option(help="The RequestID's counter (default: the time in microseconds)", min=0),
    ] = None,
    execute_at: Annotated[
        str | None, typer.Option(help="Future-date it: an ISO 8601 time (no zone: UTC)")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Write the signed request here instead of sending it"),
    ] = None,
    dsp_cert: Annotated[
        Path | None, typer.Option(help="Verify the gateway's answers with the DSP's certificate")
    ] = None,
) -> None:
    """Send a device request signed with your key (CV1; a critical SRV: CV4, then CV5).

    The body is built from the SRV's example values for --device-type, or from --values, with
    each --set on top. A critical SRV's pre-command is checked against the request and signed
    with the same key. Prints each step's answer; exit 1 on an E code. The response itself
    goes to your registered endpoint (see `duis listen`)."""
    catalogued = guard(lambda: device_srv(srv))
    kind = device_type.strip().upper()
    target = guard(lambda: parse_eui(device, "--device"))
    given = guard(lambda: request_values(catalogued.variant, kind, values, set_ or [], execute_at))
    signer = guard(lambda: load_signer(user, key, cert))
    if output is not None:
        variant = 4 if catalogued.critical else 1
        body = guard(lambda: body_of(catalogued.variant, given, kind))
        request_id, signed = signed_request(
            signer,
            target,
            catalogued.variant,
            variant,
            body,
            counter if counter is not None else time_counter(),
        )
        output.write_bytes(signed)
        err.print(f"CV{variant} request {request_id} written to {output}")
        return
    steps = guard(
        lambda: send_device_request(
            catalogued, target, kind, given, signer, url, counter, dsp_cert, typer.echo
        )
    )
    if dsp_cert is None:
        err.print("(the answers' signatures were not checked: give --dsp-cert)")
    if any(step.failed for step in steps):
        raise typer.Exit(1)


def duis_listen(
    port: Annotated[int, typer.Option(help="Port (0: any free one)", min=0, max=65535)],
    dsp_cert: Annotated[Path, typer.Option(help="The DSP's certificate (PEM)")],
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    s1sp_cert: Annotated[
        Path | None, typer.Option(help="The S1SP's certificate: verify the SMETS1 part too")
    ] = None,
    schema_dir: Annotated[
        Path | None, typer.Option(help="The official DUIS V5.4 schemas: validate against them")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Keep each document in this folder")
    ] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many documents", min=1)] = None,
) -> None:
    """Be your endpoint: take, check and keep the responses and alerts the service POSTs.

    Each document's DSP signature is verified (and the S1SP's, with --s1sp-cert), it is
    validated against the official schemas (with --schema-dir), kept in --out and shown in one
    line; it is answered 204, or 400 when a check fails. Runs until Ctrl-C or --count
    documents; exit 1 if any was refused."""

    def prepare() -> Inbox:
        return Inbox(
            public_key_of(dsp_cert),
            public_key_of(s1sp_cert) if s1sp_cert is not None else None,
            OfficialSchemas(schema_dir) if schema_dir is not None else None,
            output,
            MAX_DOCUMENT,
        )

    inbox = guard(prepare)

    def announce(text: str) -> None:
        err.print(text, soft_wrap=True)
        err.file.flush()

    def report(received: Received) -> None:
        typer.echo(received.line())

    try:
        asyncio.run(listen(inbox, host, port, count, announce, report))
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot listen on {host}:{port}: {exc.strerror}")
        raise typer.Exit(4) from exc
    err.print(f"{inbox.taken} documents taken, {inbox.refused} refused")
    if inbox.refused:
        raise typer.Exit(1)


def duis_responses(
    user: Annotated[str | None, typer.Option(help="Only those for this user (EUI-64)")] = None,
    status: Annotated[str | None, typer.Option(help=" | ".join(STATUSES))] = None,
    request: Annotated[
        str | None, typer.Option(help="Only those for this RequestID (or an alert's ResponseID)")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """The responses and alerts the device service sent or is sending, newest first."""
    app = application_for(db)
    recipient = guard(lambda: parse_eui(user, "--user")) if user else None
    found = guard(
        lambda: list_deliveries(
            app.unit_of_work, recipient=recipient, status=status, reference=request, limit=limit
        )
    )
    if as_json:
        print(json.dumps([_delivery_json(d) for d in found]))
        return
    table = Table(
        title="Device-service responses and alerts, newest first",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1, 0, 0),
    )
    table.add_column("id", justify="right", no_wrap=True)
    for column in ("created", "kind", "code", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("tries", justify="right", no_wrap=True)
    table.add_column("to / reference / last error", overflow="fold")
    for d in found:
        table.add_row(
            str(d.id),
            d.created_at.strftime("%m-%d %H:%M:%S"),
            d.kind,
            d.response_code,
            d.status,
            str(d.attempts),
            "\n".join([d.recipient.value, d.reference, *([d.last_error] if d.last_error else [])]),
        )
    out.print(table)


def duis_response(
    key: Annotated[str, typer.Argument(help="The outbox id, or a RequestID or ResponseID")],
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here (default stdout)")
    ] = None,
    db: DbOption = None,
) -> None:
    """One response or alert as it was (or will be) delivered: the DSP-signed document."""
    app = application_for(db)
    found = guard(lambda: find_delivery(app.unit_of_work, key))
    if found is None:
        err.print(f"[red]error:[/red] no response or alert {key[:80]!r} in the outbox")
        raise typer.Exit(3)
    if output is None:
        typer.echo(found.document.decode(errors="replace"))
        return
    output.write_bytes(found.document)
    err.print(f"response {found.id} ({found.reference}, {found.status}) written to {output}")


def duis_redeliver(
    ids: Annotated[list[int], typer.Argument(help="Outbox ids (see `duis responses`)")],
    db: DbOption = None,
) -> None:
    """Put dead or delivered responses back in line, to be delivered again."""
    app = application_for(db)
    count = guard(lambda: redeliver(app.unit_of_work, app.clock, ids))
    asked = len(set(ids))
    others = "" if count == asked else f" ({asked - count} pending or unknown)"
    out.print(f"{count} of {asked} put back in line{others}")


def duis_commands(
    request_id: Annotated[str, typer.Argument(help="The RequestID (CV4's or CV5's if critical)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """A device request's commands (status, response code, outcome) and its responses."""
    app = application_for(db)
    found = guard(lambda: request_commands(app.unit_of_work, request_id))
    if as_json:
        print(json.dumps(_commands_json(found)))
        return
    if not found.commands and not found.deliveries:
        err.print(f"[red]error:[/red] no commands for {found.asked}")
        raise typer.Exit(3)
    if found.request_id != found.asked:
        out.print(f"{found.asked} transformed: its pre-command was sent as {found.request_id}")
    table = Table(title=f"Commands of {found.request_id}")
    for column in ("command", "status", "code"):
        table.add_column(column)
    table.add_column("outcome", overflow="fold")
    for command in found.commands:
        table.add_row(
            str(command.id), command.status, command.response_code or "-", command.outcome or "-"
        )
    out.print(table)
    for d in found.deliveries:
        out.print(
            f"response {d.id}: {d.response_code} to {d.recipient}, {d.status}"
            f" after {d.attempts} attempts" + (f" ({d.last_error})" if d.last_error else "")
        )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "createdAt": d.created_at.isoformat(),
        "recipient": d.recipient.value,
        "kind": d.kind,
        "reference": d.reference,
        "responseCode": d.response_code,
        "status": d.status,
        "attempts": d.attempts,
        "deliveredAt": d.delivered_at.isoformat() if d.delivered_at else None,
        "lastError": d.last_error,
        "commandId": d.command_id,
    }


def _commands_json(found: RequestCommands) -> dict[str, Any]:
    return {
        "requestId": found.request_id,
        "asked": found.asked,
        "commands": [
            {
                "id": c.id,
                "status": c.status,
                "responseCode": c.response_code,
                "outcome": c.outcome,
            }
            for c in found.commands
        ],
        "responses": [_delivery_json(d) for d in found.deliveries],
    }


def register(duis_app: typer.Typer) -> None:
    """Add the device-service commands to ``s1adopt duis``."""
    duis_app.command("request")(duis_request)
    duis_app.command("listen")(duis_listen)
    duis_app.command("responses")(duis_responses)
    duis_app.command("response")(duis_response)
    duis_app.command("redeliver")(duis_redeliver)
    duis_app.command("commands")(duis_commands)
