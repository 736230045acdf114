"""The DUIS gateway's checks, in order, on a real store with the public test PKI."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from s1adopt.adapters.db import tables as t
from s1adopt.domain.duis import ResponseCode
from s1adopt.domain.identities import Eui64
from s1adopt.domain.srv import lookup
from s1adopt.formats.duis.certificates import load_certificate
from s1adopt.formats.duis.xmldsig import verify
from s1adopt.services.duis.gateway import GatewaySettings
from s1adopt.services.duis.users import set_status
from tests.conftest import StepClock
from tests.integration.duis_world import (
    DUIS,
    NETWORK,
    OTHER,
    SUPPLIER,
    USERS,
    DuisWorld,
    code_of,
    dsp_files,
    endpoint_for,
)

READ_INVENTORY = "8.2_READ_INVENTORY_REQUEST_DUIS.XML"
READ_REGISTERS = "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> DuisWorld:
    world = DuisWorld(database_url, tmp_path, StepClock())
    world.add_users()
    return world


def _dsp_verifies(body: bytes) -> None:
    root = etree.fromstring(body)
    public = load_certificate(dsp_files()[1].read_bytes()).public_key()
    verify(root, public)  # type: ignore[arg-type]


def _templates() -> list[Path]:
    return sorted((DUIS / "templates").glob("*.XML"))


def _expected_for_template(template: bytes, known_users: set[Eui64]) -> set[str]:
    """What a template can be answered with: its originator known or not, its role
    eligible or not, its devices (fictional) unknown or, for 00-DB-12-34-56-78-90-A0 which the
    12.2 template pre-notifies first, Pending; the non-device requests answered."""
    srv_text = re.search(rb"<sr:ServiceReferenceVariant>([^<]+)<", template)
    origin = re.search(rb"<sr:RequestID>([^:]+):", template)
    assert srv_text is not None
    assert origin is not None
    srv = lookup(srv_text.group(1).decode())
    assert srv is not None
    originator = Eui64.parse(origin.group(1).decode())
    if originator not in known_users:
        return {"E1"}
    if not USERS[originator] & srv.eligible_roles:
        return {"E2"}
    if srv.non_device:
        return {
            "8.2": {"I0"},
            "12.2": {"I0"},
            "5.2": {"I0"},
            "8.3": {"E5"},  # its device was pre-notified (Pending) by the 12.2 template
            "11.1": {"E11"},  # the template's image is not one the S1SP can identify
            "11.4": {"E1011"},
        }.get(srv.variant, {"E11"})
    if b":00-DB-12-34-56-78-90-A0:" in template:  # pre-notified, so known but Pending
        return {"E5"}
    return {"E19"}


def test_every_official_template_is_routed_and_answered_with_a_signed_valid_response(
    world: DuisWorld,
) -> None:
    known = set(USERS)
    templates = sorted(_templates(), key=lambda p: "0" if "12.2_" in p.name else p.name)
    seen: dict[str, int] = {}
    for path in templates:
        raw = path.read_bytes()
        originator = Eui64.parse(re.search(rb"<sr:RequestID>([^:]+):", raw).group(1).decode())  # type: ignore[union-attr]
        if originator in known:
            body = world.signed(path.name)
        else:  # nobody holds that user's key: signed by the supplier, claiming the other
            body = world.signed(path.name, SUPPLIER)
            body = body.replace(SUPPLIER.value.encode(), originator.value.encode(), 1)
        answer = world.send(endpoint_for(raw), body)
        assert answer.status == 200, (path.name, answer.message)
        _dsp_verifies(answer.body)
        world.validators[-1].validate(etree.fromstring(answer.body))  # the official schema
        assert code_of(answer) in _expected_for_template(raw, known), (path.name, answer.message)
        seen[code_of(answer)] = seen.get(code_of(answer), 0) + 1
    assert seen["I0"] >= 3
    assert seen["E19"] > 50


def test_a_placeholder_tampered_unsigned_or_unknown_signer_request_is_refused(
    world: DuisWorld,
) -> None:
    placeholder = DUIS / "samples" / "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS-signed.XML"
    assert code_of(world.send("serviceS", placeholder.read_bytes())) == "E1"
    good = world.signed(READ_INVENTORY)
    assert code_of(world.send("serviceD", good)) == "I0"
    for tampered in (
        world.signed(READ_INVENTORY).replace(
            b"00-DB-12-34-56-78-90-A2", b"00-DB-12-34-56-78-90-A3"
        ),
        _changed_first(b"<ds:SignatureValue>", b"AB", world.signed(READ_INVENTORY)),
        _changed_first(b"<ds:X509SerialNumber>", b"98", world.signed(READ_INVENTORY)),
        re.sub(rb"<ds:Signature.*</ds:Signature>", b"", world.signed(READ_INVENTORY)),
    ):
        answer = world.send("serviceD", tampered)
        assert code_of(answer) == "E1", answer.message
    # the originator in the RequestID must be the signer
    forged = world.signed(READ_INVENTORY, OTHER)
    forged = forged.replace(OTHER.value.encode(), SUPPLIER.value.encode(), 1)
    assert code_of(world.send("serviceD", forged)) == "E1"


def _changed_first(tag: bytes, choices: bytes, document: bytes) -> bytes:
    """``document`` with the first character after ``tag`` replaced by one of ``choices``
    that differs from it (a replacement by the same character would change nothing)."""
    at = document.index(tag) + len(tag)
    old = document[at : at + 1]
    new = bytes([choices[0]]) if old != bytes([choices[0]]) else bytes([choices[1]])
    return document[:at] + new + document[at + 1 :]


def test_a_replayed_or_lower_counter_is_refused_even_after_a_restart(world: DuisWorld) -> None:
    first = world.signed(READ_INVENTORY, counter="5000")
    answer = world.send("serviceD", first)
    assert code_of(answer) == "I0"
    again = world.send("serviceD", first)
    assert again.body == answer.body  # idempotent: the same request gets the same answer
    other_body = world.signed(READ_INVENTORY, counter="5000", target="90-B3-D5-1F-30-00-00-03")
    assert code_of(world.send("serviceD", other_body)) == "E31"
    lower = world.signed(READ_INVENTORY, counter="4999")
    assert code_of(world.send("serviceD", lower)) == "E31"
    world.gateway = world.new_gateway()  # a restart
    assert code_of(world.send("serviceD", world.signed(READ_INVENTORY, counter="4000"))) == "E31"
    assert code_of(world.send("serviceD", world.signed(READ_INVENTORY, counter="5001"))) == "I0"


def test_the_endpoint_must_match_the_command_variant_and_the_variant_the_srv(
    world: DuisWorld,
) -> None:
    assert code_of(world.send("serviceS", world.signed(READ_INVENTORY))) == "E13"
    wrong_variant = world.signed(READ_INVENTORY, CommandVariant="1")
    assert code_of(world.send("serviceS", wrong_variant)) == "E12"
    assert code_of(world.send("serviceD", world.signed(READ_REGISTERS))) == "E13"


def _migrate(world: DuisWorld, n: int = 3) -> list[str]:
    import asyncio

    records = [world.fleet.installation(i, dual_fuel=i == 1) for i in range(1, n + 1)]
    for record in records:
        world.install_devices(record)
    batch = world.take_in(records)
    asyncio.run(world.migrate_batches([batch.batch_id]))
    world.register(records)
    return [d.device_id for r in records for d in r.devices]


def test_access_control_checks_role_status_device_and_the_responsible_party(
    world: DuisWorld,
) -> None:
    devices = _migrate(world)
    esme = devices[1]  # of S1-0000001 (CHF, ESME, IHD, GPF, GSME)
    gsme = devices[4]
    unknown = "00-DB-12-34-56-78-90-FF"
    # a commissioned ESME of our supplier: every check passes; device requests come next issue
    ok = world.send("serviceS", world.signed(READ_REGISTERS, target=esme))
    assert code_of(ok) == "E1011", ok.message
    assert code_of(world.send("serviceS", world.signed(READ_REGISTERS, target=unknown))) == "E19"
    # the network operator (ED) may read registers of the ESME it serves
    by_network = world.signed(READ_REGISTERS, NETWORK, target=esme)
    assert code_of(world.send("serviceS", by_network)) == "E1011"
    # the other user is not eligible for 4.1.1
    assert code_of(world.send("serviceS", world.signed(READ_REGISTERS, OTHER, target=esme))) == "E2"
    # an IHD is Commissioned too; a GSME read by the import supplier role is fine as GS
    assert code_of(world.send("serviceS", world.signed(READ_REGISTERS, target=gsme))) == "E1011"
    set_status(world.uow, world.clock, SUPPLIER, False)
    assert code_of(world.send("serviceS", world.signed(READ_REGISTERS, target=esme))) == "E3"
    set_status(world.uow, world.clock, SUPPLIER, True)


def test_the_responsible_supplier_is_judged_on_todays_registration_data(
    world: DuisWorld,
) -> None:
    import asyncio

    other_supplier = Eui64.parse("90-B3-D5-1F-30-01-00-07")
    records = [world.fleet.installation(1)]
    world.install_devices(records[0])
    batch = world.take_in(records)
    asyncio.run(world.migrate_batches([batch.batch_id]))
    esme = records[0].devices[1].device_id
    world.register(records, other_supplier)
    refused = world.send("serviceS", world.signed(READ_REGISTERS, target=esme))
    assert code_of(refused) == "E4", refused.message
    # the registration data makes our supplier responsible from today: accepted
    from datetime import date

    from s1adopt.domain.meter_points import MeterPointKind
    from s1adopt.domain.registration import RegistrationRecord

    with world.uow() as uow:
        uow.programme.add_registrations(
            [
                RegistrationRecord(
                    records[0].mpan or "", MeterPointKind.MPAN, SUPPLIER, NETWORK, date(2026, 1, 1)
                )
            ],
            2,
        )
        uow.commit()
    accepted = world.send("serviceS", world.signed(READ_REGISTERS, target=esme))
    assert code_of(accepted) == "E1011"


def test_read_inventory_lists_the_migrated_smets1_devices_of_a_meter_point(
    world: DuisWorld,
) -> None:
    devices = _migrate(world)
    with world.engine.connect() as conn:
        mpan = conn.execute(
            select(t.installation.c.mpan).where(t.installation.c.reference == "S1-0000001")
        ).scalar_one()
    query = (
        (DUIS / "templates" / READ_INVENTORY)
        .read_bytes()
        .replace(
            b"<sr:DeviceID>00-DB-12-34-56-78-90-A2</sr:DeviceID>",
            f"<sr:MPxN>{mpan}</sr:MPxN>".encode(),
        )
    )
    answer = world.send("serviceD", world.signed(query))
    assert code_of(answer) == "I0"
    listed = re.findall(rb"<sr:DeviceID>([^<]+)</sr:DeviceID>", answer.body)
    assert sorted(d.decode() for d in listed) == sorted(devices[:5])
    assert answer.body.count(b"<sr:CSPRegion>SMETS1</sr:CSPRegion>") == 5
    assert b"<sr:DeviceStatus>Commissioned</sr:DeviceStatus>" in answer.body
    _dsp_verifies(answer.body)


def test_decommission_by_the_responsible_supplier_changes_the_smi(world: DuisWorld) -> None:
    devices = _migrate(world)
    template = (DUIS / "templates" / "8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML").read_bytes()
    body = template.replace(b"00-DB-12-34-56-78-90-A0", devices[1].encode())
    by_other = world.send("serviceD", world.signed(body, NETWORK))
    assert code_of(by_other) == "E2"  # 8.3 is for suppliers
    answer = world.send("serviceD", world.signed(body))
    assert code_of(answer) == "I0", answer.message
    with world.engine.connect() as conn:
        status = conn.execute(
            select(t.device.c.smi_status).where(t.device.c.device_id == devices[1])
        ).scalar_one()
    assert status == "Decommissioned"
    again = world.send("serviceD", world.signed(body))
    assert code_of(again) == "E5"


def test_traffic_over_the_threshold_is_quarantined_alerted_and_released_by_an_operator(
    database_url: str, tmp_path: Path
) -> None:
    world = DuisWorld(
        database_url,
        tmp_path,
        StepClock(),
        GatewaySettings(anomaly_window=timedelta(hours=1), anomaly_thresholds={"8.2": 3}),
    )
    world.add_users()
    codes = [code_of(world.send("serviceD", world.signed(READ_INVENTORY))) for _ in range(5)]
    assert codes == ["I0", "I0", "I0", "E40", "E40"]
    with world.uow() as uow:
        held = uow.duis.requests("quarantined", 10)
        alerts = uow.duis.alerts(10)
    assert len(held) == 2
    assert len(alerts) == 2
    released = world.gateway.release(held[0].record_id)
    assert released.status == "released"
    assert b"<sr:ResponseCode>I0</sr:ResponseCode>" in released.response
    deleted = world.gateway.delete(held[1].record_id)
    assert deleted.status == "deleted"


def test_requests_too_broken_for_duis_get_http_400_with_a_problem(world: DuisWorld) -> None:
    good = world.signed(READ_INVENTORY)
    cases = {
        "type": world.send("serviceD", good, content_type="text/plain"),
        "dtd": world.send(
            "serviceD",
            good.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1),
        ),
        "garbage": world.send("serviceD", b"\x00\xff not xml"),
        "schema": world.send(
            "serviceD", re.sub(rb"<sr:CommandVariant>8</sr:CommandVariant>", b"", good)
        ),
    }
    for name, answer in cases.items():
        assert answer.status == 400, name
        assert answer.code in ("E1000", "E1001"), (name, answer.code)
        assert answer.message
    assert cases["schema"].code == "E1001"
    with world.engine.connect() as conn:
        recorded = conn.execute(select(t.service_request.c.response_code)).scalars().all()
    assert recorded.count("E1000") >= 3


def test_every_request_is_recorded_with_the_verdict_of_each_check(world: DuisWorld) -> None:
    world.send("serviceD", world.signed(READ_INVENTORY, counter="7000"))
    with world.uow() as uow:
        record = uow.duis.request(f"{SUPPLIER.value}:90-B3-D5-1F-30-00-00-02:7000")
    assert record is not None
    checks = [c for c, _ in record.verdicts]
    assert checks == [
        "size and type",
        "parse",
        "schema",
        "signature",
        "anti-replay",
        "endpoint and command variant",
        "access control",
        "anomaly detection",
        "answer",
    ]
    assert ResponseCode(record.response_code) is ResponseCode.SUCCESS
