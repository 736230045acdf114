"""Taking in registration data: parties and who is responsible for each meter point.

Rules: a registration file is taken in whole or not at all (one transaction; a file with any
bad record is rejected listing every fault); the same file (by SHA-256) twice is applied once;
a record for a meter point and day already held replaces it (a correction), a later effective
date is a change of supplier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party, Role
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.formats.exchange.names import FileKind
from s1adopt.formats.exchange.registration import RegistrationFileReader
from s1adopt.services.intake import file_digest
from s1adopt.services.ports import Clock, Progress, UnitOfWork, UnitOfWorkFactory

CHUNK = 5000


@dataclass(frozen=True, slots=True)
class RegistrationLoad:
    """What taking in one registration file did."""

    name: str
    file_id: int
    already_known: bool
    parties: int
    records: int


def load_registration(
    path: Path,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    max_bytes: int,
    sender: str | None = None,
    progress: Progress | None = None,
) -> RegistrationLoad:
    """Take in one registration file (see the module rules); ``ExchangeFileRejected`` names
    every fault of a file that cannot be taken in."""
    digest = file_digest(path, ExchangeFileRejected)
    kind = FileKind.REGISTRATION.value
    with uow_factory() as uow:
        seen = uow.programme.file_seen(digest, kind)
        if seen is not None:
            return RegistrationLoad(path.name, seen.file_id, True, 0, 0)
    now = clock.now()
    with RegistrationFileReader(path, max_bytes) as reader, uow_factory() as uow:
        header = reader.header
        assert header is not None  # entering the reader reads the header or rejects
        file_id = uow.programme.record_file(
            digest, path.name, kind, sender or header.sender.value, now, True, "", []
        )
        if progress:
            progress.start(f"registration {path.name}", header.record_count)
        items = iter(reader)
        parties = records = 0
        while chunk := list(islice(items, CHUNK)):
            found_parties = [i for i in chunk if isinstance(i, Party)]
            found_records = [i for i in chunk if isinstance(i, RegistrationRecord)]
            _store(uow, found_parties, found_records, file_id, now)
            parties += len(found_parties)
            records += len(found_records)
            if progress:
                progress.advance(len(found_records))
        uow.commit()
    return RegistrationLoad(path.name, file_id, False, parties, records)


def _store(
    uow: UnitOfWork,
    parties: list[Party],
    records: list[RegistrationRecord],
    file_id: int,
    now: datetime,
) -> None:
    if parties:
        uow.programme.upsert_parties(parties, now)
    if records:
        uow.programme.add_registrations(records, file_id)


def declares_provider(path: Path, sender: Eui64, max_bytes: int) -> bool:
    """Whether a registration file lists ``sender`` among its parties as a registration data
    provider (read up to the end of its parties; the file is checked in full when taken in)."""
    try:
        with RegistrationFileReader(path, max_bytes) as reader:
            for item in reader:
                if not isinstance(item, Party):
                    return False
                if item.eui == sender and Role.REGISTRATION_DATA_PROVIDER in item.roles:
                    return True
    except ExchangeFileRejected:
        return False
    return False
