"""Loading a generated fleet's world from its files: head ends, journals, determinism."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.operations import DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.world.clock import DAY, time_text
from s1adopt.emulators.world.core import EmulatedHeadEnd, HeadEndSettings
from s1adopt.emulators.world.core_api import CoreRefusal
from s1adopt.emulators.world.faults import DeviceFault
from s1adopt.emulators.world.loader import World, load_world
from s1adopt.formats.device_auth import ErrorCode, new_nonce, request_tag, seal_new_credential
from s1adopt.formats.firmware import firmware_image_hash

D = DeviceOperation
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()
FAST = HeadEndSettings(no_answer_delay=0.001, slow_delay=0.01, model_delays=False)


def fixed_clock() -> float:
    return NOW


def device_lines(fleet: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((fleet / "emulator").glob("*.devices.jsonl"))
        for line in path.read_text().splitlines()
    ]


def first(fleet: Path, **wanted: Any) -> dict[str, Any]:
    return next(d for d in device_lines(fleet) if all(d.get(k) == v for k, v in wanted.items()))


async def run(
    world: World,
    device: dict[str, Any],
    op: DeviceOperation,
    params: dict[str, Any] | None = None,
    credential: bytes | None = None,
) -> dict[str, Any]:
    found = world.find(device["id"])
    assert found is not None
    headend, key, _ = found
    params = params or {}
    secret = Secret(credential or bytes.fromhex(device["credential"]))
    nonce = new_nonce()
    return await headend.execute(
        key, op, params, nonce, request_tag(secret, op, key, nonce, params)
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet")
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(out, 80, 0.25, 5, key, dormant_rate=0.1)
    return out


@pytest.fixture
def world(fleet: Path) -> Any:
    for journal in (fleet / "emulator").glob("*.journal.jsonl"):
        journal.unlink()
    loaded = load_world(fleet, fixed_clock, settings=FAST)
    yield loaded
    loaded.close()


def test_each_smso_gets_a_head_end_with_its_cohort_protocol_and_devices(world: World) -> None:
    assert [(h.name, h.cohort, h.protocol, h.session_limit) for h in world.headends] == [
        ("smso-ioc", "IOC", "s1-json/2", 64),
        ("smso-moc", "MOC", "s1-bin/1", 32),
        ("smso-foc", "FOC", "s1-xml/1", 48),
    ]
    assert all(isinstance(h, EmulatedHeadEnd) and h.devices for h in world.headends)
    assert all(h.smso.startswith("90-B3-D5-1F-30-10-00-0") for h in world.headends)
    stats = world.stats()
    assert stats["totals"]["devices"] == sum(len(h.devices) for h in world.headends)
    assert stats["devices"] == {}


def test_devices_share_their_model_and_firmware_objects(world: World) -> None:
    devices = list(world.headends[2].devices.values())
    same = [d for d in devices if d.model is devices[0].model]

    assert len(same) > 1
    assert all(d.firmware is same[0].firmware for d in same if d.fault is None)


async def test_a_device_answers_through_the_head_end_of_its_smso(world: World, fleet: Path) -> None:
    esme = first(fleet, type="ESME", fault=None, manufacturer="EDM Instruments")

    identity = await run(world, esme, D.READ_IDENTITY)
    config = await run(world, esme, D.READ_CONFIGURATION)

    assert identity["model"] == "EDM-Atlas-Mk10A"
    assert identity["firmware"] == "0x0172"
    assert config["mpxn"] == esme["mpxn"]
    assert config["paymentMode"] == esme["payment"]
    assert world.stats()["operations"] == {"read_configuration": 1, "read_identity": 1}
    assert world.stats()["headends"]["smso-foc"]["requests"] == 2


async def test_the_same_seed_gives_the_same_reads(
    fleet: Path, tmp_path: Path, world: World
) -> None:
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(tmp_path, 80, 0.25, 5, key, dormant_rate=0.1)
    twin = load_world(tmp_path, fixed_clock, settings=FAST)
    try:
        for kind in ("ESME", "GSME"):
            meter = first(fleet, type=kind, fault=None)
            span = {"from": time_text(int(NOW) - 2 * DAY), "to": time_text(int(NOW))}
            for op, params in ((D.READ_INSTANTANEOUS, {}), (D.READ_PROFILE, span)):
                assert await run(world, meter, op, params) == await run(twin, meter, op, params)
    finally:
        twin.close()


async def test_credential_and_firmware_changes_survive_a_restart(fleet: Path) -> None:
    for journal in (fleet / "emulator").glob("*.journal.jsonl"):
        journal.unlink()
    chf = first(fleet, type="CHF", fault=None, manufacturer="Keystone Comms")
    new = bytes(range(50, 82))
    image = firmware_image_hash(chf["manufacturer"], chf["model"], "V03.02.00")
    world = load_world(fleet, fixed_clock, settings=FAST)
    try:
        params = seal_new_credential(
            Secret(bytes.fromhex(chf["credential"])), Secret(new), chf["id"]
        )
        await run(world, chf, D.REPLACE_CREDENTIAL, params)
        upgrade = {"version": "V03.02.00", "imageHash": image}
        await run(world, chf, D.UPDATE_FIRMWARE, upgrade, credential=new)
        await run(world, chf, D.ACTIVATE_FIRMWARE, {"version": "V03.02.00"}, credential=new)
    finally:
        world.close()

    again = load_world(fleet, fixed_clock, settings=FAST)
    try:
        with pytest.raises(CoreRefusal) as old:
            await run(again, chf, D.READ_IDENTITY)
        identity = await run(again, chf, D.READ_IDENTITY, credential=new)
    finally:
        again.close()
        for journal in (fleet / "emulator").glob("*.journal.jsonl"):
            journal.unlink()

    assert old.value.code is ErrorCode.AUTH_FAILED
    assert identity["firmware"] == "V03.02.00"


async def test_a_dormant_device_wakes_after_the_eligible_firmware_and_stays_awake(
    fleet: Path, world: World
) -> None:
    device = first(fleet, fault="dormant", type="ESME")
    found = world.find(device["id"])
    assert found is not None
    model = found[2].model
    assert device["firmware"] == model.dormant_firmware
    image = firmware_image_hash(model.manufacturer, model.model, model.firmware or "")

    with pytest.raises(CoreRefusal) as asleep:
        await run(world, device, D.READ_IDENTITY)
    await run(world, device, D.UPDATE_FIRMWARE, {"version": model.firmware, "imageHash": image})
    await run(world, device, D.ACTIVATE_FIRMWARE, {"version": model.firmware})
    world.close()
    restarted = load_world(fleet, fixed_clock, settings=FAST)
    try:
        identity = await run(restarted, device, D.READ_IDENTITY)
    finally:
        restarted.close()

    assert asleep.value.code is ErrorCode.NO_RESPONSE
    assert identity["firmware"] == model.firmware
    assert restarted.find(device["id"])[2].fault is None  # type: ignore[index]


async def test_planted_faults_are_loaded_from_the_device_list(world: World, fleet: Path) -> None:
    han = first(fleet, fault="han_failure", type="GSME")
    garbled = next((d for d in device_lines(fleet) if d["fault"] == "garbled_once"), None)

    with pytest.raises(CoreRefusal) as refused:
        await run(world, han, D.READ_IDENTITY)

    assert refused.value.code is ErrorCode.HAN_FAILURE
    if garbled is not None:
        found = world.find(garbled["id"])
        assert found is not None
        assert (found[2].fault, found[2].fault_left) == (DeviceFault.GARBLED, 1)


def test_a_manifest_of_the_previous_version_is_refused(tmp_path: Path) -> None:
    (tmp_path / "emulator").mkdir()
    (tmp_path / "emulator" / "fleet.json").write_text('{"version": 1, "seed": 1, "smsos": []}')

    with pytest.raises(ValueError, match="generate the fleet again"):
        load_world(tmp_path)


def test_a_device_listed_by_two_smsos_is_refused(fleet: Path, tmp_path: Path) -> None:
    target = tmp_path / "emulator"
    target.mkdir()
    for path in (fleet / "emulator").glob("*.json*"):
        if not path.name.endswith(".journal.jsonl"):
            (target / path.name).write_text(path.read_text())
    moc = target / "smso-moc.devices.jsonl"
    moc.write_text(moc.read_text() + (target / "smso-ioc.devices.jsonl").read_text())

    with pytest.raises(ValueError, match="is served by smso-ioc and smso-moc"):
        load_world(tmp_path)


def test_a_torn_last_journal_line_is_cut_and_a_bad_line_stops_the_load(
    fleet: Path, world: World
) -> None:
    world.close()
    journal = fleet / "emulator" / "smso-ioc.journal.jsonl"
    journal.write_text('{"id": "000D6F0100000009", "credential": "00ff"}\n{"id": "000D')
    load_world(fleet, fixed_clock).close()
    assert journal.read_text().endswith("}\n")

    journal.write_text('{"id": "nonsense", "credential": "00"}\n')
    with pytest.raises(ValueError, match="line 1"):
        load_world(fleet, fixed_clock)
    journal.unlink()
