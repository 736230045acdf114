"""Intake and the migration pipeline on real SQLite and PostgreSQL, with a fake head end."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.queries import SqlMigrationQueries
from s1adopt.domain.devices import ReportedDevice
from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.secrets import Secret
from tests.builders import with_device
from tests.conftest import StepClock
from tests.fakes import SimulatedCrash
from tests.integration.migration_world import World


@pytest.fixture
def world(database_url: str, tmp_path: Path, clock: StepClock) -> World:
    return World(database_url, tmp_path, clock)


def _healthy(world: World, n: int) -> list[InstallationRecord]:
    records = [world.fleet.installation(i, dual_fuel=i % 3 == 0) for i in range(1, n + 1)]
    for record in records:
        world.install_devices(record)
    return records


async def test_a_healthy_fleet_is_commissioned_with_smi_history_flags_and_new_credentials(
    world: World,
) -> None:
    records = _healthy(world, 10)
    batch = world.take_in(records)
    assert (batch.validated, batch.failed) == (10, 0)
    await world.migrate_batches([batch.batch_id])
    assert set(world.outcomes(batch.batch_id).values()) == {"commissioned"}
    credentialed = [
        e
        for r in records
        for d in r.devices
        if (e := Eui64.parse(d.device_id)) in world.fleet.credentials
    ]
    assert all(world.headend.replacements[e] == 1 for e in credentialed)
    # the SMSO credentials no longer work anywhere
    assert all(
        world.headend.devices[e].credential != world.fleet.credentials[e] for e in credentialed
    )
    view = SqlMigrationQueries(world.engine).find_installation(records[2].mpan or "")
    assert view is not None
    assert view.state == "commissioned"
    assert {flag for _, _, flag in view.meter_points} == {"Enrolled"}
    for device in view.devices:
        assert device.smi_status == "Commissioned"
        assert [h.status for h in device.history] == ["Pending", "Commissioned"]
    with world.engine.connect() as conn:
        purposes = set(conn.execute(select(t.device_credential.c.purpose)).scalars())
        work = conn.execute(select(t.work_item)).all()
    assert purposes == {"dcc"}
    assert work == []


async def test_the_same_file_taken_in_twice_is_one_batch(world: World) -> None:
    records = _healthy(world, 3)
    first = world.take_in(records)
    again = world.take_in(records)
    assert again.batch_id == first.batch_id
    assert again.already_known


async def test_device_faults_end_in_their_reason_codes_and_touch_no_credential(
    world: World,
) -> None:
    records = _healthy(world, 4)
    esme = [Eui64.parse(r.devices[1].device_id) for r in records]
    world.headend.devices[esme[0]].answers = False
    world.headend.devices[esme[1]].credential = Secret(b"x" * 32)
    reported = world.headend.devices[esme[2]].reported
    world.headend.devices[esme[2]].reported = ReportedDevice(
        reported.device_type, reported.manufacturer, reported.model, "1.7.3"
    )
    batch = world.take_in(records)
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {
        "S1-0000001": "device_no_response",
        "S1-0000002": "credential_mismatch",
        "S1-0000003": "firmware_mismatch",
        "S1-0000004": "commissioned",
    }
    assert world.headend.replacements[esme[0]] == 0
    assert sum(world.headend.replacements.values()) == 2  # CHF and ESME of S1-0000004


async def test_an_unavailable_head_end_fails_the_attempt_with_its_reason(world: World) -> None:
    batch = world.take_in(_healthy(world, 2))
    world.headend.available = False
    await world.migrate_batches([batch.batch_id])
    assert set(world.outcomes(batch.batch_id).values()) == {"head_end_unavailable"}


async def test_a_crash_mid_commissioning_resumes_without_replacing_any_credential_twice(
    world: World,
) -> None:
    records = _healthy(world, 12)
    batch = world.take_in(records)
    world.headend.crash_after_replacements = 7
    with pytest.raises(SimulatedCrash):
        await world.migrate_batches([batch.batch_id], chunk=5)
    world.headend.crash_after_replacements = None
    await world.migrate_batches([batch.batch_id], chunk=5)
    assert set(world.outcomes(batch.batch_id).values()) == {"commissioned"}
    assert max(world.headend.replacements.values()) == 1
    assert len(world.headend.replacements) == len(world.fleet.credentials)


async def test_validation_failures_are_stored_with_reasons_and_no_devices(world: World) -> None:
    good = _healthy(world, 2)
    bad_id = with_device(world.fleet.installation(10), 1, device_id="ZZ")
    duplicate = with_device(world.fleet.installation(11), 1, device_id=good[0].devices[1].device_id)
    batch = world.take_in([*good, bad_id, duplicate])
    assert (batch.validated, batch.failed) == (2, 2)
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {
        "S1-0000001": "commissioned",
        "S1-0000002": "commissioned",
        "S1-0000010": "invalid_device_id",
        "S1-0000011": "duplicate_device",
    }


async def test_a_rejected_file_leaves_nothing_behind(world: World) -> None:
    records = _healthy(world, 5)
    with pytest.raises(MigrationFileRejected, match="RecordCount"):
        world.take_in(records, declared=6)
    with world.engine.connect() as conn:
        for table in (
            t.migration_batch,
            t.installation,
            t.device,
            t.device_credential,
            t.work_item,
        ):
            assert conn.execute(select(table)).all() == []


async def test_no_table_holds_a_credential_in_clear(world: World) -> None:
    records = _healthy(world, 3)
    batch = world.take_in(records)
    await world.migrate_batches([batch.batch_id])
    secrets = [s.reveal() for s in world.fleet.credentials.values()]
    with world.engine.connect() as conn:
        for table in t.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert not any(s in raw or s.hex().encode() in raw for s in secrets)


def test_a_database_error_never_carries_the_statement_parameters(world: World) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    with world.engine.connect() as conn, pytest.raises(IntegrityError) as caught:
        conn.execute(
            insert(t.device_credential),
            {
                "device_id": "no-such-device",
                "purpose": "smso",
                "sealed": b"SEALED-BLOB",
                "created_at": world.clock.now(),
            },
        )
    assert "SEALED-BLOB" not in str(caught.value)
    assert "parameters hidden" in str(caught.value)


async def test_gt01_a_gas_side_han_failure_migrates_the_electricity_side_alone(
    world: World,
) -> None:
    record = world.fleet.installation(1, dual_fuel=True)
    world.install_devices(record)
    gas = [Eui64.parse(d.device_id) for d in record.devices if d.device_type in ("GPF", "GSME")]
    for device in gas:
        world.headend.devices[device].han_failure = True
    batch = world.take_in([record])
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {"S1-0000001": "commissioned_electricity_only"}
    view = SqlMigrationQueries(world.engine).find_installation(record.reference)
    assert view is not None
    statuses = {d.device_type: (d.smi_status, d.credential_holder) for d in view.devices}
    assert statuses["ESME"] == ("Commissioned", "dcc")
    assert statuses["CHF"] == ("Commissioned", "dcc")
    assert statuses["GSME"] == ("Pending", "smso")
    assert statuses["GPF"] == ("Pending", "smso")
    flags = {kind: flag for _, kind, flag in view.meter_points}
    assert flags == {"MPAN": "Enrolled", "MPRN": None}
    assert all(world.headend.replacements[d] == 0 for d in gas)
    assert any("GT01" in h.note for h in view.history)


async def test_a_han_failure_alongside_an_electricity_fault_fails_the_installation(
    world: World,
) -> None:
    record = world.fleet.installation(1, dual_fuel=True)
    world.install_devices(record)
    for dev in record.devices:
        eui = Eui64.parse(dev.device_id)
        if dev.device_type == "GSME":
            world.headend.devices[eui].han_failure = True
        if dev.device_type == "ESME":
            world.headend.devices[eui].credential = Secret(b"y" * 32)
    batch = world.take_in([record])
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {"S1-0000001": "credential_mismatch"}


async def test_a_dormant_installation_is_upgraded_to_eligible_firmware_then_commissioned(
    world: World,
) -> None:
    record = with_device(world.fleet.installation(1, kind="Dormant"), 1, firmware_version="1.6.0")
    world.install_devices(record)
    esme = Eui64.parse(record.devices[1].device_id)
    world.headend.devices[esme].dormant = True
    batch = world.take_in([record])
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {"S1-0000001": "commissioned"}
    assert world.headend.devices[esme].firmware_operations == 2
    view = SqlMigrationQueries(world.engine).find_installation(record.reference)
    assert view is not None
    esme_view = next(d for d in view.devices if d.device_type == "ESME")
    assert esme_view.firmware_version == "1.7.2"
    assert esme_view.smi_status == "Commissioned"


async def test_an_active_installation_with_ineligible_firmware_is_not_upgraded(
    world: World,
) -> None:
    record = with_device(world.fleet.installation(1), 1, firmware_version="1.6.0")
    world.install_devices(record)
    batch = world.take_in([record])
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {"S1-0000001": "product_not_eligible"}
