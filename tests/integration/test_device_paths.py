"""The device service's paths beyond the plain read: delivery that fails for a while, critical
commands (CV4, CV5, the DCO), refusals before any traffic, a head end that is down, device
alerts, future-dated requests, DCC schedules and the change of supplier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Role
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.domain.schedules import LogPeriod
from s1adopt.formats.duis import precommand
from s1adopt.formats.duis.certificates import certificate_pem, issuer_name, new_signing_identity
from s1adopt.formats.duis.device_requests import example_values
from s1adopt.formats.duis.envelope import request_document
from s1adopt.formats.duis.schedule_requests import (
    ScheduleRequest,
    create_schedule_body,
    delete_schedule_body,
)
from s1adopt.formats.duis.xmldsig import sign
from s1adopt.services.duis.device_ports import DeliveryStatus
from s1adopt.services.duis.device_service import DeviceService, DeviceServiceSettings
from s1adopt.services.duis.schedules import Scheduler
from s1adopt.services.duis.users import add_user
from tests.integration.device_world import (
    DSP,
    NETWORK,
    NS,
    SUPPLIER,
    DeviceWorld,
    Meter,
    device_world,
    pre_command_of,
    request_id_of,
    response_code,
)


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[DeviceWorld]:
    async with device_world(tmp_path, database_url=database_url) as running:
        yield running


def by_cohort(world: DeviceWorld, kind: DeviceType = DeviceType.ESME) -> dict[str, Meter]:
    meters: dict[str, Meter] = {}
    for meter in world.meters_of(kind):
        meters.setdefault(meter.cohort, meter)
    return meters


def success(world: DeviceWorld, document: bytes) -> bool:
    root = world.verified(document)
    data = root.find(".//ra:SMETSData", NS)
    return data is not None and data[0].get("MessageSuccess") == "true"


def outbox_references(world: DeviceWorld, recipient: Eui64) -> list[str]:
    with world.app.unit_of_work() as uow:
        return [d.reference for d in reversed(uow.devices.deliveries(recipient, None, 1000, None))]


async def test_responses_reach_an_endpoint_that_fails_for_a_while_once_each_in_answer_order(
    world: DeviceWorld,
) -> None:
    world.listener.failures = 5
    meters = list(by_cohort(world).values()) + list(by_cohort(world, DeviceType.GSME).values())
    sent = []
    for round_ in range(2):
        for meter in meters:
            rid, signed = world.request("4.1.1", meter.device, device_type=meter.device_type)
            assert (await world.send("serviceS", signed)).code == "I99"
            sent.append(rid)
        del round_
    documents = await world.responses(set(sent))
    received = [request_id_of(d) for d in documents]
    assert sorted(received) == sorted(sent)  # every response, and each once
    assert len(set(received)) == len(received)
    assert world.listener.refused == 5
    in_outbox = [r for r in outbox_references(world, SUPPLIER) if r in set(sent)]
    assert received == in_outbox  # in the order the devices answered
    with world.app.unit_of_work() as uow:
        statuses = {d.status for d in uow.devices.deliveries(SUPPLIER, None, 1000, None)}
    assert statuses == {DeliveryStatus.DELIVERED}


async def test_a_document_the_endpoint_refuses_is_dead_lettered_then_redelivered(
    world: DeviceWorld,
) -> None:
    meter = by_cohort(world)["IOC"]
    world.listener.reject = 1  # the next POST is answered 400: trying again cannot help
    rid, signed = world.request("4.1.1", meter.device)
    assert (await world.send("serviceS", signed)).code == "I99"
    async with world.app.headend_directory(world.emulator.control_url) as headends:
        await world.app.device_service(headends).drain(headends.smsos)
    async with world.app.response_endpoint() as endpoint:
        report = await world.app.deliverer(endpoint).deliver_once()
    assert report.dead == 1
    with world.app.unit_of_work() as uow:
        dead = uow.devices.deliveries(SUPPLIER, DeliveryStatus.DEAD, 10, rid)
        assert len(dead) == 1
        assert "400" in (dead[0].last_error or "")
        assert uow.devices.redeliver([dead[0].id], world.app.clock.now()) == 1
        uow.commit()
    documents = await world.responses({rid})
    assert [request_id_of(d) for d in documents] == [rid]


async def test_critical_commands_pass_only_with_the_issued_pre_command_signed_and_the_dco(
    world: DeviceWorld,
) -> None:
    meter = by_cohort(world)["MOC"]
    before = world.device_requests(meter.device)

    first, tampered = await world.critical("7.2", meter.device, {}, tamper=True)
    assert first.code == "I0"
    assert tampered.code == "E41", tampered.message

    _, transform = world.request("7.2", meter.device, {}, variant=4)
    payload = pre_command_of((await world.send("serviceT", transform)).body)
    network_key, _ = world.identity(NETWORK)
    wrong = precommand.sign(payload, network_key)  # signed by another user's key
    _, command = world.request(
        "7.2", meter.device, variant=5, body=precommand.signed_pre_command_element(wrong)
    )
    wrong_key = await world.send("serviceS", command)
    assert wrong_key.code == "E41", wrong_key.message

    refused_first, refused = await world.critical("2.3", meter.device, {"amount": 90_000})
    assert refused_first.code == "I0"
    assert refused.code == "E42", refused.message  # the DCO's debt limit

    assert world.device_requests(meter.device) == before  # no device saw any of them

    _, approved = await world.critical("7.2", meter.device, {})
    assert approved.code == "I99", approved.message
    key, _ = world.identity(SUPPLIER)
    replayed = precommand.sign(payload, key)  # a valid signature, but on a used pre-command?
    _, again = world.request(
        "7.2", meter.device, variant=5, body=precommand.signed_pre_command_element(replayed)
    )
    again_answer = await world.send("serviceS", again)
    assert again_answer.code == "I99"  # this one was never sent
    _, twice = world.request(
        "7.2", meter.device, variant=5, body=precommand.signed_pre_command_element(replayed)
    )
    assert (await world.send("serviceS", twice)).code == "E41"  # ... but only once
    rids = {request_id_of(approved.body) or "", request_id_of(again_answer.body) or ""}
    documents = await world.responses(rids)
    first_answer = next(d for d in documents if request_id_of(d) == request_id_of(approved.body))
    assert success(world, first_answer)
    assert world.device_requests(meter.device) == before + 2  # each sent pre-command once


async def test_requests_a_smets1_device_cannot_take_are_refused_before_any_traffic(
    world: DeviceWorld,
) -> None:
    brightwell = next(m for m in world.meters if m.model == "BW-SP1")
    before = world.device_requests(brightwell.device)
    _, local = world.request("4.1.1", brightwell.device, variant=2)
    assert (await world.send("serviceS", local)).code == "E17"
    _, arm = world.request("7.3", brightwell.device, {}, variant=4)
    transform = await world.send("serviceT", arm)
    assert transform.code == "E11", transform.message  # the model cannot arm its supply
    gas = by_cohort(world, DeviceType.GSME)["IOC"]
    _, wrong_type = world.request("6.2.1", gas.device, device_type=DeviceType.ESME)
    assert (await world.send("serviceS", wrong_type)).code in ("E4", "E11")
    assert world.device_requests(brightwell.device) == before


async def test_a_head_end_that_is_down_answers_with_an_error_in_time_and_holds_up_no_other(
    world: DeviceWorld,
) -> None:
    meters = by_cohort(world)
    await world.control("PUT", "/headends/smso-moc/available", {"available": False})
    started = time.monotonic()
    sent = {}
    for cohort in ("MOC", "IOC", "FOC"):
        rid, signed = world.request("4.1.1", meters[cohort].device)
        assert (await world.send("serviceS", signed)).code == "I99"
        sent[rid] = cohort
    await world.work_until(lambda: any(b"S1SPAlert" in d for d in world.listener.received))
    documents = [d for d in world.listener.received if b"S1SPAlert" in d]
    documents += await world.responses(set(sent))
    assert time.monotonic() - started < 20
    codes = {sent.get(request_id_of(d) or ""): response_code(d) for d in documents}
    assert codes["IOC"] == "I0"
    assert codes["FOC"] == "I0"
    assert codes["MOC"] in ("E20", "E21")
    alerts = [d for d in documents if b"S1SPAlert" in d]
    assert len(alerts) == 1
    root = world.verified(alerts[0])
    assert root.findtext(".//sr:S1SPAlertCode", namespaces=NS)


async def test_device_alerts_reach_the_supplier_and_for_a_tamper_the_network_operator(
    world: DeviceWorld,
) -> None:
    meter = by_cohort(world)["FOC"]
    await world.control("POST", f"/devices/{meter.device.hex}/events", {"kind": "tamper"})
    await world.control("POST", f"/devices/{meter.device.hex}/events", {"kind": "low_credit"})

    def mine() -> list[bytes]:
        return [
            d
            for d in world.listener.received
            if b"DeviceAlertMessage" in d and meter.device.value.encode() in d
        ]

    await world.work_until(lambda: len(mine()) >= 3)
    documents = mine()
    for document in documents:
        root = world.verified(document)
        assert root.find(".//sr:DeviceAlertMessage", NS) is not None
    recipients = sorted(
        (etree.fromstring(d).findtext(".//ra:BusinessTargetID", namespaces=NS) or "")
        for d in documents
    )
    assert recipients == sorted([SUPPLIER.value, NETWORK.value, SUPPLIER.value])


async def test_a_future_dated_request_waits_for_its_time_and_runs_once(world: DeviceWorld) -> None:
    meter = by_cohort(world)["IOC"]
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    rid, signed = world.request(
        "4.1.1", meter.device, {"executionDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    answer = await world.send("serviceS", signed)
    assert answer.code == "I99"
    assert "at " in answer.message
    before = world.device_requests(meter.device)
    async with world.app.headend_directory(world.emulator.control_url) as headends:
        assert await world.app.device_service(headends).drain(headends.smsos) == 0
    assert world.device_requests(meter.device) == before
    documents = await world.responses({rid})
    assert datetime.now(UTC) >= at
    assert [request_id_of(d) for d in documents] == [rid]
    assert world.device_requests(meter.device) == before + 1


async def test_a_dcc_schedule_runs_its_read_once_per_run_and_delivers_it_with_its_id(
    world: DeviceWorld,
) -> None:
    meter = by_cohort(world)["MOC"]
    run = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    asked = ScheduleRequest(
        "Daily",
        run.date(),
        None,
        run.time(),
        "4.6.1",
        meter.device,
        "DSPRetrieveImportDailyReadLog",
        LogPeriod(-2, datetime.min.time(), -1, datetime.min.time()),
    )
    created = await _non_device(world, "5.1", create_schedule_body(asked))
    assert response_code(created) == "I0", created[-800:]
    schedule_id = int(etree.fromstring(created).findtext(".//sr:DSPScheduleID", namespaces=NS) or 0)
    assert schedule_id > 0
    scheduler = Scheduler(world.app.unit_of_work, world.app.clock)
    assert scheduler.tick() == 0  # not due yet
    await asyncio.sleep(max(0.0, (run - datetime.now(UTC)).total_seconds()) + 0.2)
    assert scheduler.tick() == 1
    assert scheduler.tick() == 0  # the next run is tomorrow

    def runs() -> list[bytes]:
        return [d for d in world.listener.received if b"DSPScheduleID>" in d]

    await world.work_until(lambda: len(runs()) >= 1)
    documents = runs()
    root = world.verified(documents[0])
    assert root.findtext(".//sr:DSPScheduleID", namespaces=NS) == str(schedule_id)
    assert success(world, documents[0])
    deleted = await _non_device(world, "5.3", delete_schedule_body(schedule_id))
    assert response_code(deleted) == "I0"


async def test_a_change_of_supplier_hands_each_cohorts_meter_to_the_new_supplier(
    world: DeviceWorld, tmp_path: Path
) -> None:
    new = Eui64.parse("90-B3-D5-1F-30-01-00-01")
    key, cert = new_signing_identity(new, "new supplier", "87")
    world.identities[new] = (key, cert)
    add_user(
        world.app.unit_of_work,
        world.app.clock,
        new,
        frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}),
        certificate_pem(cert),
        world.listener.url,
    )
    meters = list(by_cohort(world).values())
    today = datetime.now(UTC).date()
    with world.app.unit_of_work() as uow:
        points = []
        for meter in meters:
            row = uow.duis.device(meter.device)
            assert row is not None
            assert row.mpan
            points.append(RegistrationRecord(row.mpan, MeterPointKind.MPAN, new, NETWORK, today))
        uow.programme.add_registrations(points, 99)
        uow.commit()
    for meter in meters:
        _, old = world.request("4.1.1", meter.device)
        assert (await world.send("serviceS", old)).code == "E4"  # the old supplier: refused
        _, early = world.request("4.1.1", meter.device, user=new)
        assert (await world.send("serviceS", early)).code == "E43"  # not yet its credentials
    replacements = {}
    for meter, point in zip(meters, points, strict=True):
        rid, cos = world.request("6.23", meter.device, {"importMpxn": point.mpxn}, user=new)
        answer = await world.send("serviceS", cos)
        assert answer.code == "I99", answer.message
        replacements[rid] = meter
    responses = await world.responses(set(replacements))

    def cos_alerts() -> list[bytes]:
        return [d for d in world.listener.received if b"S1SP_COS_CREDENTIALS_REPLACED" in d]

    await world.work_until(lambda: len(cos_alerts()) >= len(meters))
    assert len(responses) == len(meters)
    assert all(success(world, d) for d in responses)
    assert len(cos_alerts()) == len(meters)
    reads = set()
    for meter in meters:
        rid, read = world.request("4.1.1", meter.device, user=new)
        assert (await world.send("serviceS", read)).code == "I99"
        reads.add(rid)
        _, old = world.request("4.1.1", meter.device)
        assert (await world.send("serviceS", old)).code == "E4"
    after = await world.responses(reads)
    assert all(success(world, d) for d in after)
    del tmp_path


async def _non_device(world: DeviceWorld, srv: str, body: etree._Element) -> bytes:
    counter = world.counters.get(SUPPLIER, time.time_ns() // 1000) + 1
    world.counters[SUPPLIER] = counter
    root = request_document(f"{SUPPLIER.value}:{DSP.value}:{counter}", 8, srv, body)
    key, cert = world.identity(SUPPLIER)
    answer = await world.send("serviceD", sign(root, key, issuer_name(cert), cert.serial_number))
    return answer.body


async def test_the_running_service_carries_out_each_command_once_and_delivers_each_response(
    world: DeviceWorld,
) -> None:
    meters = world.meters
    before = {m.device: world.device_requests(m.device) for m in meters}
    async with (
        world.app.headend_directory(world.emulator.control_url) as headends,
        world.app.response_endpoint() as endpoint,
    ):
        stop = asyncio.Event()
        runtime = world.app.device_runtime(headends, endpoint, None)
        task = asyncio.create_task(runtime.run(stop))
        sent: dict[str, Meter] = {}
        for number in range(40):  # sent while the service works: claims overlap commands
            meter = meters[number % len(meters)]
            rid, signed = world.request("4.1.1", meter.device, device_type=meter.device_type)
            assert (await world.send("serviceS", signed)).code == "I99"
            sent[rid] = meter
        deadline = time.monotonic() + 60
        while len({request_id_of(d) for d in world.listener.received} & set(sent)) < len(sent):
            assert time.monotonic() < deadline, "not every response arrived"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)  # anything carried out twice would show now
        stop.set()
        await task
    arrived = [request_id_of(d) for d in world.listener.received if request_id_of(d) in sent]
    assert sorted(arrived) == sorted(sent)
    for meter in meters:
        asked = sum(1 for m in sent.values() if m.device == meter.device)
        assert world.device_requests(meter.device) - before[meter.device] == asked


async def test_a_device_that_does_not_answer_is_answered_e21_while_the_others_are_served(
    world: DeviceWorld,
) -> None:
    meters = by_cohort(world)
    silent = meters["MOC"]
    await world.control("PUT", f"/devices/{silent.device.hex}/fault", {"fault": "timeout"})
    arrived: dict[str, float] = {}
    async with (
        world.app.headend_directory(world.emulator.control_url) as headends,
        world.app.response_endpoint() as endpoint,
    ):
        stop = asyncio.Event()
        task = asyncio.create_task(world.app.device_runtime(headends, endpoint, None).run(stop))
        started = time.monotonic()
        sent: dict[str, str] = {}
        for cohort in ("MOC", "IOC", "FOC"):
            rid, signed = world.request("4.1.1", meters[cohort].device)
            assert (await world.send("serviceS", signed)).code == "I99"
            sent[rid] = cohort
        while len(arrived) < len(sent):
            assert time.monotonic() - started < 25, arrived  # within the deadline (20 s here)
            for document in world.listener.received:
                cohort = sent.get(request_id_of(document) or "")
                if cohort is not None and cohort not in arrived:
                    arrived[cohort] = time.monotonic() - started
                    world.verified(document)
                    assert response_code(document) == ("E21" if cohort == "MOC" else "I0")
            await asyncio.sleep(0.02)
        stop.set()
        await task
    # not held up by the silent MOC meter, whose answer waited for its head end's timeout
    assert max(arrived["IOC"], arrived["FOC"]) < arrived["MOC"], arrived


@pytest.mark.parametrize("running", [True, False], ids=["running service", "drain"])
@pytest.mark.parametrize("cohort", ["IOC", "MOC", "FOC"])
async def test_a_devices_commands_are_carried_out_one_at_a_time_in_the_order_sent(
    world: DeviceWorld, running: bool, cohort: str
) -> None:
    meter = by_cohort(world)[cohort]
    # the first request is answered slowly: what follows it must wait for it, not overtake it
    await world.control("PUT", f"/devices/{meter.device.hex}/fault", {"fault": "slow", "count": 1})
    sent: list[str] = []
    for srv in ("4.1.1", "4.1.2", "4.1.1", "4.1.2", "4.1.1"):
        rid, signed = world.request(srv, meter.device)
        assert (await world.send("serviceS", signed)).code == "I99"
        sent.append(rid)
    if running:
        async with (
            world.app.headend_directory(world.emulator.control_url) as headends,
            world.app.response_endpoint() as endpoint,
        ):
            stop = asyncio.Event()
            task = asyncio.create_task(world.app.device_runtime(headends, endpoint, None).run(stop))
            deadline = time.monotonic() + 30
            while len({request_id_of(d) for d in world.listener.received} & set(sent)) < 5:
                assert time.monotonic() < deadline, "not every response arrived"
                await asyncio.sleep(0.02)
            stop.set()
            await task
    else:
        await world.responses(set(sent))
    arrived = [request_id_of(d) for d in world.listener.received if request_id_of(d) in sent]
    assert arrived == sent  # answered, and so delivered, in the order sent


async def test_a_future_dated_request_is_cancelled_by_one_dated_3000_12_31(
    world: DeviceWorld,
) -> None:
    meter = by_cohort(world)["FOC"]
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = {**example_values("4.1.1", "ESME"), "executionDateTime": later}
    waiting, future = world.request("4.1.1", meter.device, values)
    assert (await world.send("serviceS", future)).code == "I99"
    cancel = {**values, "executionDateTime": "3000-12-31T00:00:00Z"}
    _, other = world.request("4.1.1", meter.device, cancel, user=NETWORK)
    assert (await world.send("serviceS", other)).code == "E11"  # not the sender's to cancel
    _, cancelling = world.request("4.1.1", meter.device, cancel)
    answer = await world.send("serviceS", cancelling)
    assert answer.code == "I0", answer.message
    assert waiting in answer.message
    world.verified(answer.body)
    with world.app.unit_of_work() as uow:
        assert [c[1] for c in uow.devices.commands_of(waiting)] == ["cancelled"]
    _, again = world.request("4.1.1", meter.device, cancel)
    assert (await world.send("serviceS", again)).code == "E11"  # nothing left to cancel


async def test_a_device_with_a_backlog_holds_up_no_other_device_of_its_head_end(
    world: DeviceWorld,
) -> None:
    busy = by_cohort(world)["FOC"]
    other = by_cohort(world, DeviceType.GSME)["FOC"]  # another device behind the same SMSO
    await world.control("PUT", f"/devices/{busy.device.hex}/fault", {"fault": "slow", "count": 8})
    backlog = []
    for _ in range(8):  # each answered slowly, one after another
        rid, signed = world.request("4.1.1", busy.device)
        assert (await world.send("serviceS", signed)).code == "I99"
        backlog.append(rid)
    late, signed = world.request("4.1.1", other.device, device_type=DeviceType.GSME)
    assert (await world.send("serviceS", signed)).code == "I99"
    app = world.app
    async with (
        app.headend_directory(world.emulator.control_url) as headends,
        app.response_endpoint() as endpoint,
    ):
        service = DeviceService(  # two commands in flight: the backlog alone would fill them
            app.unit_of_work,
            app.clock,
            headends,
            app.keyring.vault(),
            app.response_factory(),
            app.dco,
            DeviceServiceSettings(deadline=20, in_flight=2),
        )
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(service.run(headends.smsos, stop)),
            asyncio.create_task(app.deliverer(endpoint).run(stop)),
        ]
        deadline = time.monotonic() + 30
        wanted = {late, *backlog}
        while len({request_id_of(d) for d in world.listener.received} & wanted) < len(wanted):
            assert time.monotonic() < deadline, "not every response arrived"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)
    arrived = [request_id_of(d) for d in world.listener.received if request_id_of(d) in wanted]
    assert [r for r in arrived if r != late] == backlog  # the busy device's, in order
    # the other device's did not wait for the backlog: claimed within the first few rounds, it
    # comes before most of the backlog's (waiting behind it, as before, it came 8th)
    assert arrived.index(late) < 5, arrived
