"""A device-service test world: a migrated emulated fleet of the three cohorts, the gateway
with the device service on it, the public test PKI's users, and a real HTTP listener at the
users' endpoint (which can be told to fail for a while).

Everything is the product's own code wired by ``bootstrap.Application``: the emulator serves
its head ends on loopback, the fleet is migrated through them, and requests are POSTed over
HTTP to the gateway's own ASGI application (``entrypoints/api/app.py``) served by uvicorn on
loopback in this process; the head ends push their alerts to its ``/internal/headend-alerts``.
The tests work the device service's queues themselves (``work_until``), so that they decide
when commands run.
"""

from __future__ import annotations

import asyncio
import socket
import time as time_module
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvicorn
from aiohttp import web
from lxml import etree

from s1adopt.bootstrap import Application
from s1adopt.config import Settings
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.duis import DSIG_NAMESPACE, DUIS_NAMESPACE, MMC_NAMESPACE
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Role
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.runner import RunningEmulator, running_emulator
from s1adopt.entrypoints.api.app import create_app
from s1adopt.formats.duis import precommand
from s1adopt.formats.duis.certificates import issuer_name, load_certificate, load_private_key
from s1adopt.formats.duis.device_requests import build_body, example_values
from s1adopt.formats.duis.envelope import request_document
from s1adopt.formats.duis.schemas import OfficialSchemas
from s1adopt.formats.duis.smets1 import embedded
from s1adopt.formats.duis.xmldsig import sign, verify
from s1adopt.services.duis.gateway import Answer
from s1adopt.services.duis.users import add_user
from tests.conftest import SHARED

DUIS = SHARED / "duis"
KEYS = DUIS / "keys"
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
NETWORK = Eui64.parse("90-B3-D5-1F-30-02-00-00")
DSP = Eui64.parse("90-B3-D5-1F-30-00-00-02")
USERS = {
    SUPPLIER: frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}),
    NETWORK: frozenset({Role.ELECTRICITY_DISTRIBUTOR, Role.GAS_TRANSPORTER}),
}
NS = {"sr": DUIS_NAMESPACE, "ra": MMC_NAMESPACE, "ds": DSIG_NAMESPACE}


def key_file(eui: Eui64, suffix: str) -> Path:
    """The public test PKI's key (``.key``) or certificate (``.pem``) of a user."""
    return KEYS / f"xml-sign-{eui.value.replace('-', '')}-ds{suffix}"


@dataclass
class Listener:
    """A user's endpoint: keeps every POSTed document; fails the next ``failures`` POSTs."""

    received: list[bytes] = field(default_factory=list)
    failures: int = 0  # the next POSTs answered 503 (worth trying again)
    reject: int = 0  # the next POSTs answered 400 (the document refused)
    refused: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.reject > 0:
            self.reject -= 1
            self.refused += 1
            return web.Response(status=400)
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            return web.Response(status=503)
        self.received.append(body)
        return web.Response(status=204)


@dataclass
class Meter:
    """A migrated meter of the fleet."""

    device: Eui64
    device_type: DeviceType
    cohort: str
    manufacturer: str
    model: str


@dataclass
class DeviceWorld:
    """The running world (see the module docstring)."""

    app: Application
    emulator: RunningEmulator
    listener: Listener
    tmp: Path
    meters: list[Meter]
    gateway_url: str = ""
    client: httpx.AsyncClient | None = None
    counters: dict[Eui64, int] = field(default_factory=dict)
    identities: dict[Eui64, tuple[Any, Any]] = field(default_factory=dict)

    # --- requests --------------------------------------------------------------------------------

    def request(
        self,
        srv: str,
        device: Eui64,
        values: Mapping[str, Any] | None = None,
        *,
        user: Eui64 = SUPPLIER,
        variant: int = 1,
        device_type: DeviceType = DeviceType.ESME,
        body: etree._Element | None = None,
    ) -> tuple[str, bytes]:
        """(RequestID, signed request) for ``srv`` on ``device``."""
        counter = self.counters.get(user, time_module.time_ns() // 1000) + 1
        self.counters[user] = counter
        request_id = f"{user.value}:{device.value}:{counter}"
        if body is None:
            given = (
                dict(values)
                if values is not None
                else example_values(srv, device_type.value, now=datetime.now(UTC))
            )
            body = build_body(srv, given, device_type.value)
        root = request_document(request_id, variant, srv, body)
        key, cert = self.identity(user)
        return request_id, sign(root, key, issuer_name(cert), cert.serial_number)

    def identity(self, user: Eui64) -> tuple[Any, Any]:
        """The user's signing key and certificate."""
        if user not in self.identities:
            key = load_private_key(key_file(user, ".key").read_bytes())
            cert = load_certificate(key_file(user, ".pem").read_bytes())
            self.identities[user] = (key, cert)
        return self.identities[user]

    async def send(self, endpoint: str, signed: bytes) -> Answer:
        """The gateway's answer to ``signed`` POSTed to ``/api/v1/<endpoint>``."""
        assert self.client is not None
        answer = await self.client.post(
            f"{self.gateway_url}/api/v1/{endpoint}",
            content=signed,
            headers={"Content-Type": "application/xml"},
        )
        return Answer(
            answer.status_code,
            answer.content,
            answer.headers.get("X-DUIS-Response-Code", ""),
            answer.headers.get("X-DUIS-Message", ""),
            answer.headers.get("Content-Type", ""),
        )

    async def critical(
        self,
        srv: str,
        device: Eui64,
        values: Mapping[str, Any] | None = None,
        *,
        user: Eui64 = SUPPLIER,
        device_type: DeviceType = DeviceType.ESME,
        tamper: bool = False,
    ) -> tuple[Answer, Answer]:
        """CV4 then CV5 with the pre-command signed by the user (changed first if
        ``tamper``): (transform answer, command answer)."""
        _, transform = self.request(
            srv, device, values, user=user, variant=4, device_type=device_type
        )
        first = await self.send("serviceT", transform)
        payload = pre_command_of(first.body)
        if tamper:
            payload = payload.replace(b'"srv"', b'"srv" ', 1)
        key, _ = self.identity(user)
        signed = precommand.sign(payload, key)
        _, command = self.request(
            srv,
            device,
            user=user,
            variant=5,
            body=precommand.signed_pre_command_element(signed),
        )
        return first, await self.send("serviceS", command)

    # --- working the queues -----------------------------------------------------------------

    async def work(self, expected: int, timeout: float = 60.0) -> list[bytes]:
        """Work the queues and deliver until the listener holds ``expected`` documents."""
        await self.work_until(lambda: len(self.listener.received) >= expected, timeout)
        return self.listener.received

    async def responses(self, request_ids: set[str], timeout: float = 60.0) -> list[bytes]:
        """Work the queues and deliver until the responses to these requests arrived; them
        (each request's, in arrival order; other documents are left aside)."""

        def arrived() -> list[bytes]:
            return [d for d in self.listener.received if request_id_of(d) in request_ids]

        await self.work_until(lambda: len(arrived()) >= len(request_ids), timeout)
        return arrived()

    async def work_until(self, done: Callable[[], bool], timeout: float = 60.0) -> None:
        """Work the queues and deliver until ``done()``."""
        deadline = time_module.monotonic() + timeout
        async with self.app.headend_directory(self.emulator.control_url) as headends:
            service = self.app.device_service(headends)
            async with self.app.response_endpoint() as endpoint:
                deliverer = self.app.deliverer(endpoint)
                while not done():
                    if time_module.monotonic() > deadline:
                        raise AssertionError(
                            f"not everything arrived: {len(self.listener.received)} documents"
                        )
                    await service.drain(headends.smsos)
                    await deliverer.deliver_once()
                    await asyncio.sleep(0.05)

    def device_requests(self, device: Eui64) -> int:
        """Requests the emulated device has received so far (its own counter)."""
        for headend in self.emulator.world.headends:
            found = headend.devices.get(device.hex)
            if found is not None:
                return int(found.requests)
        raise AssertionError(f"no emulated device {device}")

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the emulator's control API."""
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.emulator.control_url + path, json=body) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json() if response.content_type == "application/json" else None

    # --- reading what arrived ---------------------------------------------------------------

    def verified(self, document: bytes) -> etree._Element:
        """The document, its DSP and S1SP signatures verified and the official schemas
        satisfied (AssertionError otherwise)."""
        root = etree.fromstring(document)
        verify(root, self.app.dsp.certificate.public_key())
        part = embedded(root)
        if part is not None:
            verify(part, self.app.s1sp.certificate.public_key())
        OfficialSchemas(DUIS / "schema").validate(root)
        return root

    def meters_of(self, device_type: DeviceType) -> list[Meter]:
        """The fleet's migrated meters of one type, one per cohort and model."""
        return [m for m in self.meters if m.device_type is device_type]


def pre_command_of(response: bytes) -> bytes:
    """The pre-command a CV4 response carries."""
    root = etree.fromstring(response)
    element = root.find(".//sr:PreCommand", NS)
    assert element is not None, response[:400]
    return precommand.payload_of(element)


def response_code(document: bytes) -> str:
    """The ResponseCode of a DUIS Response."""
    root = etree.fromstring(document)
    return root.findtext("sr:Header/sr:ResponseCode", namespaces=NS) or ""


def request_id_of(document: bytes) -> str | None:
    """The RequestID of a DUIS Response."""
    return etree.fromstring(document).findtext("sr:Header/sr:RequestID", namespaces=NS)


@asynccontextmanager
async def device_world(
    tmp: Path, installations: int = 24, seed: int = 5, database_url: str | None = None
) -> AsyncIterator[DeviceWorld]:
    """Generate, serve and migrate a fleet; start the users' endpoint; yield the world (on
    ``database_url``, by default a SQLite file)."""
    dsp_stem = KEYS / "dsp-xml-sign-90B3D51F30000002-ds"
    settings = Settings(
        database_url=database_url or f"sqlite:///{tmp / 's1adopt.db'}",
        key_dir=tmp / "keys",
        report_dir=tmp / "reports",
        duis_schema_dir=DUIS / "schema",
        dsp_key=dsp_stem.with_suffix(".key"),
        dsp_cert=dsp_stem.with_suffix(".pem"),
        headend_timeout=2.0,
        headend_retries=1,
        device_deadline=20.0,
        delivery_max_backoff=0.2,
    )
    app = Application(settings)
    fleet = tmp / "fleet"
    generate_fleet(
        fleet, installations, 0.0, seed, app.keyring.transport_public_key, dormant_rate=0.0
    )
    listener = Listener()
    async with AsyncExitStack() as stack:
        emulator = await stack.enter_async_context(running_emulator(fleet, no_answer_delay=0.2))
        web_app = web.Application()
        web_app.router.add_post("/responses", listener.handle)
        runner = web.AppRunner(web_app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        listener.url = f"http://127.0.0.1:{port}/responses"
        gateway_url = await stack.enter_async_context(serving(app))
        async with app.headend_directory(emulator.control_url) as headends:
            await headends.register_alert_endpoint(f"{gateway_url}/internal/headend-alerts")
            migrator = app.migrator(headends, emulator.control_url)
            files = sorted((fleet / "migration").glob("*.xml"))
            await migrator.migrate(files)
        for path in sorted((fleet / "registration").glob("*.xml")):
            await asyncio.to_thread(app.load_registration, path)
        for user, roles in USERS.items():
            pem = key_file(user, ".pem").read_bytes()
            await asyncio.to_thread(
                add_user, app.unit_of_work, app.clock, user, roles, pem, listener.url
            )
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60))
        yield DeviceWorld(app, emulator, listener, tmp, _meters(app, emulator), gateway_url, client)


@asynccontextmanager
async def serving(app: Application) -> AsyncIterator[str]:
    """The gateway's ASGI application (without its background work) served by uvicorn on a
    free loopback port in this event loop; its URL."""
    asgi = create_app(app.gateway(), app.settings.max_request_bytes, app.alert_intake())
    server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def _meters(app: Application, emulator: RunningEmulator) -> list[Meter]:
    found: list[Meter] = []
    seen: set[tuple[str, str]] = set()
    with app.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT d.device_id, d.device_type, d.manufacturer, d.model, i.cohort "
            "FROM device d JOIN installation i ON i.id = d.installation_id "
            "WHERE d.smi_status = 'Commissioned' ORDER BY d.device_id"
        ).all()
    for device_id, device_type, manufacturer, model, cohort in rows:
        if device_type not in ("ESME", "GSME") or (cohort, model) in seen:
            continue
        seen.add((cohort, model))
        found.append(
            Meter(Eui64.parse(device_id), DeviceType(device_type), cohort, manufacturer, model)
        )
    return found
