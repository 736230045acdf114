"""Migration data intake and Data Validation.

Rules:
- A file is taken in whole or not at all: records are validated while the file streams and
  written in chunks inside one transaction, committed only when the whole file has been read and
  checked (so a hostile, malformed or truncated file leaves no partial state).
- The same file (same SHA-256) taken in twice is the same batch: the second call returns it.
- Each installation ends intake either VALIDATED (with its devices Pending in the SMI and its
  SMSO credentials re-sealed under the vault key), FAILED with a Data Validation reason code,
  or EXCLUDED (missing master keys).
- An installation is identified by its SMSO and reference. A record for one the store holds
  already is corrected data: it replaces the earlier record while the installation is not in
  an attempt, not commissioned or excluded and no device holds DCC's credential (attempts and
  authorisation are kept); otherwise the record is refused and listed in the batch's report.
  Data Validation's claims ignore the installation's own devices and meter points.
- The installation's party is the responsible supplier of its MPAN (else MPRN) on the
  registration data, else the file's responsible supplier. It is authorised at intake when
  each of its meter points was authorised by the supplier now responsible for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from pathlib import Path

from s1adopt.domain.devices import (
    CredentialHolder,
    CredentialPurpose,
    Device,
    DeviceType,
    SmiStatus,
    StatusChange,
)
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import (
    CredentialError,
    InvalidIdentity,
    MigrationFileRejected,
    S1AdoptError,
)
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import Installation, InstallationType, MigrationState
from s1adopt.domain.records import InstallationRecord, SealedCredential
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.domain.secrets import Secret
from s1adopt.domain.validation import ValidationResult, validate_installation
from s1adopt.formats.migration.reader import MigrationFileReader
from s1adopt.services.ports import (
    Clock,
    CredentialUnsealer,
    CredentialVault,
    HeldBy,
    KnownInstallation,
    NewInstallation,
    Progress,
    UnitOfWork,
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
    refused: int = 0  # records that could not be applied to their installation


def file_digest(path: Path, error: type[S1AdoptError] = MigrationFileRejected) -> str:
    """SHA-256 of the file's bytes, read in blocks; ``error`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror}") from exc
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
    sender: Eui64 | None = None,
) -> IntakeResult:
    """Validate a migration file and persist its installations as one new batch; with
    ``sender`` (the SMSO whose exchange inbox it came from), the header's SMSO must be it."""
    digest = file_digest(path)
    with uow_factory() as uow:
        known = uow.migration.batch_by_digest(digest)
        if known is not None:
            return IntakeResult(known.batch_id, path.name, True, known.record_count, 0, 0)
    now = clock.now()
    with MigrationFileReader(path, max_bytes) as reader, uow_factory() as uow:
        header = reader.read_header()
        smso, supplier = _header_identities(path.name, header.smso, header.responsible_supplier)
        if sender is not None and smso != sender:
            raise MigrationFileRejected(
                f"{path.name}: the header's SMSO {smso} is not the sender {sender}; an SMSO "
                "sends only its own installations' data"
            )
        batch_id = uow.migration.add_batch(path.name, digest, header, now)
        context = _Context(
            batch_id, smso, supplier, eligible, unsealer.for_file(header), vault, now, uow
        )
        if progress:
            progress.start(f"validating {path.name}", header.record_count)
        validated = failed = refused = 0
        for chunk in _chunks(iter(reader), CHUNK):
            items, refusals = context.take_chunk(chunk)
            uow.migration.add_installations(items, now)
            uow.migration.refuse_records(batch_id, refusals)
            ok = sum(1 for i in items if i.installation.state is MigrationState.VALIDATED)
            validated += ok
            failed += len(items) - ok
            refused += len(refusals)
            if progress:
                progress.advance(len(chunk))
        uow.commit()
    total = validated + failed + refused
    return IntakeResult(batch_id, path.name, False, total, validated, failed, refused)


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


def _refusal_of(known: KnownInstallation) -> tuple[str, str] | None:
    """Why corrected data cannot replace a known installation's record (None: it can)."""
    inst = known.installation
    if inst.state is MigrationState.COMMISSIONED:
        return "already_commissioned", "the installation is already adopted by DCC"
    if inst.state is MigrationState.EXCLUDED:
        return "excluded", f"the installation is excluded ({inst.failure_reason})"
    if not inst.accepts_corrected_data:
        return "in_progress", f"a migration attempt is under way ({inst.state})"
    if known.devices_under_dcc:
        return (
            "devices_under_dcc",
            "a device may already hold DCC's credential; raise an incident with DCC",
        )
    return None


@dataclass
class _Context:
    """What intake of one file needs for each chunk of records."""

    batch_id: int
    smso: Eui64
    supplier: Eui64
    eligible: EligibleProducts
    open_credential: Callable[[str, SealedCredential], Secret]
    vault: CredentialVault
    now: datetime
    uow: UnitOfWork

    def take_chunk(
        self, chunk: list[InstallationRecord]
    ) -> tuple[list[NewInstallation], list[tuple[str, str, str]]]:
        """Validate a chunk: the installations to store and the records refused."""
        repo = self.uow.migration
        known = repo.known_installations(self.smso, [r.reference for r in chunk])
        held = repo.held_in_inventory(*_claims(chunk))
        points = [p for r in chunk for p in _meter_points(r)]
        today = self.now.date()
        registered = self.uow.programme.in_force(points, today)
        authorised = self.uow.programme.authorisations(points)
        items: list[NewInstallation] = []
        refusals: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for record in chunk:
            prior = known.get(record.reference)
            twice = record.reference in seen
            seen.add(record.reference)
            if twice or (prior is not None and prior.installation.batch_id == self.batch_id):
                raise MigrationFileRejected(
                    f"installation reference {record.reference!r} appears twice in the file; "
                    "references must be unique per SMSO"
                )
            if prior is not None and (why := _refusal_of(prior)) is not None:
                refusals.append((record.reference, *why))
                continue
            own = prior.installation_id if prior else None

            def claimed(key: Eui64 | str, own: int | None = own) -> bool:
                holder = held.get(key)
                return holder is not None and holder.installation_id != own and not holder.withdrawn

            result = validate_installation(record, self.eligible, claimed)
            item = self._to_item(record, result, prior)
            self._attribute(item, registered, authorised, today)
            if item.installation.state is MigrationState.VALIDATED:
                owner = item.existing_id if item.existing_id is not None else -1
                held.update({d.device_id: HeldBy(owner) for d in item.devices})
                held.update({p: HeldBy(owner) for p in (item.mpan, item.mprn) if p})
            items.append(item)
        return items, refusals

    def _to_item(
        self,
        record: InstallationRecord,
        result: ValidationResult,
        prior: KnownInstallation | None,
    ) -> NewInstallation:
        kind = InstallationType(record.installation_type)  # the schema allows only these
        failure: tuple[FailureReason, str] | None = None
        devices: list[Device] = []
        sealed: dict[Eui64, bytes] = {}
        if not result.ok:
            assert result.failure is not None
            failure = (result.failure, result.detail)
        else:
            try:
                devices, sealed = _devices(
                    record, result, self.open_credential, self.vault, self.now
                )
            except CredentialError as exc:
                failure = (FailureReason.CREDENTIALS_UNREADABLE, str(exc))
                devices, sealed = [], {}
        mpan = result.mpan.core if result.mpan else (record.mpan if failure else None)
        mprn = result.mprn.value if result.mprn else (record.mprn if failure else None)
        if prior is None:
            if failure is None:
                inst = Installation.validated(record.reference, self.batch_id, kind, self.now)
            else:
                inst = Installation.rejected(
                    record.reference, self.batch_id, kind, *failure, self.now
                )
            return NewInstallation(inst, self.smso, record.cohort, mpan, mprn, devices, sealed)
        inst = prior.installation
        was_authorised = inst.authorised_by is not None
        inst.replace_data(self.batch_id, kind, failure, self.now)
        return NewInstallation(
            inst,
            self.smso,
            record.cohort,
            mpan,
            mprn,
            devices,
            sealed,
            existing_id=prior.installation_id,
            excluded_in_validation=was_authorised and inst.state is MigrationState.EXCLUDED,
        )

    def _attribute(
        self,
        item: NewInstallation,
        registered: dict[str, RegistrationRecord],
        authorised: dict[str, Eui64],
        today: date,
    ) -> None:
        """Set the installation's party, and authorise it when its suppliers did."""
        points = [p for p in (item.mpan, item.mprn) if p]
        responsible = [registered[p].supplier for p in points if p in registered]
        item.party = responsible[0] if responsible else self.supplier
        inst = item.installation
        if inst.authorised_by is not None or inst.state is MigrationState.EXCLUDED or not points:
            return
        if all(p in registered and authorised.get(p) == registered[p].supplier for p in points):
            by = authorised[points[0]]
            inst.authorise(by.value, self.now)
            item.party, item.authorised_on = by, today


def _meter_points(record: InstallationRecord) -> list[str]:
    return [p.replace(" ", "") for p in (record.mpan, record.mprn) if p]


def _claims(chunk: list[InstallationRecord]) -> tuple[list[Eui64], list[str]]:
    """The device EUI-64s and meter points a chunk of records claims."""
    candidate_ids: list[Eui64] = []
    points: list[str] = []
    for record in chunk:
        points.extend(_meter_points(record))
        for dev in record.devices:
            try:
                candidate_ids.append(Eui64.parse(dev.device_id))
            except InvalidIdentity:
                continue
    return candidate_ids, points


def _devices(
    record: InstallationRecord,
    result: ValidationResult,
    open_credential: Callable[[str, SealedCredential], Secret],
    vault: CredentialVault,
    now: datetime,
) -> tuple[list[Device], dict[Eui64, bytes]]:
    """The SMI devices of a valid record and their SMSO credentials sealed under the vault
    key (``CredentialError`` when one cannot be opened)."""
    sealed: dict[Eui64, bytes] = {}
    devices: list[Device] = []
    for valid in result.devices:
        rec = valid.record
        holder = CredentialHolder.NONE
        if rec.credential is not None:
            secret = open_credential(valid.device_id.value, rec.credential)
            sealed[valid.device_id] = vault.seal(valid.device_id, CredentialPurpose.SMSO, secret)
            holder = CredentialHolder.SMSO
        mpxn = None
        if valid.device_type is DeviceType.ESME and result.mpan is not None:
            mpxn = result.mpan.core
        elif valid.device_type is DeviceType.GSME and result.mprn is not None:
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
    return devices, sealed
