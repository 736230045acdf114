"""The SMETS1 device service end to end, in process: signed requests through the gateway,
carried out on the emulated head ends of the three cohorts, signed SMETS1 responses
delivered to a real HTTP listener and checked against the official schemas."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.equivalent_steps import EQUIVALENT_STEPS
from s1adopt.domain.identities import Eui64
from s1adopt.domain.srv import lookup
from s1adopt.formats.duis.certificates import issuer_name
from s1adopt.formats.duis.envelope import request_document
from s1adopt.formats.duis.firmware_requests import update_firmware_body
from s1adopt.formats.duis.xmldsig import sign
from s1adopt.formats.firmware import emulated_image, firmware_image_hash, image_hash
from tests.integration.device_world import (
    DSP,
    NS,
    SUPPLIER,
    USERS,
    DeviceWorld,
    Meter,
    device_world,
    request_id_of,
    response_code,
)

UTRN_1000_PENCE = "73946144332040201000"
# SRVs whose steps change the HAN, run in this order on one IHD per installation
HAN_ORDER = ("8.8.2", "8.7.2", "8.8.1", "8.7.1")
# the order SRVs run in: prepayment mode first (the prepayment SRVs need it), the supply
# interrupted before it is armed and enabled again, the HAN changes in their order
FIRST, LAST = ("1.6", "2.1"), ("7.2", "7.3", "7.1", *HAN_ORDER)


def run_order(srv: str) -> tuple[int, int]:
    if srv in FIRST:
        return (0, FIRST.index(srv))
    if srv in LAST:
        return (2, LAST.index(srv))
    return (1, 0)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DeviceWorld]:
    async with device_world(tmp_path) as running:
        yield running


def debug_of(root: etree._Element) -> str:
    """What a failed SMETS1 response says (for assertion messages)."""
    info = root.find(".//ra:DebugInfo", NS)
    return etree.tostring(info if info is not None else root).decode()[:1500]


def rsp_of(root: etree._Element, srv: str) -> etree._Element:
    """The SMETS1 response's Rsp element."""
    data = root.find(".//ra:SMETSData", NS)
    assert data is not None, debug_of(root)
    return data[0]


def installation_device(world: DeviceWorld, meter: Meter, kind: str) -> Eui64:
    """A device of the meter's installation, of this type."""
    with world.app.engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT d.device_id FROM device d WHERE d.device_type = ? AND d.installation_id = "
            "(SELECT installation_id FROM device WHERE device_id = ?)",
            (kind, meter.device.value),
        ).first()
    assert row is not None, f"no {kind} with {meter.device}"
    return Eui64.parse(row[0])


def meter_point(world: DeviceWorld, meter: Meter) -> str:
    with world.app.engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT i.mpan, i.mprn FROM device d JOIN installation i ON i.id = d.installation_id "
            "WHERE d.device_id = ?",
            (meter.device.value,),
        ).one()
    return str(row[1] if meter.device_type is DeviceType.GSME else row[0])


def new_image(meter: Meter) -> bytes:
    """An emulated image of the next release of the meter's model."""
    model = model_for(meter.device_type.value, meter.manufacturer, meter.model)
    assert model.firmware is not None
    version = model.behaviour.firmware_format.bumped(model.firmware)
    return emulated_image(meter.manufacturer, meter.model, version)


async def transfer_firmware(world: DeviceWorld) -> None:
    """11.1 for every meter, until each transfer is reported by an S1SP alert."""
    for meter in world.meters:
        body = update_firmware_body(new_image(meter), "next", [meter.device])
        counter = world.counters.get(SUPPLIER, time.time_ns() // 1000) + 1
        world.counters[SUPPLIER] = counter
        root = request_document(f"{SUPPLIER.value}:{DSP.value}:{counter}", 8, "11.1", body)
        key, cert = world.identity(SUPPLIER)
        signed = sign(root, key, issuer_name(cert), cert.serial_number)
        answer = await world.send("serviceD", signed)
        assert answer.code == "I0", answer.message

    def reports() -> list[bytes]:
        return [d for d in world.listener.received if b"S1SP_FIRMWARE_TRANSFERRED" in d]

    await world.work_until(lambda: len(reports()) >= len(world.meters))
    for document in reports():
        world.verified(document)


def values_for(world: DeviceWorld, srv: str, meter: Meter) -> dict[str, Any] | None:
    """Values where the example values cannot serve this device (None: the examples)."""
    if srv == "2.2":
        return {"utrn": UTRN_1000_PENCE}
    if srv == "1.6":
        return {"paymentMode": "prepayment"}
    if srv == "2.1":  # emergency credit available at any balance, so that 2.5 can use it
        return {
            "prepayment": {
                "debtRecoveryRateCap": 0,
                "emergencyCreditLimit": 1000,
                "emergencyCreditThreshold": 10_000_000,
                "lowCreditThreshold": 500,
                "maxMeterBalance": 10_000_000,
                "maxCreditThreshold": 100_000,
            }
        }
    if srv in HAN_ORDER:
        return {"device": installation_device(world, meter, "IHD").hex}
    if srv == "6.23":
        return {"importMpxn": meter_point(world, meter)}
    if srv == "11.3":  # the image 11.1 transferred
        return {"firmwareHash": image_hash(new_image(meter))}
    return None


async def send(world: DeviceWorld, srv: str, target: Eui64, kind: DeviceType, values: Any) -> str:
    """Send one request (through CV4 and CV5 when it is critical); its RequestID."""
    catalogued = lookup(srv)
    assert catalogued is not None
    user = next(u for u, roles in USERS.items() if roles & catalogued.eligible_roles)
    if catalogued.critical:
        first, answer = await world.critical(srv, target, values, user=user, device_type=kind)
        assert first.code == "I0", f"{srv} CV4: {first.message}"
        assert answer.code == "I99", f"{srv} CV5: {answer.message}"
        root = etree.fromstring(answer.body)
        rid = root.findtext("sr:Header/sr:RequestID", namespaces=NS)
        assert rid is not None
        return rid
    request_id, signed = world.request(srv, target, values, user=user, device_type=kind)
    answer = await world.send("serviceS", signed)
    assert answer.code == "I99", f"{srv}: {answer.message}"
    return request_id


async def test_a_read_of_the_import_registers_is_acknowledged_then_answered_signed_at_the_endpoint(
    world: DeviceWorld,
) -> None:
    meters = world.meters_of(DeviceType.ESME) + world.meters_of(DeviceType.GSME)
    assert {m.cohort for m in meters} == {"IOC", "MOC", "FOC"}
    sent = {await send(world, "4.1.1", m.device, m.device_type, None): m for m in meters}
    documents = await world.responses(set(sent))
    assert {request_id_of(d) for d in documents} == set(sent)
    for document in documents:
        root = world.verified(document)
        assert response_code(document) == "I0"
        rsp = rsp_of(root, "4.1.1")
        assert rsp.get("MessageSuccess") == "true", debug_of(root)
        meter = sent[request_id_of(document) or ""]
        fuel = "Gas" if meter.device_type is DeviceType.GSME else "Electricity"
        assert rsp.find(f"ra:{fuel}", NS) is not None


async def test_every_srv_with_equivalent_steps_works_on_every_cohort(world: DeviceWorld) -> None:
    worked: dict[str, set[str]] = {}
    refused_by_model: list[str] = []
    await transfer_firmware(world)
    worked["11.1"] = {m.cohort for m in world.meters}
    ordered = sorted(EQUIVALENT_STEPS, key=run_order)
    for srv in ordered:
        row = EQUIVALENT_STEPS[srv]
        if srv == "11.1":
            continue  # a non-device request: transferred above
        targets: list[tuple[Meter, Eui64, DeviceType]] = []
        for meter in world.meters:
            model = model_for(meter.device_type.value, meter.manufacturer, meter.model)
            if srv in ("8.9", "8.11"):
                hub = installation_device(world, meter, "CHF")
                if meter.device_type is DeviceType.ESME:
                    targets.append((meter, hub, DeviceType.CHF))
                continue
            if row.refusal(meter.device_type, model) is None:
                targets.append((meter, meter.device, meter.device_type))
            elif meter.device_type in row.device_types:
                refused_by_model.append(f"{srv} {meter.model}")
        if srv == "8.11":
            continue  # exercised with its own add and remove below
        if srv in HAN_ORDER:  # one request per HAN: the meters of an installation share it
            hubs: dict[Eui64, tuple[Meter, Eui64, DeviceType]] = {}
            for target in targets:
                hubs.setdefault(installation_device(world, target[0], "CHF"), target)
            targets = list(hubs.values())
        sent: dict[str, Meter] = {}
        for meter, target, kind in targets:
            rid = await send(world, srv, target, kind, values_for(world, srv, meter))
            sent[rid] = meter
        for document in await world.responses(set(sent)):
            root = world.verified(document)
            meter = sent[request_id_of(document) or ""]
            rsp = rsp_of(root, srv)
            assert rsp.get("MessageSuccess") == "true", f"{srv} on {meter.model}: {debug_of(root)}"
            worked.setdefault(srv, set()).add(meter.cohort)
    for change in ("remove", "add"):  # 8.11 on each hub: the IHD leaves the HAN, then rejoins
        sent = {}
        for meter in world.meters_of(DeviceType.ESME):
            hub = installation_device(world, meter, "CHF")
            ihd = installation_device(world, meter, "IHD").hex
            sent[
                await send(
                    world, "8.11", hub, DeviceType.CHF, {"add": [], "remove": [], change: [ihd]}
                )
            ] = meter
        for document in await world.responses(set(sent)):
            root = world.verified(document)
            meter = sent[request_id_of(document) or ""]
            assert rsp_of(root, "8.11").get("MessageSuccess") == "true", debug_of(root)
            worked.setdefault("8.11", set()).add(meter.cohort)
    with world.app.unit_of_work() as uow:  # the inventory follows the activated firmware
        for meter in world.meters:
            inventory = uow.duis.inventory_of_device(meter.device)
            mine = next(d for d in inventory if d.device_id == meter.device)
            assert image_hash(new_image(meter)) == firmware_image_hash(
                meter.manufacturer, meter.model, mine.firmware_version or ""
            )
    on_all = sorted(s for s, cohorts in worked.items() if cohorts == {"IOC", "MOC", "FOC"})
    assert len(on_all) >= 60, (len(on_all), sorted(set(EQUIVALENT_STEPS) - set(on_all)))
    assert refused_by_model, "the model variations refuse some SRVs"


async def test_profile_intervals_add_up_to_the_daily_register_difference_stamped_as_the_model_does(
    world: DeviceWorld,
) -> None:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    period = {"from": _iso(day), "to": _iso(day + timedelta(days=1))}
    meters = world.meters_of(DeviceType.ESME) + world.meters_of(DeviceType.GSME)
    sent: dict[str, tuple[str, Meter]] = {}
    for meter in meters:
        for srv in ("4.8.1", "4.6.1"):
            rid = await send(world, srv, meter.device, meter.device_type, period)
            sent[rid] = (srv, meter)
    documents = await world.responses(set(sent))
    profiles: dict[Eui64, list[tuple[str, Decimal]]] = {}
    logs: dict[Eui64, list[Decimal]] = {}
    for document in documents:
        root = world.verified(document)
        srv, meter = sent[request_id_of(document) or ""]
        rsp = rsp_of(root, srv)
        assert rsp.get("MessageSuccess") == "true", debug_of(root)
        if srv == "4.8.1":
            profiles[meter.device] = [
                (e.findtext("ra:Timestamp", namespaces=NS) or "", Decimal(_value(e)))
                for e in rsp.findall("ra:LogEntry", NS)
            ]
        else:
            logs[meter.device] = [Decimal(_value(e)) for e in rsp.findall("ra:LogEntry", NS)]
    for meter in meters:
        intervals, registers = profiles[meter.device], logs[meter.device]
        assert len(intervals) == 48
        assert len(registers) == 2
        assert sum(v for _, v in intervals) == registers[1] - registers[0], meter.model
        stamp = model_for(meter.device_type.value, meter.manufacturer, meter.model)
        first = datetime.fromisoformat(intervals[0][0].replace("Z", "+00:00"))
        expected = day if stamp.behaviour.profile_stamp == "start" else day + timedelta(minutes=30)
        assert first == expected, (meter.model, stamp.behaviour.profile_stamp)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _value(entry: etree._Element) -> str:
    for element in entry.iter():
        name = etree.QName(element).localname
        if name in (
            "PrimaryValue",
            "ElecActiveImportRegisterConsumption",
            "GasActiveImportRegisterConsumption",
        ):
            return element.text or "0"
    raise AssertionError(etree.tostring(entry))
