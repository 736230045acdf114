"""Ports: what the services need from the outside world, stated as protocols.

Adapters implement these; services never import an adapter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

from s1adopt.domain.devices import Device, ReportedDevice
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import Installation
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.operations import DeviceOperation, Params, Value
from s1adopt.domain.parties import Party
from s1adopt.domain.programme import DemandLine, PartyDayCounts
from s1adopt.domain.records import MigrationFileHeader, SealedCredential
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.domain.secrets import Secret
from s1adopt.services.duis.device_ports import DeviceServiceRepository
from s1adopt.services.duis.ports import DuisRepository


class Clock(Protocol):
    """Current time (UTC, timezone-aware)."""

    def now(self) -> datetime: ...


class Progress(Protocol):
    """Where long work reports how far it has come."""

    def start(self, description: str, total: int | None) -> None: ...

    def advance(self, amount: int = 1) -> None: ...


class HeadEnd(Protocol):
    """One SMSO head end, as the S1SP adapter for its protocol presents it.

    Rules: every operation authenticates with the credential the caller gives; failures are
    raised as ``domain.errors.HeadEndError`` subclasses (DeviceUnreachable,
    DeviceAuthenticationFailed, HeadEndUnavailable, ProtocolViolation, OperationNotSupported,
    CommandRejected, HanFailure), never foreign errors. Transient faults (busy, unavailable,
    timeouts, garbled answers) are retried inside the adapter with backoff; what is raised is
    final for this call.
    """

    async def execute(
        self, device: Eui64, credential: Secret, operation: DeviceOperation, params: Params
    ) -> dict[str, Value]:
        """Carry out one operation of ``domain.operations.CATALOGUE`` on a device."""
        ...

    async def read_identity(self, device: Eui64, credential: Secret) -> ReportedDevice: ...

    async def replace_credential(self, device: Eui64, current: Secret, new: Secret) -> None: ...


class HeadEndDirectory(Protocol):
    """Finds the head end that serves an SMSO's installations."""

    def for_smso(self, smso: Eui64) -> HeadEnd | None: ...


class CredentialVault(Protocol):
    """Encrypts credentials at rest. ``purpose`` binds a sealed blob to its use."""

    def seal(self, device: Eui64, purpose: str, secret: Secret) -> bytes: ...

    def open(self, device: Eui64, purpose: str, blob: bytes) -> Secret: ...

    def new_credential(self) -> Secret: ...


class CredentialUnsealer(Protocol):
    """Opens the credentials a migration file carries (sealed for this service's key)."""

    def for_file(
        self, header: MigrationFileHeader
    ) -> Callable[[str, SealedCredential], Secret]: ...


Partition = tuple[int, int]  # (index, count): a worker's share of the work


@dataclass(slots=True)
class NewInstallation:
    """An installation taken in from a migration file, with what must be stored with it.

    ``existing_id`` is set when the record is corrected data for an installation the store
    already holds (same SMSO and reference): its row is updated rather than inserted.
    """

    installation: Installation
    smso: Eui64
    cohort: str
    mpan: str | None
    mprn: str | None
    devices: list[Device]
    sealed_credentials: dict[Eui64, bytes]  # vault-sealed SMSO credentials
    party: Eui64 | None = None
    authorised_on: date | None = None  # set when authorised by this intake
    existing_id: int | None = None
    excluded_in_validation: bool = False  # an authorised installation's data now excludes it


@dataclass(frozen=True, slots=True)
class HeldBy:
    """Who holds a device or meter point in the inventory (for Data Validation's claims)."""

    installation_id: int
    withdrawn: bool = False  # a withdrawn device is free to be claimed again


@dataclass(frozen=True, slots=True)
class KnownInstallation:
    """An installation already in the store, as intake needs to see it."""

    installation_id: int
    installation: Installation
    devices_under_dcc: bool  # a device holds (or may hold) DCC's credential already


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How one attempt ended (or an exclusion without an attempt, ``number`` 0)."""

    number: int
    outcome: str  # AttemptOutcome value
    reason: str | None


class AttemptOutcome:
    """The ends of an attempt in the Migration Reporting Regime."""

    COMMISSIONED = "commissioned"
    FAILED = "failed"
    EXCLUDED = "excluded"
    EXCLUDED_IN_VALIDATION = "excluded_in_validation"


@dataclass(slots=True)
class MigrationUnit:
    """An installation loaded for migration work, with its devices and sealed credentials.

    Histories in ``installation`` and ``devices`` start empty on load: entries appended during
    the work are the new ones the repository persists. ``step`` is the work item's step as
    stored; handlers set ``next_step`` (None: no more work).
    """

    installation_id: int
    installation: Installation
    smso: Eui64
    mpxns: list[str]
    devices: list[Device]
    credentials: dict[tuple[Eui64, str], bytes]
    party: Eui64 | None = None
    step: str | None = None
    next_step: str | None = None
    store_credentials: dict[tuple[Eui64, str], bytes] = field(default_factory=dict)
    drop_credentials: set[tuple[Eui64, str]] = field(default_factory=set)
    audit: list[tuple[Eui64, str]] = field(default_factory=list)
    enrol: frozenset[MeterPointKind] = frozenset()  # meter points to enrol now
    ended: AttemptEnd | None = None  # the attempt that ended now, for the reports
    changed: bool = False  # something to persist
    observed: dict[Eui64, ReportedDevice] = field(default_factory=dict)  # read in this run
    opened: dict[tuple[Eui64, str], tuple[bytes, Secret]] = field(default_factory=dict)
    # credentials opened from the vault while loaded, with the sealed blob each came from
    stored: dict[object, tuple[object, ...]] = field(default_factory=dict)  # the repository's
    # note of what the store holds, so that saving writes only what changed


@dataclass(frozen=True, slots=True)
class BatchInfo:
    """A migration batch: one migration file taken in."""

    batch_id: int
    file_name: str
    file_id: str
    smso: str
    record_count: int
    received_at: datetime


class MigrationRepository(Protocol):
    """Persistence of batches, installations, devices, credentials and migration work."""

    def batch_by_digest(self, digest: str) -> BatchInfo | None: ...

    def add_batch(
        self, file_name: str, digest: str, header: MigrationFileHeader, at: datetime
    ) -> int: ...

    def held_in_inventory(
        self, device_ids: Sequence[Eui64], meter_points: Sequence[str]
    ) -> dict[Eui64 | str, HeldBy]:
        """Those of the devices and meter points that the inventory already holds."""
        ...

    def known_installations(
        self, smso: Eui64, references: Sequence[str]
    ) -> dict[str, KnownInstallation]:
        """The installations of this SMSO with these references, by reference."""
        ...

    def add_installations(self, items: Sequence[NewInstallation], at: datetime) -> None:
        """Insert new installations and update corrected ones (``existing_id`` set)."""
        ...

    def refuse_records(self, batch_id: int, refusals: Sequence[tuple[str, str, str]]) -> None:
        """Record (reference, reason, detail) of records that could not be applied."""
        ...

    def load_units(self, installation_ids: Sequence[int], queue: str) -> list[MigrationUnit]:
        """The installations with devices, sealed credentials and their work item's step."""
        ...

    def save_units(self, units: Sequence[MigrationUnit], at: datetime) -> None:
        """Persist the units' changes, then clear their lists of new entries (histories,
        credentials to store or drop, audit, enrolment, attempt end)."""
        ...

    def releasable(
        self, *, batch_ids: Sequence[int] | None, day: date | None, limit: int, after_id: int
    ) -> list[int]:
        """Installations ready for an attempt, in id order above ``after_id``: authorised,
        not blocked, VALIDATED (or FAILED with a retry due by ``day``) and either of the
        batches or scheduled on or before ``day``."""
        ...

    def authorise_batches(self, batch_ids: Sequence[int], by: str, day: date) -> int:
        """Authorise the batches' VALIDATED and FAILED installations not yet authorised
        (``migrate``: running it is the operator's authorisation); how many."""
        ...

    def load_installations(self, installation_ids: Sequence[int]) -> list[MigrationUnit]:
        """Installations without devices or credentials (for state changes that touch none)."""
        ...

    def find_installation_id(self, identifier: str) -> int | None:
        """An installation by reference, device EUI-64, MPAN or MPRN."""
        ...

    def clear_schedule(self, installation_ids: Sequence[int]) -> None:
        """Forget the installations' migration day (used up by their release)."""
        ...

    def pending_in_batches(self, batch_ids: Sequence[int]) -> int:
        """How many of the batches' installations are in an attempt."""
        ...


class WorkQueue(Protocol):
    """The durable work queue, inside a unit of work: work is committed with the state change
    that asks for it (outbox), one item per subject and queue, holding the next step."""

    def put(self, queue: str, items: Sequence[tuple[int, str]], at: datetime) -> None:
        """Set each (subject, step): add the item or move it to that step."""
        ...

    def move(self, queue: str, items: Sequence[tuple[int, str]], at: datetime) -> None:
        """``put`` for subjects that are expected to have an item already (cheaper then)."""
        ...

    def finish(self, queue: str, subject_ids: Sequence[int]) -> None:
        """Remove the subjects' items: no more work."""
        ...

    def due(
        self, queue: str, limit: int, after_id: int, partition: Partition | None = None
    ) -> list[int]:
        """Up to ``limit`` subjects with work, in id order above ``after_id``."""
        ...

    def count(self, queue: str, partition: Partition | None = None) -> int:
        """How many subjects have work."""
        ...


ChunkHandler = Callable[[Sequence[int]], Awaitable[int]]
"""Works on a chunk of subjects; returns how many finished (have no more work)."""


class WorkEngine(Protocol):
    """Runs a queue's work until none is left: in process, or on a distributed engine.

    Rules: every handler call is idempotent (at-least-once); a crash only means the work runs
    again from the last commit; the engine never holds state the store does not."""

    async def drain(
        self, queue: str, handler: ChunkHandler, progress: Progress | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ExchangeFileRecord:
    """A file taken in (or refused) before: recognised by its digest."""

    file_id: int
    name: str
    accepted: bool
    summary: str


@dataclass(frozen=True, slots=True)
class AllocationRow:
    """A party's allocation for one migration day and cohort."""

    day: date
    cohort: str
    party: Eui64
    demand: int
    allocated: int
    scheduled: int


@dataclass(frozen=True, slots=True)
class ScheduledInstallation:
    """An installation scheduled for a migration day (for dormant notices)."""

    installation_id: int
    reference: str
    party: Eui64
    mpan: str | None
    mprn: str | None
    day: date
    dormant: bool = False


class ProgrammeRepository(Protocol):
    """Persistence of the migration programme: parties, registration data, exchange files,
    demand, allocation, authorisations, schedules, notices, days and reports."""

    def upsert_parties(self, parties: Sequence[Party], at: datetime) -> None: ...

    def parties(self) -> list[Party]: ...

    def party(self, eui: Eui64) -> Party | None: ...

    def add_registrations(self, records: Sequence[RegistrationRecord], file_id: int) -> None:
        """Add records; a record for the same meter point and day replaces the earlier one."""
        ...

    def in_force(self, mpxns: Sequence[str], day: date) -> dict[str, RegistrationRecord]:
        """The registration in force on ``day`` for each known meter point."""
        ...

    def file_seen(
        self, digest: str, kind: str, name: str | None = None
    ) -> ExchangeFileRecord | None:
        """A file of this kind with this digest taken in before (under ``name``, if given)."""
        ...

    def record_file(
        self,
        digest: str,
        name: str,
        kind: str,
        sender: str,
        at: datetime,
        accepted: bool,
        summary: str,
        faults: Sequence[tuple[str, str]],
    ) -> int: ...

    def set_file_summary(self, file_id: int, summary: str) -> None: ...

    def put_demand(self, party: Eui64, lines: Sequence[DemandLine], reference: str) -> None:
        """Record demand; a later file's line for the same day and cohort replaces it."""
        ...

    def demand_on(self, day: date) -> dict[tuple[str, Eui64], int]:
        """Stated demand per (cohort, party) for a migration day."""
        ...

    def demand_reference(self, party: Eui64, day: date) -> str | None: ...

    def allocation_on(self, day: date) -> list[AllocationRow]: ...

    def save_allocation(self, rows: Sequence[AllocationRow], decided_on: date) -> None: ...

    def add_authorisations(
        self, rows: Sequence[tuple[str, Eui64]], file_id: int, day: date
    ) -> None: ...

    def authorisations(self, mpxns: Sequence[str]) -> dict[str, Eui64]: ...

    def unauthorised_installations(self) -> list[tuple[str, str, str | None, str | None]]:
        """(reference, cohort, MPAN, MPRN) of the installations not yet authorised and neither
        commissioned nor excluded."""
        ...

    def installations_with_meter_points(self, mpxns: Sequence[str]) -> list[int]:
        """Not yet authorised, not commissioned or excluded installations with these meter
        points (as their migration data gives them)."""
        ...

    def set_authorised(self, installation_ids: Sequence[int], party: Eui64, day: date) -> None: ...

    def returning_ready(self, day: date) -> dict[tuple[str, Eui64], int]:
        """Per (cohort, party): installations ready to be scheduled for ``day`` that were
        attempted before (retries due, corrected data): DCC's own demand on top of the
        suppliers' stated demand."""
        ...

    def schedule(
        self, cohort: str, party: Eui64, day: date, limit: int, dormant_from: date
    ) -> list[ScheduledInstallation]:
        """Schedule up to ``limit`` ready installations (retries first, then by id) for
        ``day``; dormant ones only when ``day`` is on or after ``dormant_from`` (their notice
        period). The installations scheduled, dormant or not."""
        ...

    def scheduled_day(self, installation_id: int) -> date | None: ...

    def count_scheduled(self, installation_id: int, day: date, change: int) -> bool:
        """Count an installation in (+1) or out of (-1) its party's and cohort's allocation
        for ``day``; False (and no change) when counting in finds no allocation with room."""
        ...

    def unschedule(self, installation_id: int) -> None: ...

    def set_schedule(self, installation_id: int, day: date) -> None: ...

    def add_notices(
        self, kind: str, items: Sequence[ScheduledInstallation], sent_on: date
    ) -> None: ...

    def notices_sent_on(self, day: date) -> list[tuple[str, ScheduledInstallation]]: ...

    def last_day(self) -> date | None:
        """The last migration day completed."""
        ...

    def begin_day(self, day: date, at: datetime) -> None: ...

    def complete_day(self, day: date, at: datetime) -> None: ...

    def day_counts(self, day: date) -> list[PartyDayCounts]:
        """The reporting counts of every party for a migration day, as the store stands."""
        ...

    def save_day_counts(self, counts: Sequence[PartyDayCounts]) -> None: ...

    def saved_day_counts(
        self, party: Eui64 | None = None, since: date | None = None, until: date | None = None
    ) -> list[PartyDayCounts]: ...

    def attempt_lines(self, day: date) -> list[tuple[Eui64, str, str | None, str | None, str, int]]:
        """(party, reference, MPAN, MPRN, outcome, attempts) of each attempt ended on ``day``."""
        ...

    def flag_changes_on(self, day: date) -> list[tuple[str, str, str, datetime]]:
        """(mpxn, kind, flag, at) of the DCC Service Flag changes of a day."""
        ...


@dataclass(frozen=True, slots=True)
class InboxFile:
    """A file a party has put in its inbox."""

    sender: str  # the inbox's owner: an EUI-64 as the directory names it
    name: str
    path: Path


class Exchange(Protocol):
    """The file exchange: per party an inbox (files it sends the service) and an outbox
    (files the service sends it)."""

    def inbox(self) -> list[InboxFile]:
        """Every file waiting in any inbox, oldest name first (partial files excluded)."""
        ...

    def outbox(self, party: str) -> Path:
        """The directory the service writes a party's files into (created if missing)."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    migration: MigrationRepository
    programme: ProgrammeRepository
    work: WorkQueue
    duis: DuisRepository
    devices: DeviceServiceRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
