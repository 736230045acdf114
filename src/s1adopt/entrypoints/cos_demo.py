"""``s1adopt demo``, the change-of-supplier act: after the migration, a customer of each cohort
switches supplier and the meter follows, through DUIS.

The story, for one migrated electricity meter of each cohort (IOC, MOC, FOC):

1. its supplier reads the registers (4.1.1): ``I99``, then the signed SMETS1 response (``I0``)
   at the supplier's endpoint;
2. the registration data provider's file makes another supplier responsible for the meter
   point from today, and the service takes it in;
3. the old supplier's read is refused (``E4``: no longer the responsible party), and so is the
   new supplier's (``E43``: the device still holds the old supplier's credentials);
4. the new supplier's 6.23 (update security credentials) replaces them through the head end:
   ``I99``, then ``I0`` and an S1SP alert saying so;
5. the new supplier reads the registers (``I0``); the old supplier is still refused (``E4``).

The suppliers are DUIS users with keys and certificates made here; their endpoint is an HTTP
server in this process that verifies each document's DSP and S1SP signatures. The device
service runs in this process on the emulated head ends. The act passes when every answer is
the one expected, every document verified, and the emulator saw each of these meters'
credentials replaced exactly once more and no other device's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from rich import box
from rich.console import Console
from rich.table import Table

from s1adopt.bootstrap import Application
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.errors import ConfigurationError
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, Role
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.emulators.parties import REGISTRATION_DATA_PROVIDER
from s1adopt.entrypoints.device_client import Signer, body_of, signed_request, time_counter
from s1adopt.entrypoints.device_listener import Inbox, Received
from s1adopt.entrypoints.emulator_cli import fetch_stats
from s1adopt.formats.duis.certificates import (
    certificate_pem,
    issuer_name,
    new_signing_identity,
)
from s1adopt.formats.duis.device_requests import example_values
from s1adopt.formats.exchange.registration import (
    RegistrationFileWriter,
    RegistrationHeader,
    registration_file_name,
)
from s1adopt.services.duis.users import add_user

COHORTS = ("IOC", "MOC", "FOC")
SUPPLIER_ROLES = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
ARRIVAL_TIMEOUT = 90.0  # seconds to wait for a response at an endpoint
READ = "4.1.1"
CHANGE = "6.23"
REFUSALS = {
    "E4": "not its supplier now",
    "E43": "old supplier's credentials",
}


@dataclass(frozen=True, slots=True)
class Meter:
    """A migrated electricity meter and who supplies it, before and after the change."""

    cohort: str
    reference: str
    device: Eui64
    mpan: str
    network_operator: Eui64
    old: Eui64
    new: Eui64


@dataclass
class Supplier:
    """A supplier as a DUIS user: its signing key and what reached its endpoint."""

    code: str
    signer: Signer
    inbox: Inbox
    received: list[Received] = field(default_factory=list)
    counter: int = 0

    def signed(
        self, srv: str, device: Eui64, values: dict[str, Any], now: datetime
    ) -> tuple[str, bytes]:
        """(RequestID, the signed CV1 request)."""
        self.counter = max(self.counter + 1, time_counter())
        given = values or example_values(srv, DeviceType.ESME.value, now=now)
        body = body_of(srv, given, DeviceType.ESME.value)
        return signed_request(self.signer, device, srv, 1, body, self.counter)

    @property
    def eui(self) -> Eui64:
        """The supplier's EUI-64."""
        return self.signer.user

    def arrived(self, request_id: str) -> Received | None:
        """The response to ``request_id`` that reached the endpoint, if it has."""
        return next((r for r in self.received if r.summary.reference == request_id), None)


@dataclass(frozen=True, slots=True)
class Step:
    """One request of the story and what came of it."""

    cohort: str
    who: str
    srv: str
    expected: str  # "E4", or "I99, I0": accepted, then the response at the endpoint
    answer: str
    carries: str
    ok: bool


def choose_meters(app: Application, outcomes: dict[str, str], day: date) -> list[Meter]:
    """One commissioned electricity meter per cohort, and another supplier to take it over."""
    with app.unit_of_work() as uow:
        suppliers = sorted(
            (p.eui for p in uow.programme.parties() if Role.IMPORT_SUPPLIER in p.roles),
            key=lambda e: e.value,
        )
    chosen: dict[str, Meter] = {}
    for reference, outcome in sorted(outcomes.items()):
        if outcome != "commissioned":
            continue
        view = app.queries.find_installation(reference)
        if view is None or view.cohort in chosen or view.cohort not in COHORTS:
            continue
        esme = [
            d for d in view.devices if d.device_type == "ESME" and d.smi_status == "Commissioned"
        ]
        mpans = [mpxn for mpxn, kind, _ in view.meter_points if kind == MeterPointKind.MPAN.value]
        if not esme or not mpans:
            continue
        with app.unit_of_work() as uow:
            registered = uow.programme.in_force(mpans[:1], day).get(mpans[0])
        if registered is None or view.party != registered.supplier.value:
            continue  # the meter holds the credentials of the supplier that migrated it
        others = [s for s in suppliers if s != registered.supplier]
        if not others:
            continue
        chosen[view.cohort] = Meter(
            view.cohort,
            reference,
            Eui64.parse(esme[0].device_id),
            mpans[0],
            registered.network_operator,
            registered.supplier,
            others[0],
        )
    return [chosen[c] for c in COHORTS if c in chosen]


def register_change(app: Application, meters: Sequence[Meter], day: date, folder: Path) -> Path:
    """The registration data provider's file making each meter's new supplier responsible from
    ``day``, taken in as any registration file is."""
    provider = REGISTRATION_DATA_PROVIDER.eui
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / registration_file_name("COS1", provider, day)
    header = RegistrationHeader("COS1", provider, datetime.now(UTC), len(meters))
    with RegistrationFileWriter(path, header) as writer:
        for m in meters:
            writer.write(
                RegistrationRecord(m.mpan, MeterPointKind.MPAN, m.new, m.network_operator, day)
            )
    app.load_registration(path)
    return path


def make_suppliers(
    app: Application, meters: Sequence[Meter], endpoint_url: str, keep: Path
) -> dict[Eui64, Supplier]:
    """Each supplier of the story as a DUIS user with a fresh key and certificate, its
    endpoint at ``endpoint_url``/<EUI-64 hex>."""
    with app.unit_of_work() as uow:
        parties: dict[Eui64, Party] = {p.eui: p for p in uow.programme.parties()}
    dsp = app.dsp.certificate.public_key()
    s1sp = app.s1sp.certificate.public_key()
    if not isinstance(dsp, ec.EllipticCurvePublicKey) or not isinstance(
        s1sp, ec.EllipticCurvePublicKey
    ):
        raise ConfigurationError("the DSP's and the S1SP's keys must be ECDSA P-256")
    suppliers: dict[Eui64, Supplier] = {}
    for eui in sorted({m.old for m in meters} | {m.new for m in meters}, key=lambda e: e.value):
        party = parties.get(eui)
        code = party.short_code if party is not None else eui.value
        key, cert = new_signing_identity(eui, f"{code} DUIS signing", "87")
        add_user(
            app.unit_of_work,
            app.clock,
            eui,
            SUPPLIER_ROLES,
            certificate_pem(cert),
            f"{endpoint_url}/{eui.hex}",
        )
        inbox = Inbox(dsp, s1sp, None, keep / eui.hex)
        signer = Signer(eui, key, issuer_name(cert), cert.serial_number)
        suppliers[eui] = Supplier(code, signer, inbox)
    return suppliers


async def serve_endpoints(suppliers: dict[str, Supplier]) -> tuple[web.AppRunner, str]:
    """The suppliers' endpoints on a free loopback port, ``/<EUI-64 hex>`` each (``suppliers``
    by that hex, looked up as documents arrive): (runner, base URL)."""

    async def take(request: web.Request) -> web.Response:
        supplier = suppliers.get(request.match_info["who"].upper())
        if supplier is None:
            return web.Response(status=404)
        received = supplier.inbox.take(await request.read(), datetime.now(UTC))
        supplier.received.append(received)
        return web.Response(status=204 if received.accepted else 400)

    application = web.Application(client_max_size=4 * 1024 * 1024)
    application.router.add_post("/{who}", take)
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


class Story:
    """The requests of the act, sent through the gateway, checked as they are answered."""

    def __init__(self, app: Application, suppliers: dict[Eui64, Supplier]) -> None:
        self._app = app
        self._gateway = app.gateway()
        self._suppliers = suppliers
        self.steps: list[Step] = []

    async def refused(self, meter: Meter, who: Eui64, label: str, code: str) -> None:
        """A read ``who`` sends that must be refused at once with ``code``."""
        supplier = self._suppliers[who]
        _, signed = supplier.signed(READ, meter.device, {}, self._app.clock.now())
        answer = await asyncio.to_thread(
            self._gateway.handle, "serviceS", "application/xml", signed
        )
        self.steps.append(
            Step(
                meter.cohort,
                f"{label} {supplier.code}",
                READ,
                code,
                answer.code,
                REFUSALS.get(answer.code, answer.message[:60]),
                answer.code == code,
            )
        )

    async def served(
        self, meter: Meter, who: Eui64, label: str, srv: str, values: dict[str, Any]
    ) -> None:
        """A request of ``who`` that must be accepted (I99) and answered I0 at its endpoint."""
        supplier = self._suppliers[who]
        request_id, signed = supplier.signed(srv, meter.device, values, self._app.clock.now())
        answer = await asyncio.to_thread(
            self._gateway.handle, "serviceS", "application/xml", signed
        )
        expected = "I99, I0"
        if answer.code != "I99":
            step = Step(
                meter.cohort,
                f"{label} {supplier.code}",
                srv,
                expected,
                answer.code,
                answer.message[:70],
                False,
            )
            self.steps.append(step)
            return
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        arrived = supplier.arrived(request_id)
        while arrived is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            arrived = supplier.arrived(request_id)
        if arrived is None:
            result, carries, ok = "I99, -", f"nothing within {ARRIVAL_TIMEOUT:.0f} s", False
        else:
            result = f"I99, {arrived.summary.code}"
            carries = _values(arrived.summary.carries)
            if not arrived.accepted:
                carries = f"REFUSED: {arrived.problem}"
            ok = (
                arrived.accepted
                and arrived.summary.code == "I0"
                and "MessageSuccess=true" in arrived.summary.carries
            )
        self.steps.append(
            Step(meter.cohort, f"{label} {supplier.code}", srv, expected, result, carries[:70], ok)
        )


async def play(
    app: Application, control: str, meters: Sequence[Meter], workdir: Path, day: date
) -> tuple[list[Step], dict[str, Supplier]]:
    """The act's requests, with the device service running on the emulated head ends."""
    suppliers: dict[str, Supplier] = {}
    runner, base = await serve_endpoints(suppliers)
    try:
        made = make_suppliers(app, meters, base, workdir / "endpoints")
        suppliers.update((s.eui.hex, s) for s in made.values())
        story = Story(app, made)
        stop = asyncio.Event()
        async with app.headend_directory(control) as headends, app.response_endpoint() as out:
            runtime = asyncio.create_task(app.device_runtime(headends, out, None).run(stop))
            try:
                for m in meters:
                    await story.served(m, m.old, "old", READ, {})
                register_change(app, meters, day, workdir / "registration")
                for m in meters:
                    await story.refused(m, m.old, "old", "E4")
                    await story.refused(m, m.new, "new", "E43")
                for m in meters:
                    await story.served(m, m.new, "new", CHANGE, {"importMpxn": m.mpan})
                for m in meters:
                    await story.served(m, m.new, "new", READ, {})
                    await story.refused(m, m.old, "old", "E4")
            finally:
                stop.set()
                await runtime
    finally:
        await runner.cleanup()
    return story.steps, suppliers


def run_change_of_supplier(
    app: Application,
    control: str,
    outcomes: dict[str, str],
    workdir: Path,
    day: date,
    out: Console,
) -> bool:
    """Play the act on ``day`` and print it; True when it went as the module says."""
    meters = choose_meters(app, outcomes, day)
    before = _replacements(fetch_stats(control))
    steps, suppliers = asyncio.run(play(app, control, meters, workdir, day))
    after = _replacements(fetch_stats(control))
    out.print(_table(steps, meters, {s.eui: s.code for s in suppliers.values()}))
    changed = {
        d: after.get(d, 0) - before.get(d, 0) for d in after if after.get(d, 0) != before.get(d, 0)
    }
    wanted = {m.device.hex: 1 for m in meters}
    alerts = sum(
        1
        for s in suppliers.values()
        for r in s.received
        if r.accepted and "S1SP_COS_CREDENTIALS_REPLACED" in r.summary.carries
    )
    refused = sum(s.inbox.refused for s in suppliers.values())
    out.print(
        f"emulator: credentials replaced on {len(changed)} devices during the act "
        f"({sum(changed.values())} replacements); {alerts} S1SP alerts of the change; "
        f"{refused} documents at the endpoints failed their checks"
    )
    problems = []
    if len(meters) < len(COHORTS):
        problems.append(f"only {len(meters)} cohorts had a commissioned meter to switch")
    if not all(s.ok for s in steps):
        problems.append(f"{sum(not s.ok for s in steps)} answers were not those expected")
    if changed != wanted:
        problems.append("the credentials replaced are not exactly one per switched meter")
    if alerts < len(meters):
        problems.append(f"{alerts} S1SP alerts of the change for {len(meters)} meters")
    if refused:
        problems.append(f"{refused} documents did not verify")
    for problem in problems:
        out.print(f"[red]{problem}[/red]")
    if not problems:
        out.print(
            f"[green]the change of supplier went as expected on {len(meters)} meters "
            f"({', '.join(m.cohort for m in meters)}): every answer verified[/green]"
        )
    return not problems


def _replacements(stats: dict[str, Any]) -> dict[str, int]:
    return {
        d.upper(): int(c.get("credential_replacements", 0))
        for d, c in stats.get("devices", {}).items()
    }


def _values(carries: str) -> str:
    """What a response carries, without its message name and success flag."""
    words = [w for w in carries.split() if not w.startswith("MessageSuccess=")]
    rest = " ".join(words[1:])
    if words and words[0].startswith("UpdateSecurityCredentials"):
        return "credentials replaced"
    return rest.replace("ActiveImportRegister=", "import ") or words[0].removesuffix("Rsp")


def _table(steps: Sequence[Step], meters: Sequence[Meter], codes: dict[Eui64, str]) -> Table:
    table = Table(
        title="\n".join(
            f"{m.cohort}: meter {m.device}, MPAN {m.mpan}: {codes[m.old]} -> {codes[m.new]}"
            for m in meters
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    for heading in ("cohort", "who", "SRV", "expected", "answer"):
        table.add_column(heading, no_wrap=True)
    table.add_column("what it said", overflow="fold")
    table.add_column("", no_wrap=True)
    for s in steps:
        table.add_row(
            s.cohort,
            s.who,
            s.srv,
            s.expected,
            s.answer,
            s.carries,
            "ok" if s.ok else "[red]NO[/red]",
        )
    return table
