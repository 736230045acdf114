"""The programme's services on a real store (SQLite and PostgreSQL), a directory exchange and
the fake head end: registration data, the exchange's answers, authorisation, allocation and
scheduling, corrected data, and the operator's and suppliers' actions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.exchange.directory import DirectoryExchange
from s1adopt.domain.errors import InvalidRequest, PermissionDenied
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, Role
from s1adopt.domain.programme import (
    AuthorisationEntry,
    AuthorisationRefusal,
    AuthorisationRequest,
    DemandFile,
    DemandLine,
)
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.domain.secrets import Secret
from s1adopt.formats.exchange.acknowledgement import read_acknowledgement
from s1adopt.formats.exchange.authorisation import (
    authorisation_file_name,
    password_file_name,
    read_authorisation_response,
    write_authorisation,
    write_password,
)
from s1adopt.formats.exchange.demand import demand_file_name, write_demand
from s1adopt.formats.exchange.names import FileKind, build_name
from s1adopt.formats.exchange.registration import (
    RegistrationFileWriter,
    RegistrationHeader,
    registration_file_name,
)
from s1adopt.services.programme.admin import InstallationAdmin
from s1adopt.services.programme.capacity import ProgrammeRules, allocate_and_schedule
from s1adopt.services.programme.exchange_intake import ExchangeIntake
from s1adopt.services.programme.registration import load_registration
from tests.builders import SMSO, with_device, write_file
from tests.conftest import StepClock
from tests.integration.migration_world import World

SUPPLIER_A = Eui64.parse("90-B3-D5-1F-30-01-00-00")
SUPPLIER_B = Eui64.parse("90-B3-D5-1F-30-01-00-07")
OPERATOR_ED = Eui64.parse("90-B3-D5-1F-30-02-00-00")
PROVIDER = Eui64.parse("90-B3-D5-1F-30-04-00-00")
DAY = date(2026, 11, 28)  # the StepClock's day


class DayClock(StepClock):
    """The test clock on a chosen day."""

    def __init__(self, day: date) -> None:
        super().__init__()
        self._now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> World:
    return World(database_url, tmp_path, DayClock(DAY))


def _parties() -> list[Party]:
    roles = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
    return [
        Party(SUPPLIER_A, "SUPA", "Supplier A", roles),
        Party(SUPPLIER_B, "SUPB", "Supplier B", roles),
        Party(OPERATOR_ED, "EDA", "Network A", frozenset({Role.ELECTRICITY_DISTRIBUTOR})),
        Party(PROVIDER, "RDP", "Registration", frozenset({Role.REGISTRATION_DATA_PROVIDER})),
        Party(Eui64.parse(SMSO), "SMSO1", "Head end", frozenset({Role.SMSO})),
    ]


def _register(
    world: World,
    records: list[InstallationRecord],
    supplier: Eui64,
    reference: str = "R1",
    effective: date = date(2020, 1, 1),
    directory: Path | None = None,
) -> Path:
    rows = []
    for record in records:
        if record.mpan:
            rows.append(
                RegistrationRecord(
                    record.mpan, MeterPointKind.MPAN, supplier, OPERATOR_ED, effective
                )
            )
        if record.mprn:
            rows.append(
                RegistrationRecord(
                    record.mprn, MeterPointKind.MPRN, supplier, OPERATOR_ED, effective
                )
            )
    folder = directory or world.tmp
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / registration_file_name(reference, PROVIDER, DAY)
    header = RegistrationHeader(reference, PROVIDER, datetime(2026, 11, 28, tzinfo=UTC), len(rows))
    with RegistrationFileWriter(path, header, _parties()) as writer:
        for row in rows:
            writer.write(row)
    return path


def _inbox(root: Path, party: Eui64) -> Path:
    path = root / party.value / "inbox"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _authorise(
    root: Path,
    party: Eui64,
    records: list[InstallationRecord],
    reference: str = "A1",
    password: str = "correct horse",
    with_password: bool = True,
) -> Path:
    request = AuthorisationRequest(
        reference,
        party,
        "DCC",
        datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
        tuple(AuthorisationEntry(r.mpan, r.mprn, r.reference) for r in records),
    )
    inbox = _inbox(root, party)
    archive = inbox / authorisation_file_name(request)
    write_authorisation(archive, request, password)
    if with_password:
        write_password(inbox / password_file_name(request), password)
    return archive


def _intake(world: World, root: Path) -> ExchangeIntake:
    return ExchangeIntake(
        world.uow,
        DirectoryExchange(root),
        world.clock,
        world.take_in_path,
        ProgrammeRules(),
        1 << 30,
    )


def _state(world: World, reference: str) -> dict[str, object]:
    with world.engine.connect() as conn:
        row = conn.execute(
            select(t.installation).where(t.installation.c.reference == reference)
        ).one()
    return dict(row._mapping)


def test_registration_data_names_the_supplier_in_force_on_each_day(world: World) -> None:
    records = [world.fleet.installation(i, dual_fuel=True) for i in (1, 2)]
    first = load_registration(
        _register(world, records, SUPPLIER_A), world.uow, world.clock, 1 << 30
    )
    assert (first.parties, first.records, first.already_known) == (5, 4, False)
    again = load_registration(
        _register(world, records, SUPPLIER_A), world.uow, world.clock, 1 << 30
    )
    assert again.already_known
    switch = date(2026, 12, 10)
    load_registration(
        _register(world, records[:1], SUPPLIER_B, "R2", switch), world.uow, world.clock, 1 << 30
    )
    mpan = records[0].mpan or ""
    with world.uow() as uow:
        assert uow.programme.in_force([mpan], DAY)[mpan].supplier == SUPPLIER_A
        assert uow.programme.in_force([mpan], switch)[mpan].supplier == SUPPLIER_B
        assert {p.eui for p in uow.programme.parties()} == {p.eui for p in _parties()}


def test_every_exchange_file_is_answered_once_and_a_resent_copy_is_not_applied(
    world: World,
) -> None:
    root = world.tmp / "exchange"
    records = [world.fleet.installation(i) for i in (1, 2, 3)]
    _register(world, records, SUPPLIER_A, directory=_inbox(root, PROVIDER))
    demand = DemandFile(
        "D1", SUPPLIER_A, "DCC", DAY, (DemandLine(DAY + timedelta(days=2), "IOC", 3),)
    )
    inbox = _inbox(root, SUPPLIER_A)
    write_demand(inbox / demand_file_name(demand), demand)
    copy = inbox / demand_file_name(DemandFile("D2", SUPPLIER_A, "DCC", DAY, ()))
    copy.write_bytes((inbox / demand_file_name(demand)).read_bytes())
    (inbox / "not-a-file-name.xml").write_text("<x/>")
    wrong = DemandFile("D3", SUPPLIER_B, "DCC", DAY, (DemandLine(DAY, "IOC", 1),))
    write_demand(inbox / demand_file_name(wrong), wrong)
    intake = _intake(world, root)
    answers = {a.name: a for a in intake.take_in_all()}
    assert answers[demand_file_name(demand)].accepted
    assert not answers[copy.name].accepted
    assert "not applied twice" in answers[copy.name].summary
    assert not answers["not-a-file-name.xml"].accepted
    assert not answers[demand_file_name(wrong)].accepted
    assert "inbox" in answers[demand_file_name(wrong)].summary
    outbox = root / SUPPLIER_A.value / "outbox"
    nack = read_acknowledgement(outbox / f"NACK_{copy.name}.xml")
    assert nack.faults
    assert not nack.accepted
    assert intake.take_in_all() == []  # a second look answers nothing again
    with world.uow() as uow:
        assert uow.programme.demand_on(DAY + timedelta(days=2)) == {("IOC", SUPPLIER_A): 3}


def test_an_authorisation_waits_for_its_password_and_refuses_what_its_sender_does_not_supply(
    world: World,
) -> None:
    root = world.tmp / "exchange"
    ours = [world.fleet.installation(i) for i in (1, 2)]
    theirs = world.fleet.installation(3)
    _register(world, ours, SUPPLIER_A, directory=_inbox(root, PROVIDER))
    _register(world, [theirs], SUPPLIER_B, "R2", directory=_inbox(root, PROVIDER))
    archive = _authorise(root, SUPPLIER_A, [*ours, theirs], with_password=False)
    intake = _intake(world, root)
    assert [a.name for a in intake.take_in_all() if a.name == archive.name] == []
    _authorise(root, SUPPLIER_A, [*ours, theirs])
    answers = {a.name: a for a in intake.take_in_all()}
    assert answers[archive.name].accepted
    outbox = root / SUPPLIER_A.value / "outbox"
    response = read_authorisation_response(next(outbox.glob("MR_*.xml")))
    refusals = [o.refusal for o in response.outcomes]
    assert refusals == [None, None, AuthorisationRefusal.NOT_RESPONSIBLE]
    # the migration data comes afterwards: the authorised ones are authorised at intake
    batch = world.take_in([*ours, theirs])
    assert batch.validated == 3
    assert _state(world, "S1-0000001")["authorised_by"] == SUPPLIER_A.value
    assert _state(world, "S1-0000003")["authorised_by"] is None


def test_a_wrong_password_rejects_the_archive_and_its_password_file(world: World) -> None:
    root = world.tmp / "exchange"
    records = [world.fleet.installation(1)]
    _register(world, records, SUPPLIER_A, directory=_inbox(root, PROVIDER))
    archive = _authorise(root, SUPPLIER_A, records)
    password = next(archive.parent.glob("MAPASSWORD_*"))
    password.write_text("not the password\n")
    answers = {a.name: a for a in _intake(world, root).take_in_all()}
    assert not answers[archive.name].accepted
    outbox = root / SUPPLIER_A.value / "outbox"
    assert (outbox / f"NACK_{archive.name}.xml").exists()
    assert (outbox / f"NACK_{password.name}.xml").exists()


def test_authorisation_after_the_migration_data_authorises_the_stored_installation(
    world: World,
) -> None:
    root = world.tmp / "exchange"
    records = [world.fleet.installation(1, dual_fuel=True)]
    _register(world, records, SUPPLIER_A, directory=_inbox(root, PROVIDER))
    _intake(world, root).take_in_all()
    world.take_in(records)
    assert _state(world, "S1-0000001")["authorised_by"] is None
    _authorise(root, SUPPLIER_A, records)
    _intake(world, root).take_in_all()
    state = _state(world, "S1-0000001")
    assert (state["authorised_by"], state["party"]) == (SUPPLIER_A.value, SUPPLIER_A.value)


def _ready(world: World, n: int, supplier: Eui64 = SUPPLIER_A, kind: str = "Active") -> None:
    records = [world.fleet.installation(i, kind=kind) for i in range(1, n + 1)]
    for record in records:
        world.install_devices(record)
    load_registration(_register(world, records, supplier), world.uow, world.clock, 1 << 30)
    world.take_in(records)
    with world.uow() as uow:
        uow.programme.add_authorisations([(r.mpan or "", supplier) for r in records], 1, DAY)
        from s1adopt.services.programme.authorise import apply_authorisations

        apply_authorisations(uow, [r.mpan or "" for r in records], DAY, world.clock.now())
        uow.commit()


def test_allocation_gives_dmin_first_and_schedules_within_it_with_dormant_notices(
    world: World,
) -> None:
    _ready(world, 12, kind="Dormant")
    target = DAY + timedelta(days=2)
    with world.uow() as uow:
        uow.programme.put_demand(SUPPLIER_A, [DemandLine(target, "IOC", 20)], "D1")
        uow.programme.put_demand(SUPPLIER_B, [DemandLine(target, "IOC", 500)], "D2")
        plan = allocate_and_schedule(uow, target, DAY, ProgrammeRules(capacity={"IOC": 150}))
        uow.commit()
    shares = {r.party: (r.allocated, r.scheduled) for r in plan.rows}
    assert shares == {SUPPLIER_A: (20, 12), SUPPLIER_B: (130, 0)}
    assert len(plan.notices) == 12  # all dormant: both notices recorded for each
    with world.uow() as uow:
        again = allocate_and_schedule(uow, target, DAY, ProgrammeRules(capacity={"IOC": 150}))
        sent = uow.programme.notices_sent_on(DAY)
    assert not again.decided_now
    assert again.rows == plan.rows
    assert {kind for kind, _ in sent} == {"DMFU", "DMMS"}
    assert len(sent) == 24


def test_a_dormant_installation_is_not_scheduled_without_its_notice_period(world: World) -> None:
    _ready(world, 2, kind="Dormant")
    with world.uow() as uow:
        uow.programme.put_demand(SUPPLIER_A, [DemandLine(DAY + timedelta(days=1), "IOC", 5)], "D")
        plan = allocate_and_schedule(
            uow, DAY + timedelta(days=1), DAY, ProgrammeRules(lead_days=2, notice_days=2)
        )
    assert [r.scheduled for r in plan.rows] == [0]


async def test_blocked_installations_are_not_scheduled_and_actions_are_audited(
    world: World,
) -> None:
    _ready(world, 3)
    admin = InstallationAdmin(world.uow, world.clock)
    admin.set_blocked("S1-0000002", True, "operator", "customer asked")
    with pytest.raises(PermissionDenied, match="not the supplier responsible"):
        admin.set_blocked("S1-0000001", True, SUPPLIER_B.value)
    admin.set_blocked("S1-0000003", True, SUPPLIER_A.value, "supplier hold")
    target = DAY + timedelta(days=2)
    with world.uow() as uow:
        uow.programme.put_demand(SUPPLIER_A, [DemandLine(target, "IOC", 3)], "D1")
        plan = allocate_and_schedule(uow, target, DAY, ProgrammeRules())
        uow.commit()
    assert [r.scheduled for r in plan.rows] == [1]
    admin.set_blocked("S1-0000003", False, SUPPLIER_A.value)
    with world.engine.connect() as conn:
        details = conn.execute(select(t.installation_history.c.detail)).scalars().all()
    assert "blocked for migration by operator: customer asked" in details
    assert f"unblocked for migration by {SUPPLIER_A.value}" in details


async def test_a_failed_installation_is_retried_by_the_operator_and_corrected_data_accepted(
    world: World,
) -> None:
    records = [world.fleet.installation(i) for i in (1, 2)]
    for record in records:
        world.install_devices(record)
    esme = records[0].devices[1].device_id
    # the SMSO sent the wrong credential for the meter: a data failure
    wrong = with_device(records[0], 1, credential=world.sealer.seal(esme, Secret(b"w" * 32)))
    wrong_id = with_device(records[1], 1, device_id="not-an-eui")
    batch = world.take_in([wrong, wrong_id], name="first.xml")
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {
        "S1-0000001": "credential_mismatch",
        "S1-0000002": "invalid_device_id",
    }
    # the corrected records arrive in a new file and are accepted, attempts kept
    fixed = world.take_in(records, name="second.xml")
    assert (fixed.validated, fixed.refused) == (2, 0)
    await world.migrate_batches([fixed.batch_id])
    assert world.outcomes(fixed.batch_id) == {
        "S1-0000001": "commissioned",
        "S1-0000002": "commissioned",
    }
    assert _state(world, "S1-0000001")["attempts"] == 2
    # a record for a commissioned installation is refused, and the report says so
    third = world.take_in(records[:1], name="third.xml")
    assert (third.validated, third.refused) == (0, 1)
    admin = InstallationAdmin(world.uow, world.clock)
    with pytest.raises(InvalidRequest, match="only a failed installation"):
        admin.retry("S1-0000001")
    assert world.headend.replacements
    assert max(world.headend.replacements.values()) == 1
    assert SMSO  # the fleet's SMSO served both files


async def test_an_operator_retry_releases_a_failed_installation_again(world: World) -> None:
    records = [world.fleet.installation(1)]
    world.install_devices(records[0])
    batch = world.take_in(records)
    world.headend.available = False
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {"S1-0000001": "head_end_unavailable"}
    assert _state(world, "S1-0000001")["retry_on"] == DAY + timedelta(days=1)
    world.headend.available = True
    InstallationAdmin(world.uow, world.clock).retry("S1-0000001")
    await world.migrate_batches([batch.batch_id])
    assert world.outcomes(batch.batch_id) == {"S1-0000001": "commissioned"}
    assert _state(world, "S1-0000001")["attempts"] == 2


def test_a_schedule_moves_or_is_cancelled_only_before_its_cut_off_and_within_allocation(
    world: World,
) -> None:
    _ready(world, 3)
    first, second = DAY + timedelta(days=3), DAY + timedelta(days=4)
    with world.uow() as uow:
        uow.programme.put_demand(SUPPLIER_A, [DemandLine(first, "IOC", 2)], "D1")
        uow.programme.put_demand(SUPPLIER_A, [DemandLine(second, "IOC", 1)], "D2")
        allocate_and_schedule(uow, first, DAY, ProgrammeRules(capacity={"IOC": 2}))
        allocate_and_schedule(uow, second, DAY, ProgrammeRules(capacity={"IOC": 2}))
        uow.commit()
    admin = InstallationAdmin(world.uow, world.clock, cutoff_days=1)
    with pytest.raises(InvalidRequest, match="no allocation left"):
        admin.reschedule("S1-0000001", second)  # day two's allocation of 1 is full
    cancelled = admin.reschedule("S1-0000003", None)
    assert "cancelled" in cancelled.message
    moved = admin.reschedule("S1-0000001", second)
    assert moved.message == f"moved from {first} to {second}"
    with world.uow() as uow:
        assert uow.programme.scheduled_day(1) == second
        rows = {r.day: r.scheduled for r in uow.programme.allocation_on(first)}
        rows |= {r.day: r.scheduled for r in uow.programme.allocation_on(second)}
    assert rows == {first: 1, second: 1}
    late = InstallationAdmin(world.uow, DayClock(first - timedelta(days=1)), cutoff_days=1)
    with pytest.raises(InvalidRequest, match="past its cut-off"):
        late.reschedule("S1-0000002", None)
    with pytest.raises(InvalidRequest, match="is not scheduled"):
        admin.reschedule("S1-0000003", None)


def test_files_are_taken_only_from_parties_in_the_role_that_sends_them(world: World) -> None:
    root = world.tmp / "exchange"
    records = [world.fleet.installation(1)]
    intruder = Eui64.parse("90-B3-D5-1F-30-09-00-09")
    # a supplier cannot send registration data once a provider is known
    _register(world, records, SUPPLIER_A, directory=_inbox(root, PROVIDER))
    assert all(a.accepted for a in _intake(world, root).take_in_all())
    forged = root / SUPPLIER_A.value / "inbox"
    header = RegistrationHeader("R9", SUPPLIER_A, datetime(2026, 11, 28, tzinfo=UTC), 0)
    with RegistrationFileWriter(forged / registration_file_name("R9", SUPPLIER_A, DAY), header):
        pass
    # migration data comes only from an SMSO, about its own installations
    name = build_name(FileKind.MIGRATION_DATA, "M1", intruder, "DCC", DAY)
    write_file(_inbox(root, intruder) / name, "F1", world.sealer, records)
    answers = {a.name: a for a in _intake(world, root).take_in_all()}
    assert not answers[registration_file_name("R9", SUPPLIER_A, DAY)].accepted
    assert (
        "registration data provider"
        in answers[registration_file_name("R9", SUPPLIER_A, DAY)].summary
    )
    assert not answers[name].accepted
    assert "not a known party" in answers[name].summary
    with world.engine.connect() as conn:
        assert conn.execute(select(t.installation)).all() == []


def test_an_smso_cannot_send_another_smsos_installations(world: World) -> None:
    root = world.tmp / "exchange"
    records = [world.fleet.installation(1)]
    other = Eui64.parse("90-B3-D5-1F-30-10-00-09")
    parties = [*_parties(), Party(other, "SMSO9", "Other head end", frozenset({Role.SMSO}))]
    header = RegistrationHeader("R1", PROVIDER, datetime(2026, 11, 28, tzinfo=UTC), 0)
    path = _inbox(root, PROVIDER) / registration_file_name("R1", PROVIDER, DAY)
    with RegistrationFileWriter(path, header, parties):
        pass
    name = build_name(FileKind.MIGRATION_DATA, "M1", other, "DCC", DAY)
    write_file(_inbox(root, other) / name, "F1", world.sealer, records)  # header: SMSO
    answers = {a.name: a for a in _intake(world, root).take_in_all()}
    assert not answers[name].accepted
    assert "is not the sender" in answers[name].summary
