"""Migration data intake and Data Validation.

Rules:
- A file is taken in whole or not at all: records are validated while the file streams and
  written in chunks inside one transaction, committed only when the whole file has been read and
  checked (so a hostile, malformed or truncated file leaves no partial state).
- The same file (same SHA-256) taken in twice is the same batch: the second call returns it.
- Each installation ends intake either VALIDATED (with its devices Pending in the SMI and its
  SMSO credentials re-sealed under the vault key) or FAILED with a Data Validation reason code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path

from s1adopt.domain.devices import (
    CredentialHolder,
    CredentialPurpose,
    Device,
    SmiStatus,
    StatusChange,
)
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import CredentialError, InvalidIdentity, MigrationFileRejected
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import Installation, InstallationType
from s1adopt.domain.records import InstallationRecord, SealedCredential
from s1adopt.domain.secrets import Secret
from s1adopt.domain.validation import ValidationResult, validate_installation
from s1adopt.formats.migration.reader import MigrationFileReader
from s1adopt.services.ports import (
    Clock,
    CredentialUnsealer,
    CredentialVault,
    NewInstallation,
    Progress,
    UnitOfWorkFactory,
)

CHUNK = 1000


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What intake did with one file."""

    batch_id: int
    file_name: str
    already_known: bool
    installations: int
    validated: int
    failed: int


def file_digest(path: Path) -> str:
    """SHA-256 of the file's bytes, read in blocks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise MigrationFileRejected(f"{path}: cannot be read: {exc.strerror}") from exc
    return digest.hexdigest()


def take_in_migration_file(
    path: Path,
    uow_factory: UnitOfWorkFactory,
    eligible: EligibleProducts,
    unsealer: CredentialUnsealer,
    vault: CredentialVault,
    clock: Clock,
    max_bytes: int,
    progress: Progress | None = None,
) -> IntakeResult:
    """Validate a migration file and persist its installations as one new batch."""
    digest = file_digest(path)
    with uow_factory() as uow:
        known = uow.migration.batch_by_digest(digest)
        if known is not None:
            return IntakeResult(known.batch_id, path.name, True, known.record_count, 0, 0)
    now = clock.now()
    with MigrationFileReader(path, max_bytes) as reader, uow_factory() as uow:
        header = reader.read_header()
        smso, _ = _header_identities(path.name, header.smso, header.responsible_supplier)
        open_credential = unsealer.for_file(header)
        batch_id = uow.migration.add_batch(path.name, digest, header, now)
        if progress:
            progress.start(f"validating {path.name}", header.record_count)
        validated = failed = 0
        records = iter(reader)
        for chunk in _chunks(records, CHUNK):
            items = _validate_chunk(
                chunk,
                batch_id,
                smso,
                eligible,
                open_credential,
                vault,
                now,
                uow.migration.held_in_inventory,
            )
            uow.migration.add_installations(items, now)
            ok = sum(1 for i in items if i.devices)
            validated += ok
            failed += len(items) - ok
            if progress:
                progress.advance(len(items))
        uow.commit()
    return IntakeResult(batch_id, path.name, False, validated + failed, validated, failed)


def _header_identities(name: str, smso: str, supplier: str) -> tuple[Eui64, Eui64]:
    """The header's SMSO and responsible supplier; the file is rejected if either is bad."""
    parsed = []
    for label, value in (("SMSO", smso), ("ResponsibleSupplier", supplier)):
        try:
            parsed.append(Eui64.parse(value))
        except InvalidIdentity as exc:
            raise MigrationFileRejected(f"{name}: header {label}: {exc}") from exc
    return parsed[0], parsed[1]


def _chunks(records: Iterator[InstallationRecord], size: int) -> Iterator[list[InstallationRecord]]:
    while chunk := list(islice(records, size)):
        yield chunk


def _validate_chunk(
    chunk: list[InstallationRecord],
    batch_id: int,
    smso: Eui64,
    eligible: EligibleProducts,
    open_credential: Callable[[str, SealedCredential], Secret],
    vault: CredentialVault,
    now: datetime,
    held_in_inventory: Callable[[list[Eui64], list[str]], set[Eui64 | str]],
) -> list[NewInstallation]:
    candidate_ids: list[Eui64] = []
    points: list[str] = []
    for record in chunk:
        points.extend(p.replace(" ", "") for p in (record.mpan, record.mprn) if p)
        for dev in record.devices:
            try:
                candidate_ids.append(Eui64.parse(dev.device_id))
            except InvalidIdentity:
                continue
    held = held_in_inventory(candidate_ids, points)
    items: list[NewInstallation] = []
    for record in chunk:
        result = validate_installation(record, eligible, held.__contains__)
        item = _to_new_installation(record, result, batch_id, smso, open_credential, vault, now)
        if item.devices:
            held.update(d.device_id for d in item.devices)
            held.update(p for p in (item.mpan, item.mprn) if p)
        items.append(item)
    return items


def _installation_type(text: str) -> InstallationType:
    return InstallationType(text)  # the schema allows only the enum's values


def _to_new_installation(
    record: InstallationRecord,
    result: ValidationResult,
    batch_id: int,
    smso: Eui64,
    open_credential: Callable[[str, SealedCredential], Secret],
    vault: CredentialVault,
    now: datetime,
) -> NewInstallation:
    kind = _installation_type(record.installation_type)

    def rejected(reason: FailureReason, detail: str) -> NewInstallation:
        inst = Installation.rejected(record.reference, batch_id, kind, reason, detail, now)
        return NewInstallation(inst, smso, record.cohort, record.mpan, record.mprn, [], {})

    if not result.ok:
        assert result.failure is not None
        return rejected(result.failure, result.detail)
    sealed: dict[Eui64, bytes] = {}
    devices: list[Device] = []
    for valid in result.devices:
        rec = valid.record
        holder = CredentialHolder.NONE
        if rec.credential is not None:
            try:
                secret = open_credential(valid.device_id.value, rec.credential)
            except CredentialError as exc:
                return rejected(FailureReason.CREDENTIALS_UNREADABLE, str(exc))
            sealed[valid.device_id] = vault.seal(valid.device_id, CredentialPurpose.SMSO, secret)
            holder = CredentialHolder.SMSO
        mpxn = None
        if valid.device_type.value == "ESME" and result.mpan is not None:
            mpxn = result.mpan.core
        elif valid.device_type.value == "GSME" and result.mprn is not None:
            mpxn = result.mprn.value
        devices.append(
            Device(
                device_id=valid.device_id,
                device_type=valid.device_type,
                manufacturer=rec.manufacturer,
                model=rec.model,
                firmware_version=None if valid.device_type.is_type2 else rec.firmware_version,
                installation_ref=record.reference,
                associated_with=valid.associated_with,
                mpxn=mpxn,
                status=SmiStatus.PENDING,
                status_since=now,
                credential_holder=holder,
                history=[StatusChange(SmiStatus.PENDING, now, "migration data received")],
                firmware_target=valid.upgrade_to,
            )
        )
    inst = Installation.validated(record.reference, batch_id, kind, now)
    mpan = result.mpan.core if result.mpan else None
    mprn = result.mprn.value if result.mprn else None
    return NewInstallation(inst, smso, record.cohort, mpan, mprn, devices, sealed)
