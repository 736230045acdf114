"""Migration data as the SMSO hands it over, before Data Validation.

Fields are kept as the text the file held, so a malformed identity becomes a reason code for
its installation rather than a rejection of the whole file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SealedCredential:
    """A device credential encrypted by the SMSO for this service (see formats.credentials)."""

    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """One device of an installation record."""

    device_id: str
    device_type: str
    manufacturer: str
    model: str
    firmware_version: str | None
    associated_with: str | None
    credential: SealedCredential | None


@dataclass(frozen=True, slots=True)
class InstallationRecord:
    """One installation of a migration file."""

    reference: str
    installation_type: str
    cohort: str
    mpan: str | None
    mprn: str | None
    devices: tuple[DeviceRecord, ...]


@dataclass(frozen=True, slots=True)
class MigrationFileHeader:
    """The header of a migration file."""

    file_id: str
    schema_version: str
    smso: str
    responsible_supplier: str
    created_at: str
    record_count: int
    transport_public_key: bytes  # the SMSO's ephemeral X25519 key for the credential envelope
