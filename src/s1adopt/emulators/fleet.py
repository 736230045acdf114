"""The fleet generator: migration files, expected outcomes, registration data, the programme's
exchange and the emulated world of a fleet.

Rules:
- Everything is determined by the seed (composition, faults, dormant installations,
  credentials, suppliers, authorisations, passwords), except the ciphertexts of the credential
  envelopes, which use fresh nonces and an ephemeral key, and of the authorisation archives
  (fresh salts).
- The fleet is split between the SMSOs by share (``profiles``); each SMSO's installations go
  into its own migration files, with the SMSO in their header, and its devices to its own head
  end. Every model a healthy installation uses must be on the eligible products list.
- Without ``suppliers`` the public test supplier is responsible for every installation and
  each SMSO has one file, ``migration/<smso>.xml``. With ``suppliers=K`` each installation
  belongs to one of K suppliers (``assignment``), each SMSO has one file per supplier,
  ``migration/<smso>-<supplier code>.xml``, with that supplier in its header, and the exchange
  holds everything a programme needs (``exchange``): registration data, migration files,
  demand, and authorisations that leave ``unauthorised_rate`` of the installations
  unauthorised.
- The registration file (``registration/REG_...xml``) is always written: every installation's
  real meter points with their supplier.
- It streams: installations are written as they are composed; only the plans (one byte per
  installation each: the faults and, with suppliers, the owner and the authorisation) are held
  for the whole fleet. A first pass over the plan counts the registration records (the file's
  header needs the count), redrawing only whether each installation is dual fuel.
- It writes only its own files (``migration/``, ``registration/``, the exchange inboxes,
  ``expected.json``, ``emulator/fleet.json``, ``emulator/<smso>.devices.jsonl``), each replaced
  atomically at the end (``staging``); it deletes the SMSOs' credential journals and the
  generated files of the previous fleet that this one does not replace, which belonged to it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party
from s1adopt.domain.programme import AuthorisationEntry
from s1adopt.domain.records import MigrationFileHeader
from s1adopt.emulators.assignment import (
    AUTHORISED,
    assign_suppliers,
    authorising_supplier,
    plan_authorisation,
)
from s1adopt.emulators.composition import InstallationComposer, check_cohort_eligible
from s1adopt.emulators.exchange import (
    EXCHANGE_DIR,
    PROGRAMME_START,
    REGISTRATION_DIR,
    REGISTRATION_LEAD_DAYS,
    inbox,
    make_boxes,
    migration_exchange_name,
    migration_reference,
    open_authorisations,
    registration_name,
    registration_records,
    registration_writer,
    stage_supplier_files,
    unauthorised_references,
)
from s1adopt.emulators.expected import EXPECTED_NAME, ExpectedWriter, outcome_counts
from s1adopt.emulators.faults import DORMANT, fault_of, outcome_of, plan_faults
from s1adopt.emulators.fleet_files import (
    MANIFEST_NAME,
    Manifest,
    SmsoEntry,
    device_line,
    devices_file_name,
    emulator_dir,
    journal_path,
    manifest_json,
)
from s1adopt.emulators.parties import (
    MAX_SUPPLIERS,
    REGISTRATION_DATA_PROVIDER,
    smso_party,
    supplier_parties,
)
from s1adopt.emulators.profiles import (
    CREATED_AT,
    SCHEMA_VERSION,
    SMSO_PROFILES,
    SmsoProfile,
    split_installations,
)
from s1adopt.emulators.staging import Staging
from s1adopt.formats.credentials import CredentialSealer
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.formats.exchange.authorisation import AuthorisationWriter
from s1adopt.formats.exchange.demand import COHORTS
from s1adopt.formats.exchange.names import parse_name
from s1adopt.formats.exchange.registration import RegistrationFileWriter
from s1adopt.formats.migration.writer import MigrationFileWriter

MAX_INSTALLATIONS = 20_000_000
DEFAULT_DORMANT_RATE = 0.03
DEFAULT_UNAUTHORISED_RATE = 0.05
MIGRATION_DIR = "migration"
PROGRESS_STEP = 1000
X25519_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """What a generation wrote: ``files`` are the migration files, per SMSO (and supplier), in
    order; ``exchange_dir`` is None without suppliers."""

    seed: int
    fault_rate: float
    total: int
    outcomes: dict[str, int]
    files: list[Path]
    expected_file: Path
    manifest_file: Path
    device_files: list[Path]
    cohorts: dict[str, int]  # installations per cohort
    registration_file: Path | None = None
    exchange_dir: Path | None = None
    suppliers: dict[str, int] = field(default_factory=dict)  # installations per supplier EUI
    unauthorised: int = 0


@dataclass(frozen=True, slots=True)
class _FileSpec:
    """One migration file: its SMSO, its supplier, where it goes and how many it holds."""

    profile: SmsoProfile
    supplier: Party
    path: Path
    file_id: str
    count: int
    exchange: Path | None  # its place in the SMSO's inbox, with suppliers


def generate_fleet(
    out_dir: Path,
    installations: int,
    fault_rate: float,
    seed: int,
    service_public_key: bytes,
    progress: Callable[[int], None] | None = None,
    *,
    profiles: Sequence[SmsoProfile] = SMSO_PROFILES,
    eligible: EligibleProducts | None = None,
    dormant_rate: float = DEFAULT_DORMANT_RATE,
    suppliers: int | None = None,
    unauthorised_rate: float = DEFAULT_UNAUTHORISED_RATE,
    start: date = PROGRAMME_START,
) -> FleetSummary:
    """Generate a fleet of ``installations`` into ``out_dir`` (see the module rules).

    ``progress`` is called with the number of installations written since its last call.
    Credentials are sealed for ``service_public_key`` (raw X25519, 32 bytes). About
    ``dormant_rate`` of the installations without a fault are dormant. ``suppliers`` (1 to
    ``MAX_SUPPLIERS``) asks for that many suppliers and the programme's exchange, dated
    ``start``, with ``unauthorised_rate`` of the installations left unauthorised.
    """
    _check_arguments(out_dir, installations, fault_rate, seed, service_public_key)
    _check_rate("dormant_rate", dormant_rate)
    _check_rate("unauthorised_rate", unauthorised_rate)
    chosen = tuple(profiles)
    _check_programme(suppliers, start, chosen)
    products = eligible if eligible is not None else load_eligible_products()
    for cohort in sorted({p.cohort for p in chosen}):
        check_cohort_eligible(cohort, products)
    runs = split_installations(installations, chosen)
    # Seeded generators on purpose: the emulated world, its credentials included, is test
    # material that the same seed must reproduce; nothing real is protected by it.
    fault_rng = random.Random(f"s1adopt-fleet-faults-{seed}")  # noqa: S311
    dormant_rng = random.Random(f"s1adopt-fleet-dormant-{seed}")  # noqa: S311
    plan = plan_faults(installations, fault_rate, fault_rng, runs, dormant_rate, dormant_rng)
    outcomes = outcome_counts(plan)
    owners, authorisation = _programme_plans(plan, runs, suppliers, unauthorised_rate, seed)
    cast = supplier_parties(suppliers or 1)
    counts = _counts(runs, owners, len(cast))
    specs = _file_specs(out_dir, chosen, cast, counts, seed, start, suppliers is not None)
    per_supplier = {s.eui.value: sum(r[i].count for r in specs) for i, s in enumerate(cast)}
    cohorts: dict[str, int] = {}
    for profile, count in zip(chosen, runs, strict=True):
        cohorts[profile.cohort] = cohorts.get(profile.cohort, 0) + count
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MIGRATION_DIR).mkdir(exist_ok=True)
    emulator_dir(out_dir).mkdir(exist_ok=True)
    registration = out_dir / REGISTRATION_DIR / registration_name(seed, start)

    staging = Staging()
    with ExitStack() as stack:
        stack.callback(staging.discard)
        expected_out = stack.enter_context(staging.open(out_dir / EXPECTED_NAME))
        expected = ExpectedWriter(
            expected_out,
            seed=seed,
            fault_rate=fault_rate,
            dormant_rate=dormant_rate,
            total=installations,
            cohorts=cohorts,
            outcomes=outcomes,
            suppliers=per_supplier,
            unauthorised=unauthorised_references(authorisation),
        )
        streams = stack.enter_context(ExitStack())  # closed before the files are linked
        pass_ = _Composition(
            seed=seed,
            key=service_public_key,
            plan=plan,
            owners=owners,
            authorisation=authorisation,
            staging=staging,
            expected=expected,
            reporter=_Reporter(progress),
            fault_rng=fault_rng,
            registration=streams.enter_context(
                registration_writer(staging.reserve(registration), seed, start, plan, cast, chosen)
            ),
            effective_from=start - timedelta(days=REGISTRATION_LEAD_DAYS),
            cast=cast,
        )
        if suppliers is not None:
            pass_.authorisers = open_authorisations(streams, staging, out_dir, cast, seed, start)
        first = 1
        for row, count in zip(specs, runs, strict=True):
            pass_.write_smso(row, range(first, first + count), out_dir)
            first += count
        streams.close()
        if suppliers is not None:
            _stage_exchange(staging, out_dir, cast, chosen, specs, registration, seed, start)
        expected.finish()
        expected_out.close()
        with staging.open(emulator_dir(out_dir) / MANIFEST_NAME) as out:
            out.write(manifest_json(_manifest(seed, chosen)))
        pass_.reporter.flush()
        for profile in chosen:
            journal_path(out_dir, profile.name).unlink(missing_ok=True)
        staging.commit()
        _sweep(staging, out_dir, chosen)

    return FleetSummary(
        seed=seed,
        fault_rate=fault_rate,
        total=installations,
        outcomes=outcomes,
        cohorts=cohorts,
        files=[spec.path for row in specs for spec in row],
        expected_file=out_dir / EXPECTED_NAME,
        manifest_file=emulator_dir(out_dir) / MANIFEST_NAME,
        device_files=[emulator_dir(out_dir) / devices_file_name(p.name) for p in chosen],
        registration_file=registration,
        exchange_dir=out_dir / EXCHANGE_DIR if suppliers is not None else None,
        suppliers=per_supplier,
        unauthorised=0
        if authorisation is None
        else installations - authorisation.count(AUTHORISED),
    )


def _programme_plans(
    plan: bytearray, runs: Sequence[int], suppliers: int | None, rate: float, seed: int
) -> tuple[bytearray | None, bytearray | None]:
    """The owner and authorisation plans (None without suppliers)."""
    if suppliers is None:
        return None, None
    owner_rng = random.Random(f"s1adopt-fleet-suppliers-{seed}")  # noqa: S311
    owners = assign_suppliers(plan, runs, suppliers, owner_rng)
    unauthorised_rng = random.Random(f"s1adopt-fleet-unauthorised-{seed}")  # noqa: S311
    return owners, plan_authorisation(owners, rate, suppliers, unauthorised_rng)


class _Composition:
    """The streaming pass: installations composed in reference order into their files."""

    def __init__(
        self,
        *,
        seed: int,
        key: bytes,
        plan: bytearray,
        owners: bytearray | None,
        authorisation: bytearray | None,
        staging: Staging,
        expected: ExpectedWriter,
        reporter: _Reporter,
        fault_rng: random.Random,
        registration: RegistrationFileWriter,
        effective_from: date,
        cast: Sequence[Party],
    ) -> None:
        self.seed, self.key, self.plan = seed, key, plan
        self.owners, self.authorisation = owners, authorisation
        self.staging, self.expected, self.reporter = staging, expected, reporter
        self.fault_rng = fault_rng
        self.registration, self.effective_from, self.cast = registration, effective_from, cast
        self.authorisers: list[AuthorisationWriter] = []

    def write_smso(self, specs: Sequence[_FileSpec], numbers: range, out_dir: Path) -> None:
        """Compose one SMSO's installations into its files (one per supplier) and devices."""
        profile = specs[0].profile
        with ExitStack() as stack:
            writers, composers = [], []
            for spec in specs:
                sealer = CredentialSealer(self.key, spec.file_id)
                header = MigrationFileHeader(
                    file_id=spec.file_id,
                    schema_version=SCHEMA_VERSION,
                    smso=profile.eui,
                    responsible_supplier=spec.supplier.eui.value,
                    created_at=CREATED_AT,
                    record_count=spec.count,
                    transport_public_key=sealer.ephemeral_public_key,
                )
                path = self.staging.reserve(spec.path)
                writers.append(stack.enter_context(MigrationFileWriter(path, header)))
                composers.append(InstallationComposer(profile, sealer, self.seed, self.fault_rng))
            devices_path = emulator_dir(out_dir) / devices_file_name(profile.name)
            devices = stack.enter_context(self.staging.open(devices_path))
            for number in numbers:
                self._one(number, writers, composers, devices)

    def _one(
        self,
        number: int,
        writers: list[MigrationFileWriter],
        composers: list[InstallationComposer],
        devices: TextIO,
    ) -> None:
        code = self.plan[number - 1]
        owner = self.owners[number - 1] if self.owners is not None else 0
        composed = composers[owner].compose(number, fault_of(code), code == DORMANT)
        writers[owner].write(composed.record)
        devices.writelines(device_line(entry) for entry in composed.devices)
        self.expected.add(composed.record.reference, outcome_of(code))
        points = composed.registered
        supplier = self.cast[owner].eui
        for record in registration_records(points, supplier, self.effective_from):
            self.registration.write(record)
        if self.authorisation is not None:
            target = authorising_supplier(self.authorisation[number - 1], owner)
            if target is not None:
                entry = AuthorisationEntry(points.mpan, points.mprn, composed.record.reference)
                self.authorisers[target].write(entry)
        self.reporter.one()


def _counts(runs: Sequence[int], owners: bytearray | None, suppliers: int) -> list[list[int]]:
    """Installations per SMSO run and supplier."""
    if owners is None:
        return [[run] for run in runs]
    counts, start = [], 0
    for run in runs:
        counts.append([owners.count(s, start, start + run) for s in range(suppliers)])
        start += run
    return counts


def _file_specs(
    out_dir: Path,
    profiles: Sequence[SmsoProfile],
    cast: Sequence[Party],
    counts: list[list[int]],
    seed: int,
    start: date,
    per_supplier: bool,
) -> list[list[_FileSpec]]:
    """The migration files, per SMSO then supplier (named after the SMSO alone, and not in the
    exchange, unless ``per_supplier``)."""
    specs = []
    for profile, row in zip(profiles, counts, strict=True):
        smso = Eui64.parse(profile.eui)
        files = []
        for supplier, count in zip(cast, row, strict=True):
            if per_supplier:
                name = f"{profile.name}-{supplier.short_code}.xml"
                file_id = profile.file_id(seed, supplier.short_code)
                reference = migration_reference(profile, supplier)
                exchange = inbox(out_dir, smso) / migration_exchange_name(reference, smso, start)
            else:
                name, file_id, exchange = f"{profile.name}.xml", profile.file_id(seed), None
            files.append(
                _FileSpec(
                    profile, supplier, out_dir / MIGRATION_DIR / name, file_id, count, exchange
                )
            )
        specs.append(files)
    return specs


def _stage_exchange(
    staging: Staging,
    out_dir: Path,
    cast: Sequence[Party],
    profiles: Sequence[SmsoProfile],
    specs: list[list[_FileSpec]],
    registration: Path,
    seed: int,
    start: date,
) -> None:
    """The exchange, once the streamed files are complete: each supplier's demand and
    password, the registration and migration files in their senders' inboxes, every box."""
    cohorts: list[dict[str, int]] = [{} for _ in cast]
    for row in specs:
        for index, spec in enumerate(row):
            wanted = cohorts[index]
            wanted[spec.profile.cohort] = wanted.get(spec.profile.cohort, 0) + spec.count
    stage_supplier_files(staging, out_dir, cast, cohorts, seed, start)
    provider = REGISTRATION_DATA_PROVIDER.eui
    staging.same_as(registration, inbox(out_dir, provider) / registration.name)
    for row in specs:
        for spec in row:
            if spec.exchange is not None:
                staging.same_as(spec.path, spec.exchange)
    make_boxes(out_dir, (REGISTRATION_DATA_PROVIDER, *(smso_party(p) for p in profiles), *cast))


def _sweep(staging: Staging, out_dir: Path, profiles: Sequence[SmsoProfile]) -> None:
    """Remove the previous fleet's generated files that this one did not replace."""
    names = tuple(p.name for p in profiles)
    prefixes = tuple(f"{name}-" for name in names)
    staging.sweep(
        out_dir / MIGRATION_DIR,
        "*.xml",
        lambda path: path.stem in names or path.stem.startswith(prefixes),
    )
    staging.sweep(out_dir / REGISTRATION_DIR, "REG_*.xml", lambda path: True)
    staging.sweep(out_dir / EXCHANGE_DIR, "*/inbox/*", _is_exchange_file)


def _is_exchange_file(path: Path) -> bool:
    try:
        parse_name(path.name)
    except ExchangeFileRejected:
        return False
    return True


def _manifest(seed: int, profiles: Sequence[SmsoProfile]) -> Manifest:
    return Manifest(
        seed,
        tuple(
            SmsoEntry(
                p.name, p.eui, p.cohort, p.protocol, p.session_limit, devices_file_name(p.name)
            )
            for p in profiles
        ),
    )


def _check_arguments(
    out_dir: Path, installations: int, fault_rate: float, seed: int, key: bytes
) -> None:
    """Refuse arguments that cannot make a fleet, saying what is allowed."""
    if isinstance(installations, bool) or not isinstance(installations, int):
        raise ValueError(f"installations must be a whole number, got {installations!r}")
    if not 1 <= installations <= MAX_INSTALLATIONS:
        raise ValueError(
            f"installations must be between 1 and {MAX_INSTALLATIONS:,}, got {installations:,}"
        )
    _check_rate("fault_rate", fault_rate)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number of at least 0, got {seed!r}")
    if not isinstance(key, bytes) or len(key) != X25519_KEY_BYTES:
        raise ValueError("service_public_key must be the 32 raw bytes of an X25519 public key")
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a directory")


def _check_programme(suppliers: int | None, start: date, profiles: Sequence[SmsoProfile]) -> None:
    """Refuse a supplier count, a first day or cohorts the exchange cannot carry."""
    if suppliers is not None:
        if (
            isinstance(suppliers, bool)
            or not isinstance(suppliers, int)
            or not 1 <= suppliers <= MAX_SUPPLIERS
        ):
            raise ValueError(
                f"suppliers must be a whole number from 1 to {MAX_SUPPLIERS}, got {suppliers!r}"
            )
        unknown = sorted({p.cohort for p in profiles} - set(COHORTS))
        if unknown:
            raise ValueError(
                f"cohorts {', '.join(unknown)} cannot be in demand files; the cohorts are "
                f"{', '.join(COHORTS)}"
            )
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ValueError(f"start must be a date (the programme's first day), got {start!r}")


def _check_rate(name: str, rate: float) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise ValueError(f"{name} must be a number, got {rate!r}")
    if math.isnan(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {rate}")


class _Reporter:
    """Calls ``progress`` every ``PROGRESS_STEP`` installations and once at the end."""

    def __init__(self, progress: Callable[[int], None] | None) -> None:
        self._progress, self._pending = progress, 0

    def one(self) -> None:
        self._pending += 1
        if self._pending >= PROGRESS_STEP:
            self.flush()

    def flush(self) -> None:
        if self._progress is not None and self._pending:
            self._progress(self._pending)
        self._pending = 0
