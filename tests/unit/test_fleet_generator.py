"""The fleet generator: deterministic fleets whose planted faults lead to known outcomes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import Product
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.failures import COMMISSIONED_OUTCOME, FailureReason
from s1adopt.domain.identities import Eui64
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.validation import validate_installation
from s1adopt.emulators.faults import FAULT_KINDS, FaultKind, fault_of, plan_faults
from s1adopt.emulators.fleet import MAX_INSTALLATIONS, generate_fleet
from s1adopt.emulators.profiles import SMSO_IOC
from s1adopt.formats.credentials import CredentialOpener
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.formats.migration.reader import MigrationFileReader

SMSO_FILE = "migration/smso-ioc.xml"
DEVICES_FILE = "emulator/smso-ioc.devices.jsonl"


@pytest.fixture(scope="module")
def service_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def expected(fleet: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((fleet / "expected.json").read_text())
    return doc


def emulated_devices(fleet: Path) -> dict[str, dict[str, Any]]:
    lines = (fleet / DEVICES_FILE).read_text().splitlines()
    return {doc["id"]: doc for doc in map(json.loads, lines)}


def records(fleet: Path) -> list[InstallationRecord]:
    with MigrationFileReader(fleet / SMSO_FILE) as reader:
        return list(reader)


def esme(record: InstallationRecord) -> Any:
    return next(d for d in record.devices if d.device_type == "ESME")


@pytest.fixture(scope="module")
def faulty_fleet(tmp_path_factory: pytest.TempPathFactory, service_key: X25519PrivateKey) -> Path:
    out = tmp_path_factory.mktemp("faulty")
    generate_fleet(out, 40, 0.3, 11, public(service_key))
    return out


def test_the_same_seed_gives_the_same_expected_outcomes_and_devices(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    first = generate_fleet(tmp_path / "a", 50, 0.2, 5, public(service_key))
    second = generate_fleet(tmp_path / "b", 50, 0.2, 5, public(service_key))

    assert first.outcomes == second.outcomes
    for name in ("expected.json", DEVICES_FILE, "emulator/fleet.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    plain = [
        (
            r.reference,
            r.mpan,
            r.mprn,
            [(d.device_id, d.model, d.firmware_version) for d in r.devices],
        )
        for r in records(tmp_path / "a")
    ]
    assert plain == [
        (
            r.reference,
            r.mpan,
            r.mprn,
            [(d.device_id, d.model, d.firmware_version) for d in r.devices],
        )
        for r in records(tmp_path / "b")
    ]


def test_another_seed_gives_another_fleet(tmp_path: Path, service_key: X25519PrivateKey) -> None:
    generate_fleet(tmp_path / "a", 30, 0.2, 5, public(service_key))
    generate_fleet(tmp_path / "b", 30, 0.2, 6, public(service_key))

    assert (tmp_path / "a" / DEVICES_FILE).read_bytes() != (
        tmp_path / "b" / DEVICES_FILE
    ).read_bytes()


def test_every_fault_kind_appears_with_its_outcome_once_there_are_seven_faults(
    faulty_fleet: Path,
) -> None:
    doc = expected(faulty_fleet)

    assert doc["total"] == 40
    assert sum(doc["outcomes"].values()) == 40
    assert doc["outcomes"][COMMISSIONED_OUTCOME] == 40 - round(40 * 0.3)
    for kind in FaultKind:
        assert doc["outcomes"][kind.outcome] >= 1
        assert FailureReason(kind.outcome)  # every outcome is a reason code of the service
    listed = list(doc["installations"].values())
    assert {outcome: listed.count(outcome) for outcome in listed} == doc["outcomes"]


def test_the_migration_file_parses_and_holds_as_many_records_as_its_header_says(
    faulty_fleet: Path,
) -> None:
    with MigrationFileReader(faulty_fleet / SMSO_FILE) as reader:
        header = reader.read_header()
        found = list(reader)

    assert header.record_count == len(found) == 40
    assert header.file_id == "MIG-SMSO-IOC-11"
    assert header.smso == SMSO_IOC.eui
    assert header.responsible_supplier == "90-B3-D5-1F-30-01-00-00"
    assert header.schema_version == "1.0"
    assert [r.reference for r in found] == [f"S1-{n:07d}" for n in range(1, 41)]
    assert {r.cohort for r in found} == {"IOC"}
    assert {r.installation_type for r in found} == {"Active"}


def test_data_validation_fails_exactly_the_installations_planted_with_data_faults(
    faulty_fleet: Path,
) -> None:
    eligible = load_eligible_products()
    claimed: set[Eui64 | str] = set()
    outcomes = expected(faulty_fleet)["installations"]
    device_stage = {
        FailureReason.DEVICE_NO_RESPONSE,
        FailureReason.FIRMWARE_MISMATCH,
        FailureReason.CREDENTIAL_MISMATCH,
    }

    for record in records(faulty_fleet):
        result = validate_installation(record, eligible, claimed.__contains__)
        if result.ok:
            claimed.update(d.device_id for d in result.devices)
            claimed.update(p for p in (record.mpan, record.mprn) if p)
            assert outcomes[record.reference] == COMMISSIONED_OUTCOME or (
                FailureReason(outcomes[record.reference]) in device_stage
            )
        else:
            assert result.failure == FailureReason(outcomes[record.reference]), result.detail


def test_the_file_credentials_are_the_devices_own_except_under_credential_mismatch(
    faulty_fleet: Path, service_key: X25519PrivateKey
) -> None:
    devices = emulated_devices(faulty_fleet)
    outcomes = expected(faulty_fleet)["installations"]
    with MigrationFileReader(faulty_fleet / SMSO_FILE) as reader:
        header = reader.read_header()
        opener = CredentialOpener(service_key, header.transport_public_key, header.file_id)
        for record in reader:
            for device in record.devices:
                if device.device_type == "IHD":
                    assert device.credential is None
                    continue
                assert device.credential is not None
                sealed = opener.open(device.device_id, device.credential).reveal()
                try:
                    held = devices[Eui64.parse(device.device_id).hex]["credential"]
                except InvalidIdentity:
                    continue  # the malformed ESME is not in the emulated world
                mismatch = (
                    device.device_type == "ESME"
                    and outcomes[record.reference] == FailureReason.CREDENTIAL_MISMATCH
                )
                assert (sealed.hex() != held) is mismatch


def test_the_emulated_devices_differ_from_the_file_only_by_their_planted_faults(
    faulty_fleet: Path,
) -> None:
    devices = emulated_devices(faulty_fleet)
    outcomes = expected(faulty_fleet)["installations"]
    listed = 0
    for record in records(faulty_fleet):
        outcome = outcomes[record.reference]
        for device in record.devices:
            try:
                emulated = devices.get(Eui64.parse(device.device_id).hex)
            except InvalidIdentity:
                assert outcome == FailureReason.INVALID_DEVICE_ID
                continue
            is_faulty_esme = device.device_type == "ESME" and outcome != COMMISSIONED_OUTCOME
            if is_faulty_esme and outcome == FailureReason.DUPLICATE_DEVICE:
                continue  # the head end knows this ESME from its first owner
            assert emulated is not None
            listed += 1
            assert emulated["type"] == device.device_type
            assert emulated["model"] == device.model
            assert emulated["manufacturer"] == device.manufacturer
            firmware_differs = emulated["firmware"] != device.firmware_version
            assert firmware_differs is (
                is_faulty_esme and outcome == FailureReason.FIRMWARE_MISMATCH
            )
            no_answer = emulated["fault"] == "no_answer"
            assert no_answer is (is_faulty_esme and outcome == FailureReason.DEVICE_NO_RESPONSE)
            if device.device_type in ("ESME", "GSME"):
                assert emulated["registers"]["import_wh"] >= 0
    assert listed == len(devices)


def test_a_duplicate_device_is_the_esme_of_an_earlier_commissioned_installation(
    faulty_fleet: Path,
) -> None:
    outcomes = expected(faulty_fleet)["installations"]
    first_holder: dict[str, str] = {}
    duplicates = 0
    for record in records(faulty_fleet):
        device_id = esme(record).device_id
        if outcomes[record.reference] == FailureReason.DUPLICATE_DEVICE:
            duplicates += 1
            earlier = first_holder[device_id]
            assert outcomes[earlier] == COMMISSIONED_OUTCOME
            assert earlier < record.reference
        else:
            first_holder.setdefault(device_id, record.reference)
    assert duplicates >= 1


def test_no_faults_means_every_installation_is_commissioned(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    summary = generate_fleet(tmp_path, 25, 0.0, 3, public(service_key))

    assert summary.outcomes == {COMMISSIONED_OUTCOME: 25}
    assert set(expected(tmp_path)["installations"].values()) == {COMMISSIONED_OUTCOME}
    assert all(d["fault"] is None for d in emulated_devices(tmp_path).values())


def test_the_composition_does_not_depend_on_the_fault_rate(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    generate_fleet(tmp_path / "clean", 30, 0.0, 9, public(service_key))
    generate_fleet(tmp_path / "faulty", 30, 0.5, 9, public(service_key))
    outcomes = expected(tmp_path / "faulty")["installations"]

    clean = {r.reference: r for r in records(tmp_path / "clean")}
    for record in records(tmp_path / "faulty"):
        if outcomes[record.reference] == COMMISSIONED_OUTCOME:
            twin = clean[record.reference]
            assert [d.device_id for d in record.devices] == [d.device_id for d in twin.devices]
            assert (record.mpan, record.mprn) == (twin.mpan, twin.mprn)


def test_installations_have_the_documented_composition(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    generate_fleet(tmp_path, 400, 0.0, 21, public(service_key))
    eligible = load_eligible_products()
    dual = prepayment = 0
    for record in records(tmp_path):
        kinds = [d.device_type for d in record.devices]
        by_id = {d.device_id: d.device_type for d in record.devices}
        assert kinds[:2] == ["CHF", "ESME"]
        assert "IHD" in kinds
        assert record.mpan
        if "GSME" in kinds:
            dual += 1
            assert "GPF" in kinds
            assert record.mprn
        if "PPMID" in kinds:
            prepayment += 1
        for device in record.devices:
            target = {"ESME": "CHF", "GPF": "CHF", "GSME": "GPF", "IHD": "CHF", "PPMID": "CHF"}
            if device.device_type in target:
                assert by_id[device.associated_with or ""] == target[device.device_type]
            assert (
                Product(
                    DeviceType(device.device_type),
                    device.manufacturer,
                    device.model,
                    device.firmware_version,
                )
                in eligible
            )
    assert 0.30 < dual / 400 < 0.50
    assert 0.08 < prepayment / 400 < 0.22


def test_progress_reports_add_up_to_the_number_of_installations(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    reported: list[int] = []

    generate_fleet(tmp_path, 2500, 0.0, 1, public(service_key), reported.append)

    assert sum(reported) == 2500
    assert len(reported) >= 3


def test_regenerating_replaces_the_fleet_files_and_drops_the_old_journal_only(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    generate_fleet(tmp_path, 10, 0.0, 1, public(service_key))
    journal = tmp_path / "emulator" / "smso-ioc.journal.jsonl"
    journal.write_text('{"id": "000D6F0100000001", "credential": "00"}\n')
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")

    summary = generate_fleet(tmp_path, 12, 0.0, 2, public(service_key))

    assert not journal.exists()
    assert keep.read_text() == "mine"
    assert expected(tmp_path)["total"] == 12
    assert summary.files == [tmp_path / SMSO_FILE]
    assert not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize(
    ("installations", "fault_rate", "seed", "key_size", "message"),
    [
        (0, 0.1, 1, 32, "installations must be between 1"),
        (MAX_INSTALLATIONS + 1, 0.1, 1, 32, "installations must be between 1"),
        (10, -0.1, 1, 32, "fault_rate must be between 0 and 1"),
        (10, 1.5, 1, 32, "fault_rate must be between 0 and 1"),
        (10, float("nan"), 1, 32, "fault_rate must be between 0 and 1"),
        (10, 0.1, -1, 32, "seed must be"),
        (10, 0.1, 1, 31, "X25519 public key"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(
    tmp_path: Path, installations: int, fault_rate: float, seed: int, key_size: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_fleet(tmp_path / "out", installations, fault_rate, seed, bytes(key_size))
    assert not (tmp_path / "out").exists()


def test_an_output_path_that_is_a_file_is_refused(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    target = tmp_path / "file"
    target.write_text("x")

    with pytest.raises(ValueError, match="not a directory"):
        generate_fleet(target, 5, 0.0, 1, public(service_key))


def test_a_duplicate_is_never_planned_before_the_first_healthy_installation() -> None:
    for seed in range(200):
        plan = plan_faults(20, 0.6, random.Random(seed), [20])
        first_healthy = plan.index(0)
        assert FaultKind.DUPLICATE_DEVICE.code not in plan[: first_healthy + 1]
        assert plan.count(0) == 20 - 12


def test_a_fleet_where_every_installation_is_faulty_plants_no_duplicates() -> None:
    plan = plan_faults(14, 1.0, random.Random(1), [14])

    kinds = [fault_of(code) for code in plan]
    assert None not in kinds
    assert FaultKind.DUPLICATE_DEVICE not in kinds
    assert set(kinds) == set(FAULT_KINDS) - {FaultKind.DUPLICATE_DEVICE}
