"""The fleet generator: deterministic fleets whose planted faults lead to known outcomes."""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import Product
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.failures import (
    COMMISSIONED_OUTCOME,
    ELECTRICITY_ONLY_OUTCOME,
    FailureReason,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.validation import validate_installation
from s1adopt.emulators.faults import DORMANT, FAULT_KINDS, FaultKind, fault_of, plan_faults
from s1adopt.emulators.fleet import MAX_INSTALLATIONS, generate_fleet
from s1adopt.emulators.profiles import SMSO_FOC, SMSO_IOC, SMSO_MOC, SMSO_PROFILES
from s1adopt.formats.credentials import CredentialOpener
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.formats.migration.reader import MigrationFileReader

SMSO_FILES = [f"migration/{p.name}.xml" for p in SMSO_PROFILES]
DEVICE_FILES = [f"emulator/{p.name}.devices.jsonl" for p in SMSO_PROFILES]
DEVICES_FILE = DEVICE_FILES[0]
SUCCESS = {COMMISSIONED_OUTCOME, ELECTRICITY_ONLY_OUTCOME}


@pytest.fixture(scope="module")
def service_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def expected(fleet: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((fleet / "expected.json").read_text())
    return doc


def emulated_devices(fleet: Path) -> dict[str, dict[str, Any]]:
    lines = [line for name in DEVICE_FILES for line in (fleet / name).read_text().splitlines()]
    return {doc["id"]: doc for doc in map(json.loads, lines)}


def records(fleet: Path) -> list[InstallationRecord]:
    found: list[InstallationRecord] = []
    for name in SMSO_FILES:
        with MigrationFileReader(fleet / name) as reader:
            found.extend(reader)
    return found


def esme(record: InstallationRecord) -> Any:
    return next(d for d in record.devices if d.device_type == "ESME")


@pytest.fixture(scope="module")
def faulty_fleet(tmp_path_factory: pytest.TempPathFactory, service_key: X25519PrivateKey) -> Path:
    out = tmp_path_factory.mktemp("faulty")
    generate_fleet(out, 60, 0.4, 11, public(service_key), dormant_rate=0.1)
    return out


def test_the_same_seed_gives_the_same_expected_outcomes_and_devices(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    first = generate_fleet(tmp_path / "a", 50, 0.2, 5, public(service_key))
    second = generate_fleet(tmp_path / "b", 50, 0.2, 5, public(service_key))

    assert first.outcomes == second.outcomes
    for name in ("expected.json", *DEVICE_FILES, "emulator/fleet.json"):
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


def test_every_fault_kind_appears_with_its_outcome_once_there_are_ten_faults(
    faulty_fleet: Path,
) -> None:
    doc = expected(faulty_fleet)
    successes = {
        COMMISSIONED_OUTCOME: 60 - 24 + 2 * 24 // 10,  # healthy, dormant, slow, garbled once
        ELECTRICITY_ONLY_OUTCOME: 24 // 10,
    }

    assert doc["total"] == 60
    assert sum(doc["outcomes"].values()) == 60
    for outcome, count in successes.items():
        assert doc["outcomes"][outcome] >= count
    for kind in FaultKind:
        assert doc["outcomes"][kind.outcome] >= 1
        assert kind.outcome in SUCCESS or FailureReason(kind.outcome)
    listed = list(doc["installations"].values())
    assert {outcome: listed.count(outcome) for outcome in listed} == doc["outcomes"]
    assert doc["cohorts"] == {"IOC": 16, "MOC": 19, "FOC": 25}
    assert doc["dormant_rate"] == 0.1


@pytest.mark.parametrize("profile", [SMSO_IOC, SMSO_MOC, SMSO_FOC])
def test_each_cohort_has_its_own_migration_file_with_its_smso_in_the_header(
    faulty_fleet: Path, profile: Any
) -> None:
    with MigrationFileReader(faulty_fleet / f"migration/{profile.name}.xml") as reader:
        header = reader.read_header()
        found = list(reader)

    assert header.record_count == len(found) == expected(faulty_fleet)["cohorts"][profile.cohort]
    assert header.file_id == f"MIG-SMSO-{profile.cohort}-11"
    assert header.smso == profile.eui
    assert header.responsible_supplier == "90-B3-D5-1F-30-01-00-00"
    assert header.schema_version == "1.0"
    assert {r.cohort for r in found} == {profile.cohort}
    for record in found:
        for device in record.devices:
            if not device.model.endswith("-PROTO"):
                model = model_for(device.device_type, device.manufacturer, device.model)
                assert model.cohort == profile.cohort


def test_the_files_together_hold_every_reference_once_in_order(faulty_fleet: Path) -> None:
    found = records(faulty_fleet)

    assert [r.reference for r in found] == [f"S1-{n:07d}" for n in range(1, 61)]
    assert {r.installation_type for r in found} == {"Active", "Dormant"}


def test_the_manifest_lists_each_smso_with_protocol_cohort_and_session_limit(
    faulty_fleet: Path,
) -> None:
    doc = json.loads((faulty_fleet / "emulator/fleet.json").read_text())

    assert doc["version"] == 2
    assert [(s["name"], s["cohort"], s["protocol"], s["sessionLimit"]) for s in doc["smsos"]] == [
        ("smso-ioc", "IOC", "s1-json/2", 64),
        ("smso-moc", "MOC", "s1-bin/1", 32),
        ("smso-foc", "FOC", "s1-xml/1", 48),
    ]
    assert [s["devices"] for s in doc["smsos"]] == [Path(f).name for f in DEVICE_FILES]


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
            assert outcomes[record.reference] in SUCCESS or (
                FailureReason(outcomes[record.reference]) in device_stage
            )
            upgrades = {d.upgrade_to for d in result.devices if d.record.firmware_version}
            if record.installation_type == "Dormant":
                assert None not in upgrades  # every device is upgraded first
            else:
                assert upgrades == {None}
        else:
            assert result.failure == FailureReason(outcomes[record.reference]), result.detail


def test_the_file_credentials_are_the_devices_own_except_under_credential_mismatch(
    faulty_fleet: Path, service_key: X25519PrivateKey
) -> None:
    devices = emulated_devices(faulty_fleet)
    outcomes = expected(faulty_fleet)["installations"]
    for name in SMSO_FILES:
        with MigrationFileReader(faulty_fleet / name) as reader:
            header = reader.read_header()
            opener = CredentialOpener(service_key, header.transport_public_key, header.file_id)
            _check_credentials(list(reader), opener, devices, outcomes)


def _check_credentials(
    found: list[InstallationRecord],
    opener: CredentialOpener,
    devices: dict[str, dict[str, Any]],
    outcomes: dict[str, str],
) -> None:
    for record in found:
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
    plan = _plan_of(faulty_fleet)
    listed = 0
    for record in records(faulty_fleet):
        kind = plan[record.reference]
        for device in record.devices:
            try:
                emulated = devices.get(Eui64.parse(device.device_id).hex)
            except InvalidIdentity:
                assert outcomes[record.reference] == FailureReason.INVALID_DEVICE_ID
                continue
            esme_fault = kind if device.device_type == "ESME" else None
            if esme_fault is FaultKind.DUPLICATE_DEVICE:
                continue  # the head end knows this ESME from its first owner
            assert emulated is not None
            listed += 1
            assert emulated["type"] == device.device_type
            assert emulated["model"] == device.model
            assert emulated["manufacturer"] == device.manufacturer
            firmware_differs = emulated["firmware"] != device.firmware_version
            assert firmware_differs is (esme_fault is FaultKind.FIRMWARE_MISMATCH)
            assert emulated["fault"] == _fault_expected(kind, device.device_type, record)
            if device.device_type in ("ESME", "GSME"):
                assert emulated["registers"]["import"] >= 0
                assert (
                    emulated["mpxn"] == (record.mpan if device.device_type == "ESME" else None)
                    or (emulated["mpxn"] == record.mprn)
                    or esme_fault is FaultKind.BAD_MPAN
                )
    assert listed == len(devices)


def _plan_of(fleet: Path) -> dict[str, FaultKind | str | None]:
    """Each installation's planted fault, "dormant", or None, read back from the outcomes
    and the emulated devices."""
    devices = emulated_devices(fleet)
    plan: dict[str, FaultKind | str | None] = {}
    by_outcome = {k.outcome: k for k in FaultKind if k.outcome not in SUCCESS}
    for record in records(fleet):
        outcome = expected(fleet)["installations"][record.reference]
        faults = set()
        for device in record.devices:
            try:
                found = devices.get(Eui64.parse(device.device_id).hex)
            except InvalidIdentity:
                found = None
            if found is not None and found["fault"] and device.device_type != "IHD":
                faults.add(found["fault"])
        if outcome in by_outcome:
            plan[record.reference] = by_outcome[outcome]
        elif faults == {"dormant"}:
            plan[record.reference] = "dormant"
        elif faults:
            assert len(faults) == 1
            plan[record.reference] = FaultKind(faults.pop())
        else:
            plan[record.reference] = None
    return plan


def _fault_expected(
    kind: FaultKind | str | None, device_type: str, record: InstallationRecord
) -> str | None:
    if kind == "dormant":
        assert record.installation_type == "Dormant"
        return None if device_type == "IHD" else "dormant"
    assert record.installation_type == "Active"
    if kind is FaultKind.HAN_FAILURE:
        return "han_failure" if device_type in ("GSME", "GPF") else None
    esme_faults = {FaultKind.NO_ANSWER, FaultKind.SLOW, FaultKind.GARBLED_ONCE}
    if kind in esme_faults and device_type == "ESME":
        return str(kind)
    return None


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
    summary = generate_fleet(tmp_path, 25, 0.0, 3, public(service_key), dormant_rate=0.0)

    assert summary.outcomes == {COMMISSIONED_OUTCOME: 25}
    assert set(expected(tmp_path)["installations"].values()) == {COMMISSIONED_OUTCOME}
    assert all(d["fault"] is None for d in emulated_devices(tmp_path).values())


def test_the_composition_does_not_depend_on_the_fault_rate(
    tmp_path: Path, service_key: X25519PrivateKey
) -> None:
    generate_fleet(tmp_path / "clean", 30, 0.0, 9, public(service_key), dormant_rate=0.0)
    generate_fleet(tmp_path / "faulty", 30, 0.5, 9, public(service_key), dormant_rate=0.0)
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
    generate_fleet(tmp_path, 400, 0.0, 21, public(service_key), dormant_rate=0.0)
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
    journals = [tmp_path / "emulator" / f"{p.name}.journal.jsonl" for p in SMSO_PROFILES]
    for journal in journals:
        journal.write_text('{"id": "000D6F0100000001", "credential": "00"}\n')
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")

    summary = generate_fleet(tmp_path, 12, 0.0, 2, public(service_key))

    assert not any(journal.exists() for journal in journals)
    assert keep.read_text() == "mine"
    assert expected(tmp_path)["total"] == 12
    assert summary.files == [tmp_path / name for name in SMSO_FILES]
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


@pytest.mark.parametrize("rate", [-0.01, 1.01, float("nan")])
def test_a_bad_dormant_rate_is_refused(tmp_path: Path, rate: float) -> None:
    with pytest.raises(ValueError, match="dormant_rate must be between 0 and 1"):
        generate_fleet(tmp_path / "out", 10, 0.1, 1, bytes(32), dormant_rate=rate)


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


@functools.cache
def cached_records(fleet: Path) -> list[InstallationRecord]:
    return records(fleet)


@functools.cache
def cached_devices(fleet: Path) -> dict[str, dict[str, Any]]:
    return emulated_devices(fleet)


@pytest.fixture(scope="module")
def large_fleet(tmp_path_factory: pytest.TempPathFactory, service_key: X25519PrivateKey) -> Path:
    out = tmp_path_factory.mktemp("large")
    generate_fleet(out, 5000, 0.05, 42, public(service_key))
    return out


def test_a_large_fleet_has_realistic_proportions(large_fleet: Path) -> None:
    found = cached_records(large_fleet)
    doc = expected(large_fleet)
    dual = sum(1 for r in found if r.mprn)
    prepayment = sum(1 for r in found if any(d.device_type == "PPMID" for d in r.devices))
    dormant = sum(1 for r in found if r.installation_type == "Dormant")

    assert doc["cohorts"] == {"IOC": 1300, "MOC": 1600, "FOC": 2100}
    assert 0.37 < dual / 5000 < 0.43
    assert 0.13 < prepayment / 5000 < 0.17
    healthy = 5000 - round(5000 * 0.05)
    assert dormant == round(5000 * 0.03)
    assert dormant < healthy
    assert sum(doc["outcomes"].values()) == 5000
    for kind in FaultKind:
        assert doc["outcomes"][kind.outcome] >= 1


def test_prepayment_meters_are_in_prepayment_mode_in_the_emulator(large_fleet: Path) -> None:
    devices = cached_devices(large_fleet)
    outcomes = expected(large_fleet)["installations"]
    for record in cached_records(large_fleet)[:500]:
        if outcomes[record.reference] == FailureReason.DUPLICATE_DEVICE:
            continue  # its ESME is another installation's
        prepayment = any(d.device_type == "PPMID" for d in record.devices)
        for device in record.devices:
            if device.device_type in ("ESME", "GSME"):
                found = devices.get(device.device_id.replace("-", ""))
                if found is not None:
                    assert found["payment"] == ("prepayment" if prepayment else "credit")


def test_each_cohort_uses_several_models_of_each_meter_type(large_fleet: Path) -> None:
    by_cohort: dict[str, set[str]] = {}
    for record in cached_records(large_fleet):
        for device in record.devices:
            if device.device_type == "ESME" and not device.model.endswith("-PROTO"):
                by_cohort.setdefault(record.cohort, set()).add(device.model)

    assert all(len(models) == 2 for models in by_cohort.values())


def test_dormant_installations_run_older_firmware_in_the_file_and_the_emulator(
    large_fleet: Path,
) -> None:
    devices = cached_devices(large_fleet)
    eligible = load_eligible_products()
    outcomes = expected(large_fleet)["installations"]
    dormant = [r for r in cached_records(large_fleet) if r.installation_type == "Dormant"]

    assert dormant
    for record in dormant:
        assert outcomes[record.reference] == COMMISSIONED_OUTCOME
        for device in record.devices:
            emulated = devices[Eui64.parse(device.device_id).hex]
            model = model_for(device.device_type, device.manufacturer, device.model)
            assert emulated["firmware"] == device.firmware_version == model.dormant_firmware
            if device.device_type != "IHD":
                assert emulated["fault"] == "dormant"
                assert not eligible.is_eligible(
                    DeviceType(device.device_type),
                    device.manufacturer,
                    device.model,
                    device.firmware_version,
                )


def test_a_han_failure_installation_is_dual_fuel_with_both_gas_devices_failing(
    large_fleet: Path,
) -> None:
    devices = cached_devices(large_fleet)
    outcomes = expected(large_fleet)["installations"]
    gt01 = [
        r for r in cached_records(large_fleet) if outcomes[r.reference] == ELECTRICITY_ONLY_OUTCOME
    ]

    assert gt01
    for record in gt01:
        faults = {
            d.device_type: devices[Eui64.parse(d.device_id).hex]["fault"] for d in record.devices
        }
        assert record.mprn
        assert faults.pop("GSME") == faults.pop("GPF") == "han_failure"
        assert set(faults.values()) == {None}


def test_dormant_installations_never_carry_a_fault_and_duplicates_follow_an_active_one() -> None:
    for seed in range(100):
        plan = plan_faults(30, 0.5, random.Random(seed), [30], 0.4, random.Random(-seed))
        assert plan.count(DORMANT) == min(12, 15)
        duplicate = FaultKind.DUPLICATE_DEVICE.code
        if duplicate in plan:
            assert plan.index(0) < plan.index(duplicate)


def test_the_dormant_plan_is_determined_by_its_seed() -> None:
    def plan(seed: int) -> bytearray:
        return plan_faults(200, 0.1, random.Random(1), [200], 0.05, random.Random(seed))

    assert plan(3) == plan(3)
    assert plan(3) != plan(4)
    assert plan(3).count(DORMANT) == 10
