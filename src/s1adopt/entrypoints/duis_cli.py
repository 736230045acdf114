"""DUIS commands: ``gateway serve``, ``users add|list|suspend|activate``, and the client tools
``duis sign|verify|send`` with the operator's ``duis requests|show|release|delete`` (the
device service's ``duis request|listen|responses|...`` are in ``device_cli``)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from s1adopt.domain.errors import InvalidRequest
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import parse_roles
from s1adopt.entrypoints import device_cli
from s1adopt.entrypoints.api.app import RUN_DEVICE_SERVICE
from s1adopt.entrypoints.api.device_process import run_device_service
from s1adopt.entrypoints.duis_client import send_request, sign_file, verify_file
from s1adopt.entrypoints.errors import guard
from s1adopt.entrypoints.options import DbOption, application_for
from s1adopt.services.duis.ports import StoredRequest
from s1adopt.services.duis.users import UserView, add_user, list_users, set_status

gateway_app = typer.Typer(help="The DUIS gateway.", no_args_is_help=True)
users_app = typer.Typer(help="DUIS users and their certificates.", no_args_is_help=True)
duis_app = typer.Typer(
    help="Client tools (sign, verify, send, request, listen) and the operator's view of "
    "requests, commands and responses.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


@gateway_app.command("serve")
def gateway_serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8079)", min=1, max=65535)] = None,
    headend: Annotated[
        str | None,
        typer.Option(help="Control address of the head ends (used by device requests)"),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes", min=1, max=64)] = 1,
    db: DbOption = None,
) -> None:
    """Serve the DUIS endpoints (POST /api/v1/serviceS|serviceD|serviceT, GET /health,
    GET /metrics) until stopped."""
    import os

    import uvicorn

    app = application_for(db)
    settings = app.settings
    guard(lambda: (app.engine, app.dsp, app.request_validators()))  # fail early, clearly
    if db:
        os.environ["S1ADOPT_DATABASE_URL"] = db
    if headend:
        os.environ["S1ADOPT_HEADEND_URL"] = headend
    listen_host = host or settings.gateway_host
    listen_port = port or settings.gateway_port
    os.environ["S1ADOPT_GATEWAY_HOST"] = listen_host
    os.environ["S1ADOPT_GATEWAY_PORT"] = str(listen_port)
    reach = headend or settings.headend_url
    runner = None
    if settings.broker_url:  # a cluster: `s1adopt scheduler` works the queues, one at a time
        os.environ.pop(RUN_DEVICE_SERVICE, None)
    elif workers == 1:
        os.environ[RUN_DEVICE_SERVICE] = "1"  # the device service runs in the server's process
    else:
        os.environ.pop(RUN_DEVICE_SERVICE, None)
        runner = multiprocessing.get_context("spawn").Process(
            target=run_device_service, name="s1adopt-device-service", daemon=True
        )
        runner.start()
    err.print(f"DUIS gateway on http://{listen_host}:{listen_port}/api/v1/serviceS|D|T")
    if settings.broker_url:
        err.print("device service: run by `s1adopt scheduler` (S1ADOPT_BROKER_URL is set)")
    else:
        err.print(
            f"device service: head ends at {reach}"
            if reach
            else "device service: no head ends (--headend URL): device requests are answered E20"
        )
    uvicorn.run(
        "s1adopt.entrypoints.api.app:app_from_environment",
        factory=True,
        host=listen_host,
        port=listen_port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
    if runner is not None:
        runner.terminate()
        runner.join(timeout=30)


@users_app.command("add")
def users_add(
    eui: Annotated[str, typer.Option(help="The user's EUI-64")],
    role: Annotated[list[str], typer.Option(help="A role: IS ES GS ED GT OU RSA (repeat)")],
    cert: Annotated[Path, typer.Option(help="The user's XML-signing certificate (PEM)")],
    endpoint: Annotated[
        str | None, typer.Option(help="Where its asynchronous responses and alerts go")
    ] = None,
    name: Annotated[str | None, typer.Option(help="The user's name")] = None,
    code: Annotated[str | None, typer.Option(help="Short code (letters and digits)")] = None,
    db: DbOption = None,
) -> None:
    """Add a user (or a certificate and roles to a known party)."""
    app = application_for(db)

    def run() -> UserView:
        user = Eui64.parse(eui)
        roles = parse_roles(" ".join(role))
        try:
            pem = cert.read_bytes()
        except OSError as exc:
            raise InvalidRequest(f"cannot read {cert}: {exc.strerror}") from exc
        return add_user(app.unit_of_work, app.clock, user, roles, pem, endpoint, name, code)

    view = guard(run)
    out.print(f"user {view.party.eui}: roles {_roles(view)}, {len(view.certificates)} certificates")


@users_app.command("list")
def users_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """The users with their roles, status, endpoint and certificates."""
    app = application_for(db)
    views = guard(lambda: list_users(app.unit_of_work))
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "eui": v.party.eui.value,
                        "code": v.party.short_code,
                        "name": v.party.name,
                        "roles": sorted(r.value for r in v.party.roles),
                        "status": v.party.status.value,
                        "endpoint": v.endpoint,
                        "certificates": [
                            {"issuer": i, "serial": str(s)} for i, s in v.certificates
                        ],
                    }
                    for v in views
                ]
            )
        )
        return
    table = Table(title="DUIS users")
    for column in ("EUI-64", "code", "roles", "status", "endpoint", "certificates"):
        table.add_column(column)
    for v in views:
        table.add_row(
            v.party.eui.value,
            v.party.short_code,
            _roles(v),
            v.party.status.value,
            v.endpoint or "-",
            "\n".join(f"{i} #{s}" for i, s in v.certificates) or "-",
        )
    out.print(table)


@users_app.command("suspend")
def users_suspend(
    eui: Annotated[str, typer.Argument(help="The user's EUI-64")], db: DbOption = None
) -> None:
    """Suspend a user: its requests are refused (E3)."""
    app = application_for(db)
    view = guard(lambda: set_status(app.unit_of_work, app.clock, Eui64.parse(eui), False))
    out.print(f"user {view.party.eui} is {view.party.status}")


@users_app.command("activate")
def users_activate(
    eui: Annotated[str, typer.Argument(help="The user's EUI-64")], db: DbOption = None
) -> None:
    """Activate a suspended user."""
    app = application_for(db)
    view = guard(lambda: set_status(app.unit_of_work, app.clock, Eui64.parse(eui), True))
    out.print(f"user {view.party.eui} is {view.party.status}")


def _roles(view: UserView) -> str:
    return " ".join(sorted(r.value for r in view.party.roles))


@duis_app.command("sign")
def duis_sign(
    request: Annotated[Path, typer.Argument(help="A DUIS request (XML), signed or not")],
    key: Annotated[Path, typer.Option(help="Your signing key (PKCS#8 DER or PEM)")],
    cert: Annotated[Path, typer.Option(help="Your certificate (PEM)")],
    output: Annotated[
        Path | None, typer.Option("--out", help="Write here (default stdout)")
    ] = None,
) -> None:
    """Sign a request as DCC's rules say (compact form, enveloped ECDSA P-256 signature)."""
    signed = guard(lambda: sign_file(request, key, cert))
    if output is None:
        typer.echo(signed.decode())
    else:
        output.write_bytes(signed)
        err.print(f"signed: {output}")


@duis_app.command("verify")
def duis_verify(
    document: Annotated[Path, typer.Argument(help="A signed DUIS request or response")],
    cert: Annotated[Path, typer.Option(help="The signer's certificate (PEM)")],
) -> None:
    """Verify a signed document with its signer's certificate (exit 1 if it does not)."""
    problem = guard(lambda: verify_file(document, cert))
    if problem:
        err.print(f"[red]not verified:[/red] {problem}")
        raise typer.Exit(1)
    out.print("verified")


@duis_app.command("send")
def duis_send(
    request: Annotated[Path, typer.Argument(help="A DUIS request (XML)")],
    url: Annotated[str, typer.Option(help="The gateway, e.g. http://127.0.0.1:8079")],
    key: Annotated[Path | None, typer.Option(help="Sign first with this key")] = None,
    cert: Annotated[Path | None, typer.Option(help="... and this certificate")] = None,
    dsp_cert: Annotated[
        Path | None, typer.Option(help="Verify the response with the DSP's certificate")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="serviceS, serviceD or serviceT (default: by variant)")
    ] = None,
) -> None:
    """Send a request to the gateway and print the response (exit 1 on an E code)."""
    result = guard(lambda: send_request(request, url, key, cert, dsp_cert, endpoint))
    typer.echo(result.body.decode(errors="replace"))
    err.print(
        f"HTTP {result.status}, response code {result.code}"
        + (f", signature {result.verified}" if result.verified else "")
        + (f": {result.message}" if result.message else "")
    )
    if result.code.startswith("E") or result.status >= 400:
        raise typer.Exit(1)


@duis_app.command("requests")
def duis_requests(
    status: Annotated[
        str | None, typer.Option(help="answered, quarantined, released or deleted")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    db: DbOption = None,
) -> None:
    """The requests the gateway recorded, newest first."""
    app = application_for(db)

    def read() -> list[StoredRequest]:
        with app.unit_of_work() as uow:
            return uow.duis.requests(status, limit)

    records = guard(read)
    if as_json:
        print(json.dumps([_record_json(r) for r in records]))
        return
    table = Table(title="DUIS requests")
    for column in ("record", "received", "RequestID", "SRV", "CV", "endpoint", "code", "status"):
        table.add_column(column)
    for r in records:
        table.add_row(
            str(r.record_id),
            r.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.request_id or "-",
            r.srv or "-",
            str(r.command_variant or "-"),
            r.endpoint,
            r.response_code,
            r.status,
        )
    out.print(table)


@duis_app.command("show")
def duis_show(
    record: Annotated[int, typer.Argument(help="The request's record number")],
    db: DbOption = None,
) -> None:
    """One recorded request: each check's verdict and the response."""
    app = application_for(db)

    def read() -> StoredRequest | None:
        with app.unit_of_work() as uow:
            return uow.duis.request_by_record(record)

    found = guard(read)
    if found is None:
        err.print(f"[red]error:[/red] no request record {record}")
        raise typer.Exit(3)
    print(json.dumps(_record_json(found, full=True), indent=2))


@duis_app.command("release")
def duis_release(
    record: Annotated[int, typer.Argument(help="A quarantined request's record number")],
    db: DbOption = None,
) -> None:
    """Release a quarantined request: it is answered after all."""
    app = application_for(db)
    released = guard(lambda: app.gateway().release(record))
    out.print(f"record {record} released; answer {_code_of(released)}")


@duis_app.command("delete")
def duis_delete(
    record: Annotated[int, typer.Argument(help="A quarantined request's record number")],
    db: DbOption = None,
) -> None:
    """Delete a quarantined request: it is never carried out."""
    app = application_for(db)
    guard(lambda: app.gateway().delete(record))
    out.print(f"record {record} deleted")


def _code_of(record: StoredRequest) -> str:
    return next((v for c, v in reversed(record.verdicts) if c == "released"), record.response_code)


def _record_json(r: StoredRequest, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "record": r.record_id,
        "receivedAt": r.received_at.isoformat(),
        "requestId": r.request_id,
        "originator": r.originator,
        "srv": r.srv,
        "commandVariant": r.command_variant,
        "endpoint": r.endpoint,
        "responseCode": r.response_code,
        "status": r.status,
    }
    if full:
        data["verdicts"] = [{"check": c, "verdict": v} for c, v in r.verdicts]
        data["response"] = r.response.decode(errors="replace")
    return data


def register(app: typer.Typer) -> None:
    """Add the DUIS commands to the CLI."""
    app.add_typer(gateway_app, name="gateway")
    app.add_typer(users_app, name="users")
    device_cli.register(duis_app)
    app.add_typer(duis_app, name="duis")
