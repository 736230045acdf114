"""The fleet generator: migration files, expected outcomes and the emulated world of a fleet.

Rules:
- Everything is determined by the seed (composition, faults, dormant installations,
  credentials), except the ciphertexts of the credential envelopes, which use fresh nonces
  and an ephemeral key.
- The fleet is split between the SMSOs by share (``profiles``); each SMSO's installations go
  into its own migration file, with the SMSO in its header, and its devices to its own head
  end. Every model a healthy installation uses must be on the eligible products list.
- It streams: installations are written as they are composed; only the fault plan (one byte
  per installation) is held for the whole fleet.
- It writes only its own files (``migration/<smso>.xml``, ``expected.json``,
  ``emulator/fleet.json``, ``emulator/<smso>.devices.jsonl``), each replaced atomically at the
  end, and deletes the SMSOs' credential journals, which belonged to the previous fleet.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.records import MigrationFileHeader
from s1adopt.emulators.composition import InstallationComposer, check_cohort_eligible
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
from s1adopt.emulators.profiles import (
    CREATED_AT,
    RESPONSIBLE_SUPPLIER,
    SCHEMA_VERSION,
    SMSO_PROFILES,
    SmsoProfile,
    split_installations,
)
from s1adopt.formats.credentials import CredentialSealer
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.formats.migration.writer import MigrationFileWriter

MAX_INSTALLATIONS = 20_000_000
DEFAULT_DORMANT_RATE = 0.03
MIGRATION_DIR = "migration"
PROGRESS_STEP = 1000
X25519_KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """What a generation wrote: ``files`` are the migration files, one per SMSO, in order."""

    seed: int
    fault_rate: float
    total: int
    outcomes: dict[str, int]
    files: list[Path]
    expected_file: Path
    manifest_file: Path
    device_files: list[Path]
    cohorts: dict[str, int]  # installations per cohort


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
) -> FleetSummary:
    """Generate a fleet of ``installations`` into ``out_dir`` (see the module rules).

    ``progress`` is called with the number of installations written since its last call.
    Credentials are sealed for ``service_public_key`` (raw X25519, 32 bytes). About
    ``dormant_rate`` of the installations without a fault are dormant.
    """
    _check_arguments(out_dir, installations, fault_rate, seed, service_public_key)
    _check_rate("dormant_rate", dormant_rate)
    chosen = tuple(profiles)
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
    cohorts: dict[str, int] = {}
    for profile, count in zip(chosen, runs, strict=True):
        cohorts[profile.cohort] = cohorts.get(profile.cohort, 0) + count
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MIGRATION_DIR).mkdir(exist_ok=True)
    emulator_dir(out_dir).mkdir(exist_ok=True)

    staging = _Staging()
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
        )
        reporter = _Reporter(progress)
        start = 1
        for profile, count in zip(chosen, runs, strict=True):
            sealer = CredentialSealer(service_public_key, profile.file_id(seed))
            header = MigrationFileHeader(
                file_id=profile.file_id(seed),
                schema_version=SCHEMA_VERSION,
                smso=profile.eui,
                responsible_supplier=RESPONSIBLE_SUPPLIER,
                created_at=CREATED_AT,
                record_count=count,
                transport_public_key=sealer.ephemeral_public_key,
            )
            composer = InstallationComposer(profile, sealer, seed, fault_rng)
            xml_path = staging.reserve(out_dir / MIGRATION_DIR / f"{profile.name}.xml")
            devices_path = emulator_dir(out_dir) / devices_file_name(profile.name)
            with (
                MigrationFileWriter(xml_path, header) as writer,
                staging.open(devices_path) as devices,
            ):
                for number in range(start, start + count):
                    code = plan[number - 1]
                    composed = composer.compose(number, fault_of(code), code == DORMANT)
                    writer.write(composed.record)
                    devices.writelines(device_line(entry) for entry in composed.devices)
                    expected.add(composed.record.reference, outcome_of(code))
                    reporter.one()
            start += count
        expected.finish()
        manifest = Manifest(
            seed,
            tuple(
                SmsoEntry(
                    p.name, p.eui, p.cohort, p.protocol, p.session_limit, devices_file_name(p.name)
                )
                for p in chosen
            ),
        )
        with staging.open(emulator_dir(out_dir) / MANIFEST_NAME) as out:
            out.write(manifest_json(manifest))
        reporter.flush()
        for profile in chosen:
            journal_path(out_dir, profile.name).unlink(missing_ok=True)
        staging.commit()

    return FleetSummary(
        seed=seed,
        fault_rate=fault_rate,
        total=installations,
        outcomes=outcomes,
        cohorts=cohorts,
        files=[out_dir / MIGRATION_DIR / f"{p.name}.xml" for p in chosen],
        expected_file=out_dir / EXPECTED_NAME,
        manifest_file=emulator_dir(out_dir) / MANIFEST_NAME,
        device_files=[emulator_dir(out_dir) / devices_file_name(p.name) for p in chosen],
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


class _Staging:
    """Files written under temporary names, moved into place together on ``commit``."""

    def __init__(self) -> None:
        self._moves: list[tuple[Path, Path]] = []
        self._committed = False

    def reserve(self, final: Path) -> Path:
        """The temporary path to write ``final`` to."""
        temporary = final.with_name(final.name + ".partial")
        self._moves.append((temporary, final))
        return temporary

    def open(self, final: Path) -> TextIO:
        """A text file to write ``final`` into."""
        return open(self.reserve(final), "w", encoding="utf-8")  # the caller closes it

    def commit(self) -> None:
        for temporary, final in self._moves:
            os.replace(temporary, final)
        self._committed = True

    def discard(self) -> None:
        if not self._committed:
            for temporary, _ in self._moves:
                temporary.unlink(missing_ok=True)
