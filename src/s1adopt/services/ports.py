"""Ports: what the services need from the outside world, stated as protocols.

Adapters implement these; services never import an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol

from s1adopt.domain.devices import Device, ReportedDevice
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import Installation
from s1adopt.domain.operations import DeviceOperation, Params, Value
from s1adopt.domain.records import MigrationFileHeader, SealedCredential
from s1adopt.domain.secrets import Secret


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


class WorkStep:
    """The migration work an installation waits for."""

    TEST = "test"
    COMMISSION = "commission"


@dataclass(slots=True)
class NewInstallation:
    """An installation taken in from a migration file, with what must be stored with it."""

    installation: Installation
    smso: Eui64
    cohort: str
    mpan: str | None
    mprn: str | None
    devices: list[Device]
    sealed_credentials: dict[Eui64, bytes]  # vault-sealed SMSO credentials


@dataclass(slots=True)
class MigrationUnit:
    """An installation loaded for migration work, with its devices and sealed credentials.

    Histories in ``installation`` and ``devices`` start empty on load: entries appended during
    the work are the new ones the repository persists.
    """

    installation_id: int
    installation: Installation
    smso: Eui64
    mpxns: list[str]
    devices: list[Device]
    credentials: dict[tuple[Eui64, str], bytes]
    store_credentials: dict[tuple[Eui64, str], bytes] = field(default_factory=dict)
    drop_credentials: set[tuple[Eui64, str]] = field(default_factory=set)
    audit: list[tuple[Eui64, str]] = field(default_factory=list)
    enrol_meter_points: bool = False
    next_step: str | None = None


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
    ) -> set[Eui64 | str]:
        """Those of the devices and meter points that the inventory already holds."""
        ...

    def add_installations(self, items: Sequence[NewInstallation], at: datetime) -> None: ...

    def next_work(
        self,
        batch_ids: Sequence[int],
        limit: int,
        after_id: int,
        partition: Partition | None = None,
    ) -> list[int]: ...

    def load_units(self, installation_ids: Sequence[int]) -> list[MigrationUnit]: ...

    def save_units(self, units: Sequence[MigrationUnit], at: datetime) -> None:
        """Persist the units' changes, then clear their lists of new entries (histories,
        credentials to store or drop, audit, meter point enrolment)."""
        ...

    def pending_count(
        self, batch_ids: Sequence[int], partition: Partition | None = None
    ) -> int: ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    migration: MigrationRepository

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
