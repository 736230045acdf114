"""The fleet generator's programme side: registration data, suppliers, demand and authorisations
in an exchange that a programme can run from alone."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64, Mpan
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Role
from s1adopt.domain.programme import AuthorisationRequest
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.validation import validate_installation
from s1adopt.emulators.assignment import (
    AUTHORISED,
    NOT_AUTHORISED,
    assign_suppliers,
    authorising_supplier,
    plan_authorisation,
)
from s1adopt.emulators.exchange import spread, unauthorised_references
from s1adopt.emulators.faults import FaultKind, plan_faults
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.profiles import SMSO_PROFILES
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.formats.exchange.authorisation import open_authorisation, read_password
from s1adopt.formats.exchange.demand import read_demand
from s1adopt.formats.exchange.names import FileKind, parse_name
from s1adopt.formats.exchange.registration import RegistrationData, read_registration
from s1adopt.formats.migration.reader import MigrationFileReader

PUBLIC_SUPPLIER = "90-B3-D5-1F-30-01-00-00"
NETWORK_OPERATOR = "90-B3-D5-1F-30-02-00-00"
PROVIDER = "90-B3-D5-1F-30-04-00-00"
START = date(2026, 12, 1)
LIMIT = 64 * 1024 * 1024
TOTAL, SUPPLIERS, RATE = 150, 3, 0.2


@pytest.fixture(scope="module")
def key() -> bytes:
    return X25519PrivateKey.generate().public_key().public_bytes_raw()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, key: bytes) -> Path:
    out = tmp_path_factory.mktemp("programme")
    generate_fleet(out, TOTAL, 0.2, 4, key, suppliers=SUPPLIERS, unauthorised_rate=RATE)
    return out


@pytest.fixture(scope="module")
def plain_fleet(tmp_path_factory: pytest.TempPathFactory, key: bytes) -> Path:
    out = tmp_path_factory.mktemp("plain")
    generate_fleet(out, 40, 0.25, 4, key)
    return out


def expected(fleet: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((fleet / "expected.json").read_text())
    return doc


def inbox(fleet: Path, party: str) -> Path:
    return fleet / "exchange" / party / "inbox"


def only(directory: Path, kind: FileKind) -> Path:
    (found,) = [p for p in directory.iterdir() if parse_name(p.name).kind is kind]
    return found


def migration_records(fleet: Path) -> dict[str, tuple[InstallationRecord, str, str]]:
    """Per reference: the record, its file's responsible supplier and its file name."""
    found = {}
    for path in sorted((fleet / "migration").glob("*.xml")):
        with MigrationFileReader(path) as reader:
            header = reader.read_header()
            for record in reader:
                found[record.reference] = (record, header.responsible_supplier, path.name)
    return found


def registration(fleet: Path) -> RegistrationData:
    (path,) = (fleet / "registration").iterdir()
    return read_registration(path, LIMIT)


def authorisations(fleet: Path) -> dict[str, AuthorisationRequest]:
    found = {}
    for supplier in expected(fleet)["suppliers"]:
        box = inbox(fleet, supplier)
        archive = only(box, FileKind.AUTHORISATION)
        password = read_password(only(box, FileKind.AUTHORISATION_PASSWORD))
        found[supplier] = open_authorisation(archive, password, LIMIT)
    return found


def test_the_exchange_holds_what_each_party_sends_and_an_outbox_for_the_answers(
    fleet: Path,
) -> None:
    suppliers = list(expected(fleet)["suppliers"])
    smsos = [p.eui for p in SMSO_PROFILES]

    assert suppliers == [PUBLIC_SUPPLIER, "90-B3-D5-1F-30-01-00-01", "90-B3-D5-1F-30-01-00-02"]
    assert sorted(p.name for p in (fleet / "exchange").iterdir()) == sorted(
        [PROVIDER, *smsos, *suppliers]
    )
    for party in (PROVIDER, *smsos, *suppliers):
        assert (fleet / "exchange" / party / "outbox").is_dir()
        for path in inbox(fleet, party).iterdir():
            name = parse_name(path.name)
            assert (name.party.value, name.recipient, name.day) == (party, "DCC", START)
    assert [p.name for p in inbox(fleet, PROVIDER).iterdir()] == [
        f"REG_F4_{PROVIDER}_DCC_20261201.xml"
    ]
    for supplier in suppliers:
        kinds = sorted(parse_name(p.name).kind.value for p in inbox(fleet, supplier).iterdir())
        assert kinds == ["DC", "MA", "MAPASSWORD"]


def test_each_smso_has_one_migration_file_per_supplier_also_in_its_inbox(fleet: Path) -> None:
    doc = expected(fleet)
    for profile in SMSO_PROFILES:
        sent = sorted(inbox(fleet, profile.eui).iterdir())
        assert [p.name for p in sent] == [
            f"MD_{profile.cohort}SUP00{n}_{profile.eui}_DCC_20261201.xml" for n in (1, 2, 3)
        ]
        for number, path in enumerate(sent, start=1):
            same = fleet / "migration" / f"{profile.name}-SUP00{number}.xml"
            assert path.read_bytes() == same.read_bytes()
            with MigrationFileReader(path) as reader:
                header = reader.read_header()
                found = list(reader)
            assert header.smso == profile.eui
            assert header.responsible_supplier == list(doc["suppliers"])[number - 1]
            assert header.file_id == f"MIG-SMSO-{profile.cohort}-SUP00{number}-4"
            assert header.record_count == len(found)


def test_every_installation_sits_in_its_suppliers_file_once_and_the_counts_agree(
    fleet: Path,
) -> None:
    doc = expected(fleet)
    records = migration_records(fleet)

    assert sorted(records) == [f"S1-{n:07d}" for n in range(1, TOTAL + 1)]
    assert Counter(supplier for _, supplier, _ in records.values()) == doc["suppliers"]
    assert sum(doc["suppliers"].values()) == TOTAL
    assert all(count > 20 for count in doc["suppliers"].values())  # spread by the seed
    assert set(doc["installations"]) == set(records)


def test_the_registration_holds_every_meter_point_with_its_supplier_and_operator(
    fleet: Path,
) -> None:
    data = registration(fleet)
    records = migration_records(fleet)
    by_point = {r.mpxn: r for r in data.records}
    expected_count = sum(1 + (record.mprn is not None) for record, _, _ in records.values())

    assert data.header.sender == Eui64.parse(PROVIDER)
    assert data.header.record_count == len(data.records) == expected_count
    for record, supplier, _ in records.values():
        mpan = by_point[Mpan.parse(record.mpan or "").core] if _valid(record.mpan) else None
        if mpan is not None:
            assert (mpan.kind, mpan.supplier.value) == (MeterPointKind.MPAN, supplier)
            assert mpan.network_operator == Eui64.parse(NETWORK_OPERATOR)
        if record.mprn is not None:
            gas = by_point[record.mprn]
            assert (gas.kind, gas.supplier.value) == (MeterPointKind.MPRN, supplier)
            assert gas.network_operator.value == "90-B3-D5-1F-30-03-00-00"
    assert {r.effective_from for r in data.records} == {START - timedelta(days=365)}


def test_a_bad_mpan_installation_is_registered_with_its_real_mpan(fleet: Path) -> None:
    doc = expected(fleet)
    registered = {r.mpxn for r in registration(fleet).records}
    bad = [
        record
        for record, _, _ in migration_records(fleet).values()
        if doc["installations"][record.reference] == FailureReason.INVALID_MPAN
    ]

    assert bad
    for record in bad:
        assert record.mpan is not None
        assert not _valid(record.mpan)
        (real,) = [m for m in registered if m[:12] == record.mpan[:12] and len(m) == 13]
        assert Mpan.parse(real).core == real


def test_the_registration_lists_every_party_with_its_roles(fleet: Path) -> None:
    parties = {p.eui.value: p for p in registration(fleet).parties}

    for supplier in expected(fleet)["suppliers"]:
        assert parties[supplier].roles == {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}
    assert parties[PUBLIC_SUPPLIER].short_code == "SUP001"
    assert parties[NETWORK_OPERATOR].roles == {Role.ELECTRICITY_DISTRIBUTOR}
    assert parties["90-B3-D5-1F-30-03-00-00"].roles == {Role.GAS_TRANSPORTER}
    assert parties[PROVIDER].roles == {Role.REGISTRATION_DATA_PROVIDER}
    for profile in SMSO_PROFILES:
        assert parties[profile.eui].roles == {Role.SMSO}
    assert len(parties) == SUPPLIERS + 3 + len(SMSO_PROFILES)


def test_demand_spreads_each_suppliers_installations_per_cohort_from_two_days_ahead(
    fleet: Path,
) -> None:
    records = migration_records(fleet)
    for supplier in expected(fleet)["suppliers"]:
        demand = read_demand(only(inbox(fleet, supplier), FileKind.DEMAND), LIMIT)
        wanted: Counter[str] = Counter()
        for line in demand.lines:
            wanted[line.cohort] += line.installations
            assert line.installations > 0
        owned = Counter(r.cohort for r, owner, _ in records.values() if owner == supplier)

        assert demand.party.value == supplier
        assert demand.created == START
        assert wanted == owned
        assert {line.day for line in demand.lines} == {START + timedelta(days=d) for d in (2, 3, 4)}


def test_authorisations_name_installations_by_reference_and_registered_meter_points(
    fleet: Path,
) -> None:
    by_point = {r.mpxn: r for r in registration(fleet).records}
    records = migration_records(fleet)
    for supplier, request in authorisations(fleet).items():
        assert request.party.value == supplier
        assert request.created_at.date() == START
        for entry in request.entries:
            assert entry.reference is not None
            record = records[entry.reference][0]
            assert entry.mprn == record.mprn
            assert entry.mpan is not None
            assert entry.mpan in by_point


def test_a_share_of_installations_is_left_unauthorised_some_by_a_wrong_supplier(
    fleet: Path,
) -> None:
    doc = expected(fleet)
    owner = {ref: supplier for ref, (_, supplier, _) in migration_records(fleet).items()}
    rightly: set[str] = set()
    wrongly: set[str] = set()
    for supplier, request in authorisations(fleet).items():
        for entry in request.entries:
            assert entry.reference is not None
            (rightly if owner[entry.reference] == supplier else wrongly).add(entry.reference)
    missing = set(owner) - rightly - wrongly

    assert doc["unauthorised"] == sorted(doc["unauthorised"])
    assert set(doc["unauthorised"]) == wrongly | missing
    assert len(doc["unauthorised"]) == round(TOTAL * RATE)
    assert wrongly
    assert missing
    assert not wrongly & rightly


def test_data_validation_fails_exactly_the_planted_data_faults_whatever_the_file_order(
    fleet: Path,
) -> None:
    outcomes = expected(fleet)["installations"]
    eligible = load_eligible_products()
    files = sorted((fleet / "migration").glob("*.xml"))
    for order in (files, files[::-1]):
        claimed: set[Any] = set()
        for path in order:
            with MigrationFileReader(path) as reader:
                for record in reader:
                    result = validate_installation(record, eligible, claimed.__contains__)
                    if result.ok:
                        claimed.update(d.device_id for d in result.devices)
                        claimed.update(p for p in (record.mpan, record.mprn) if p)
                    else:
                        assert result.failure == FailureReason(outcomes[record.reference])


def test_the_same_seed_gives_the_same_programme(tmp_path: Path, key: bytes) -> None:
    for name in ("a", "b"):
        generate_fleet(tmp_path / name, 30, 0.2, 9, key, suppliers=2, unauthorised_rate=0.3)
    a, b = tmp_path / "a", tmp_path / "b"
    texts = sorted(
        p.relative_to(a)
        for p in a.rglob("*")
        if p.suffix in (".json", ".jsonl", ".txt") or p.name.startswith(("REG_", "DC-"))
    )

    # expected.json, fleet.json, 3 device lists; per supplier DC and password; REG twice
    assert len(texts) == 2 + 3 + 2 * 2 + 2
    for relative in texts:
        assert (a / relative).read_bytes() == (b / relative).read_bytes(), relative
    assert authorisations(a) == authorisations(b)
    plain = {ref: (r.mpan, r.mprn, s, f) for ref, (r, s, f) in migration_records(a).items()}
    assert plain == {ref: (r.mpan, r.mprn, s, f) for ref, (r, s, f) in migration_records(b).items()}


def test_without_suppliers_the_public_test_supplier_is_responsible_for_everything(
    plain_fleet: Path,
) -> None:
    doc = expected(plain_fleet)
    data = registration(plain_fleet)

    assert doc["suppliers"] == {PUBLIC_SUPPLIER: 40}
    assert doc["unauthorised"] == []
    assert not (plain_fleet / "exchange").exists()
    assert sorted(p.name for p in (plain_fleet / "migration").iterdir()) == [
        "smso-foc.xml",
        "smso-ioc.xml",
        "smso-moc.xml",
    ]
    assert {r.supplier.value for r in data.records} == {PUBLIC_SUPPLIER}
    assert [p.eui.value for p in data.parties if p.is_supplier] == [PUBLIC_SUPPLIER]
    assert data.header.record_count == sum(
        1 + (r.mprn is not None) for r, _, _ in migration_records(plain_fleet).values()
    )


def test_one_supplier_leaves_installations_unauthorised_only_by_omission(
    tmp_path: Path, key: bytes
) -> None:
    generate_fleet(tmp_path, 40, 0.0, 2, key, suppliers=1, unauthorised_rate=0.25)
    doc = expected(tmp_path)
    (request,) = authorisations(tmp_path).values()

    assert len(doc["unauthorised"]) == 10
    assert {e.reference for e in request.entries} == set(doc["installations"]) - set(
        doc["unauthorised"]
    )
    assert sorted(p.name for p in (tmp_path / "migration").iterdir()) == [
        "smso-foc-SUP001.xml",
        "smso-ioc-SUP001.xml",
        "smso-moc-SUP001.xml",
    ]


def test_another_start_dates_every_exchange_file_and_the_demand(tmp_path: Path, key: bytes) -> None:
    start = date(2027, 3, 1)
    generate_fleet(tmp_path, 12, 0.0, 2, key, suppliers=2, start=start)

    for path in (tmp_path / "exchange").rglob("*.*"):
        assert parse_name(path.name).day == start
    demand = read_demand(only(inbox(tmp_path, PUBLIC_SUPPLIER), FileKind.DEMAND), LIMIT)
    assert min(line.day for line in demand.lines) == date(2027, 3, 3)
    assert {r.effective_from for r in registration(tmp_path).records} == {date(2026, 3, 1)}


def test_regenerating_removes_the_previous_fleets_generated_files_only(
    tmp_path: Path, key: bytes
) -> None:
    generate_fleet(tmp_path, 20, 0.0, 1, key, suppliers=3)
    mine = inbox(tmp_path, PUBLIC_SUPPLIER) / "notes.txt"
    mine.write_text("keep")
    answer = tmp_path / "exchange" / PUBLIC_SUPPLIER / "outbox" / "DR_F1_x.xml"
    answer.write_text("DCC's")

    generate_fleet(tmp_path, 20, 0.0, 2, key)

    assert mine.read_text() == "keep"
    assert answer.exists()
    assert [p.name for p in (tmp_path / "registration").iterdir()] == [
        f"REG_F2_{PROVIDER}_DCC_20261201.xml"
    ]
    assert sorted(p.name for p in (tmp_path / "migration").iterdir()) == [
        "smso-foc.xml",
        "smso-ioc.xml",
        "smso-moc.xml",
    ]
    leftovers = [p for p in (tmp_path / "exchange").rglob("*/inbox/*") if p != mine]
    assert leftovers == []
    assert not list(tmp_path.rglob("*.partial"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"suppliers": 0}, "suppliers must be a whole number from 1 to 100"),
        ({"suppliers": 101}, "suppliers must be a whole number from 1 to 100"),
        ({"suppliers": True}, "suppliers must be a whole number"),
        ({"unauthorised_rate": 1.5}, "unauthorised_rate must be between 0 and 1"),
        ({"start": "2026-12-01"}, "start must be a date"),
    ],
)
def test_bad_programme_arguments_are_refused(
    tmp_path: Path, key: bytes, arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        generate_fleet(tmp_path / "out", 10, 0.0, 1, key, **arguments)
    assert not (tmp_path / "out").exists()


def test_a_duplicate_takes_the_supplier_of_the_installation_whose_esme_it_claims() -> None:
    for seed in range(50):
        plan = plan_faults(60, 0.5, random.Random(seed), [30, 30])
        owners = assign_suppliers(plan, [30, 30], 4, random.Random(seed))
        for start in (0, 30):
            last_healthy = None
            for index in range(start, start + 30):
                if plan[index] == FaultKind.DUPLICATE_DEVICE.code:
                    assert last_healthy is not None
                    assert owners[index] == owners[last_healthy]
                if plan[index] == 0:
                    last_healthy = index


def test_the_authorisation_plan_leaves_the_asked_share_and_never_names_the_owner_wrongly() -> None:
    owners = bytearray(random.Random(1).randrange(5) for _ in range(1000))
    plan = plan_authorisation(owners, 0.1, 5, random.Random(2))

    assert len(plan) - plan.count(AUTHORISED) == 100
    assert 20 < plan.count(NOT_AUTHORISED) < 80
    for code, owner in zip(plan, owners, strict=True):
        target = authorising_supplier(code, owner)
        assert (target == owner) is (code == AUTHORISED)


def test_unauthorised_references_are_sorted_as_text_beyond_ten_million() -> None:
    plan = bytearray(10_000_002)
    for index in (0, 9, 9_999_998, 10_000_000, 10_000_001):
        plan[index] = NOT_AUTHORISED

    assert list(unauthorised_references(plan)) == sorted(
        ["S1-0000001", "S1-0000010", "S1-9999999", "S1-10000001", "S1-10000002"]
    )


def test_demand_is_spread_as_evenly_as_whole_numbers_allow() -> None:
    assert spread(10, 3) == [4, 3, 3]
    assert spread(2, 3) == [1, 1, 0]
    assert spread(0, 3) == [0, 0, 0]


def _valid(mpan: str | None) -> bool:
    try:
        Mpan.parse(mpan or "")
    except InvalidIdentity:
        return False
    return True
