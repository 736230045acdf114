"""The emulator's control API on loopback: faults, availability, events and alerts at run time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.operations import DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.control import HeadEndListing, control_app
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.world.core import HeadEndSettings
from s1adopt.emulators.world.core_api import CoreRefusal, Garble
from s1adopt.emulators.world.loader import World, load_world
from s1adopt.formats.device_auth import ErrorCode, new_nonce, request_tag

D = DeviceOperation
FAST = HeadEndSettings(no_answer_delay=0.001, slow_delay=0.01, model_delays=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet")
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(out, 20, 0.0, 8, key, dormant_rate=0.0)
    return out


def device_of(fleet: Path, kind: str, smso: str = "smso-ioc") -> dict[str, Any]:
    lines = (fleet / "emulator" / f"{smso}.devices.jsonl").read_text().splitlines()
    return next(doc for doc in map(json.loads, lines) if doc["type"] == kind)


@pytest.fixture
async def world(fleet: Path) -> AsyncIterator[World]:
    loaded = load_world(fleet, settings=FAST)
    yield loaded
    await loaded.aclose()


@pytest.fixture
async def control(world: World) -> AsyncIterator[TestClient[Any, Any]]:
    listings = [
        HeadEndListing(h.name, h.smso, h.cohort, h.protocol, f"http://127.0.0.1:{9000 + n}")
        for n, h in enumerate(world.headends)
    ]
    async with TestClient(TestServer(control_app(world, listings), host="127.0.0.1")) as client:
        yield client


class AlertReceiver:
    """A loopback endpoint that records the alerts POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.arrived.set()
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[AlertReceiver, str]]:
    found = AlertReceiver()
    app = web.Application()
    app.router.add_post("/alerts", found.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield found, str(server.make_url("/alerts"))
    await server.close()


async def run(world: World, device: dict[str, Any], op: DeviceOperation) -> dict[str, Any]:
    found = world.find(device["id"])
    assert found is not None
    headend, key, _ = found
    nonce = new_nonce()
    tag = request_tag(Secret(bytes.fromhex(device["credential"])), op, key, nonce, {})
    return await headend.execute(key, op, {}, nonce, tag)


async def test_headends_list_cohort_protocol_session_limit_and_availability(
    control: TestClient[Any, Any],
) -> None:
    doc = await (await control.get("/headends")).json()

    assert [
        (h["name"], h["cohort"], h["protocol"], h["sessionLimit"], h["available"])
        for h in doc["headends"]
    ] == [
        ("smso-ioc", "IOC", "s1-json/2", 64, True),
        ("smso-moc", "MOC", "s1-bin/1", 32, True),
        ("smso-foc", "FOC", "s1-xml/1", 48, True),
    ]
    assert doc["headends"][0]["url"] == "http://127.0.0.1:9000"


async def test_stats_count_requests_per_operation_and_device(
    control: TestClient[Any, Any], world: World, fleet: Path
) -> None:
    esme = device_of(fleet, "ESME")
    await run(world, esme, D.READ_IDENTITY)
    await run(world, esme, D.READ_CONFIGURATION)

    full = await (await control.get("/stats")).json()
    cheap = await (await control.get("/stats?devices=none")).json()

    assert full["totals"]["requests"] == 2
    assert full["operations"] == {"read_configuration": 1, "read_identity": 1}
    assert full["devices"][esme["id"]]["identity_reads"] == 1
    assert full["headends"]["smso-ioc"]["operations"]["read_identity"] == 1
    assert "devices" not in cheap
    assert (await (await control.get("/health")).json()) == {"status": "ok"}


async def test_a_fault_is_set_and_cleared_at_run_time(
    control: TestClient[Any, Any], world: World, fleet: Path
) -> None:
    esme = device_of(fleet, "ESME")
    url = f"/devices/{esme['id']}/fault"

    set_answer = await control.put(url, json={"fault": "no_answer"})
    with pytest.raises(CoreRefusal) as silent:
        await run(world, esme, D.READ_IDENTITY)
    shown = await (await control.get(f"/devices/{esme['id']}")).json()
    cleared = await control.delete(url)
    identity = await run(world, esme, D.READ_IDENTITY)

    assert set_answer.status == 200
    assert silent.value.code is ErrorCode.NO_RESPONSE
    assert shown["fault"] == "no_answer"
    assert cleared.status == 200
    assert identity["deviceId"] == esme["id"]


async def test_garbled_once_affects_one_request_only(
    control: TestClient[Any, Any], world: World, fleet: Path
) -> None:
    chf = device_of(fleet, "CHF", "smso-foc")
    answer = await control.put(f"/devices/{chf['id']}/fault", json={"fault": "garbled_once"})

    with pytest.raises(Garble):
        await run(world, chf, D.READ_IDENTITY)
    identity = await run(world, chf, D.READ_IDENTITY)

    assert await answer.json() == {"device": chf["id"], "fault": "garbled", "count": 1}
    assert identity["model"] == "TW-CH3"


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ({"fault": "gremlins"}, 400, "unknown fault"),
        ({"fault": "slow", "count": 0}, 400, "count"),
        ({"fault": "han_failure"}, 400, "GSME or GPF"),
    ],
)
async def test_a_bad_fault_is_refused(
    control: TestClient[Any, Any], fleet: Path, body: dict[str, Any], status: int, problem: str
) -> None:
    esme = device_of(fleet, "ESME")

    answer = await control.put(f"/devices/{esme['id']}/fault", json=body)

    assert answer.status == status
    assert problem in (await answer.json())["error"]


async def test_an_unknown_device_or_head_end_is_not_found(control: TestClient[Any, Any]) -> None:
    device = await control.put("/devices/FFFFFFFFFFFFFFFF/fault", json={"fault": "slow"})
    headend = await control.put("/headends/smso-xyz/available", json={"available": False})

    assert device.status == headend.status == 404


async def test_a_head_end_is_made_unavailable_and_available_again(
    control: TestClient[Any, Any], world: World, fleet: Path
) -> None:
    esme = device_of(fleet, "ESME", "smso-moc")

    down = await control.put("/headends/smso-moc/available", json={"available": False})
    with pytest.raises(CoreRefusal) as refused:
        await run(world, esme, D.READ_IDENTITY)
    listed = await (await control.get("/headends")).json()
    up = await control.put("/headends/smso-moc/available", json={"available": True})
    bad = await control.put("/headends/smso-moc/available", json={"available": "no"})

    assert down.status == up.status == 200
    assert refused.value.code is ErrorCode.UNAVAILABLE
    assert [h["available"] for h in listed["headends"]] == [True, False, True]
    assert (await run(world, esme, D.READ_IDENTITY))["deviceType"] == "ESME"
    assert bad.status == 400


async def test_events_and_device_alerts_are_delivered_to_a_loopback_endpoint(
    control: TestClient[Any, Any],
    world: World,
    fleet: Path,
    receiver: tuple[AlertReceiver, str],
) -> None:
    found, url = receiver
    esme = device_of(fleet, "ESME")
    assert (await control.put("/alerts/endpoint", json={"url": url})).status == 200

    event = await control.post(f"/devices/{esme['id']}/events", json={"kind": "tamper"})
    await run_supply_cut(world, esme)
    await world.alerts.drain()

    assert event.status == 202
    assert [(a["device"], a["kind"], a["headend"]) for a in found.received] == [
        (esme["id"], "tamper", "smso-ioc"),
        (esme["id"], "supply_outage", "smso-ioc"),
    ]
    assert all(a["at"].endswith("Z") for a in found.received)
    alerts = (await (await control.get("/stats?devices=none")).json())["alerts"]
    assert alerts["delivered"] == 2
    assert alerts["failed"] == 0


async def run_supply_cut(world: World, esme: dict[str, Any]) -> None:
    assert (await run(world, esme, D.DISABLE_SUPPLY)) == {"supply": "disabled"}


async def test_an_alert_endpoint_off_the_machine_is_refused(
    control: TestClient[Any, Any],
) -> None:
    for url in ("http://192.0.2.1/alerts", "https://127.0.0.1/alerts", "ftp://localhost/x"):
        answer = await control.put("/alerts/endpoint", json={"url": url})
        assert answer.status == 400


async def test_failed_deliveries_are_counted_never_raised(
    control: TestClient[Any, Any], world: World, fleet: Path
) -> None:
    esme = device_of(fleet, "ESME")
    await control.put("/alerts/endpoint", json={"url": "http://127.0.0.1:9/nowhere"})

    await control.post(f"/devices/{esme['id']}/events", json={"kind": "tamper"})
    identity = await run(world, esme, D.READ_IDENTITY)
    await world.alerts.drain()

    assert identity["deviceType"] == "ESME"
    assert world.alerts.counts["failed"] == 1
    bad_kind = await control.post(f"/devices/{esme['id']}/events", json={"kind": "fire"})
    assert bad_kind.status == 400


async def test_alerts_without_an_endpoint_are_counted_as_unsent(
    control: TestClient[Any, Any], fleet: Path
) -> None:
    esme = device_of(fleet, "ESME")

    await control.post(f"/devices/{esme['id']}/events", json={"kind": "low_credit"})
    alerts = (await (await control.get("/stats?devices=none")).json())["alerts"]

    assert alerts["unsent"] == 1
    assert alerts["pushed"] == 1
