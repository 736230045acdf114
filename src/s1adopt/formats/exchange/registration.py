"""Registration data files.

A registration data provider sends ``REG_<ref>_<provider EUI>_<recipient>_<yyyymmdd>.xml``
(``registration-v1.xsd``, namespace ``urn:s1adopt:registration:v1``): a header (FileID, Sender,
CreatedAt, RecordCount), optional ``Parties`` (``Party`` with eui, shortCode, name, roles such
as ``"IS GS"``), then ``MeterPoints`` with one ``MeterPoint`` per registration record (mpxn,
kind MPAN|MPRN, supplier, networkOperator, effectiveFrom).

Rules (besides those of every exchange reader, in ``xmlio``: bounded size, no DTD, no network,
validated against the XSD while it streams, every fault listed as (where, problem), the name's
kind and party checked against the content):
- EUI-64s, MPAN cores (check digit), MPRNs (check digits), roles and short codes are checked
  record by record and stored in canonical form; a file with any bad record is rejected as a
  whole, listing every fault; RecordCount must equal the number of MeterPoint records;
- a fault of the name or the header rejects the file before any record is read; records are
  yielded as they are read and the rejection is raised at the end, so callers persist only
  when the iteration completes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from lxml import etree

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, parse_roles
from s1adopt.domain.programme import DCC_RECIPIENT
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.formats.exchange.names import FileKind, build_name
from s1adopt.formats.exchange.xmlio import MAX_LISTED_FAULTS as MAX_LISTED_FAULTS
from s1adopt.formats.exchange.xmlio import (
    SCHEMA_VERSION,
    FaultList,
    ListLayout,
    ListWriter,
    Memo,
    check_name,
    check_name_agrees,
    child_text,
    exchange_schema,
    iter_elements,
    open_document,
    parse_count,
    parse_eui,
    parse_instant,
    release,
)

NAMESPACE = "urn:s1adopt:registration:v1"
DEFAULT_MAX_BYTES = 4 * 1024**3
_LAYOUT = ListLayout(
    "registration-v1.xsd",
    NAMESPACE,
    root="RegistrationFile",
    container="MeterPoints",
    item="MeterPoint",
)
_NS = "{" + NAMESPACE + "}"
_ROOT, _HEADER = _LAYOUT.tag(_LAYOUT.root), _NS + "Header"
_PARTY, _METER_POINT = _NS + "Party", _LAYOUT.tag(_LAYOUT.item)
_NSMAP: Any = {None: NAMESPACE}  # lxml accepts None as the default prefix


@dataclass(frozen=True, slots=True)
class RegistrationHeader:
    """The header of a registration data file."""

    file_id: str
    sender: Eui64  # the registration data provider
    created_at: datetime
    record_count: int  # MeterPoint records in the file
    schema_version: str = SCHEMA_VERSION


@dataclass(frozen=True, slots=True)
class RegistrationData:
    """A whole registration data file, read at once (for files that fit in memory)."""

    header: RegistrationHeader
    parties: tuple[Party, ...]
    records: tuple[RegistrationRecord, ...]


def registration_file_name(reference: str, provider: Eui64, day: date) -> str:
    """``REG_<ref>_<provider EUI>_DCC_<yyyymmdd>.xml``."""
    return build_name(FileKind.REGISTRATION, reference, provider, DCC_RECIPIENT, day)


class RegistrationFileReader:
    """Stream a registration data file: ``header`` once entered, then parties and records.

    Use as ``with RegistrationFileReader(path) as reader: for item in reader: ...``; items are
    ``Party`` then ``RegistrationRecord``. Entering raises ``ExchangeFileRejected`` for a bad
    name, size, prolog or header; the iteration raises it at its end when any record was bad.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.header: RegistrationHeader | None = None
        self.records_read = 0
        self.faults = FaultList(path.name)
        self._raw: BinaryIO | None = None
        self._elements: Iterator[etree._Element] = iter(())
        self._euis, self._days = Memo(), Memo()

    def __enter__(self) -> RegistrationFileReader:
        faults = self.faults
        parsed = check_name(self.path.name, FileKind.REGISTRATION, faults)
        self._raw, source = open_document(self.path, self.max_bytes, faults)
        try:
            self._elements = iter_elements(
                source,
                exchange_schema(_LAYOUT.schema),
                _ROOT,
                (_HEADER, _PARTY, _METER_POINT),
                faults,
            )
            first = next(self._elements, None)
            if first is None or first.tag != _HEADER:
                raise faults.fatal("file", "no header before the parties and meter points")
            self.header = self._header(first)
            release(first)
            check_name_agrees(parsed, self.header.sender if self.header else None, None, faults)
            faults.raise_if_any()
        except BaseException:
            self._raw.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._raw is not None:
            self._raw.close()

    def __iter__(self) -> Iterator[Party | RegistrationRecord]:
        if self.header is None:
            raise RuntimeError("enter the reader (with ...) before iterating")
        party_euis: set[Eui64] = set()
        for elem in self._elements:
            if elem.tag == _METER_POINT:
                self.records_read += 1
                record = self._record(elem)
                release(elem)
                if record is not None:
                    yield record
            else:
                party = self._party(elem, party_euis)
                release(elem)
                if party is not None:
                    yield party
        if self.records_read != self.header.record_count:
            self.faults.add(
                "file",
                f"header RecordCount is {self.header.record_count:,} but the file holds "
                f"{self.records_read:,} meter points; the file is truncated or inconsistent",
            )
        self.faults.raise_if_any()

    def _header(self, elem: etree._Element) -> RegistrationHeader | None:
        where = f"line {elem.sourceline}"
        sender = parse_eui(
            child_text(elem, _NS + "Sender", strip=True), "Sender", where, self.faults
        )
        created = parse_instant(
            child_text(elem, _NS + "CreatedAt", strip=True), "CreatedAt", where, self.faults
        )
        count = parse_count(
            child_text(elem, _NS + "RecordCount", strip=True), "RecordCount", where, self.faults
        )
        if sender is None or created is None or count is None:
            return None
        root = elem.getparent()
        return RegistrationHeader(
            file_id=child_text(elem, _NS + "FileID", strip=True),
            sender=sender,
            created_at=created,
            record_count=count,
            schema_version=root.get("schemaVersion", "") if root is not None else "",
        )

    def _party(self, elem: etree._Element, seen: set[Eui64]) -> Party | None:
        where, faults = f"line {elem.sourceline}", self.faults
        before = faults.count
        eui = parse_eui(elem.get("eui", ""), "party", where, faults)
        try:
            roles = parse_roles(elem.get("roles", ""))
        except InvalidIdentity as exc:
            faults.add(where, f"party {elem.get('eui')}: {exc}")
            roles = frozenset()
        if eui is not None and eui in seen:
            faults.add(where, f"party {eui} is listed twice")
        if eui is None or faults.count > before:
            return None
        seen.add(eui)
        try:
            return Party(eui, elem.get("shortCode", ""), elem.get("name", ""), roles)
        except InvalidIdentity as exc:
            faults.add(where, f"party {eui}: {exc}")
            return None

    def _record(self, elem: etree._Element) -> RegistrationRecord | None:
        get, faults = elem.get, self.faults
        text, mpxn = get("mpxn", ""), None
        try:
            kind = MeterPointKind(get("kind", ""))
            mpxn = Mpan.parse(text).core if kind is MeterPointKind.MPAN else Mprn.parse(text).value
        except InvalidIdentity as exc:
            faults.add(f"line {elem.sourceline}", str(exc))
        except ValueError:
            faults.add(f"line {elem.sourceline}", f"kind {get('kind')!r} is not MPAN or MPRN")
        supplier = self._eui(get("supplier", ""), "supplier", elem)
        operator = self._eui(get("networkOperator", ""), "networkOperator", elem)
        try:
            effective = self._days.get(get("effectiveFrom", ""), date.fromisoformat)
        except ValueError:
            faults.add(f"line {elem.sourceline}", "effectiveFrom is not a date (yyyy-mm-dd)")
            return None
        if mpxn is None or supplier is None or operator is None:
            return None
        return RegistrationRecord(mpxn, kind, supplier, operator, effective)

    def _eui(self, text: str, what: str, elem: etree._Element) -> Eui64 | None:
        try:
            return self._euis.get(text, Eui64.parse)
        except InvalidIdentity as exc:
            self.faults.add(f"line {elem.sourceline}", f"{what}: {exc}")
            return None


def read_registration(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> RegistrationData:
    """A whole registration data file (see ``RegistrationFileReader`` for large files)."""
    parties: list[Party] = []
    records: list[RegistrationRecord] = []
    with RegistrationFileReader(path, max_bytes) as reader:
        for item in reader:
            if isinstance(item, Party):
                parties.append(item)
            else:
                records.append(item)
        assert reader.header is not None
        return RegistrationData(reader.header, tuple(parties), tuple(records))


class RegistrationFileWriter(ListWriter):
    """Write a header and the parties, then records one at a time, in constant memory.

    The number of records written must be the header's ``record_count`` (``ValueError`` at the
    end otherwise: the file would be rejected).
    """

    def __init__(
        self, path: Path, header: RegistrationHeader, parties: Iterable[Party] = ()
    ) -> None:
        fields = (
            ("FileID", header.file_id),
            ("Sender", header.sender.value),
            ("CreatedAt", header.created_at.isoformat()),
            ("RecordCount", str(header.record_count)),
        )
        super().__init__(path, _LAYOUT, fields, _parties_element(tuple(parties)))
        self._path, self._header = path, header

    def write(self, record: RegistrationRecord) -> None:
        """Append one registration record."""
        self.item(
            {
                "mpxn": record.mpxn,
                "kind": record.kind.value,
                "supplier": record.supplier.value,
                "networkOperator": record.network_operator.value,
                "effectiveFrom": record.effective_from.isoformat(),
            }
        )

    def __exit__(self, *exc_info: object) -> None:
        super().__exit__(*exc_info)
        if exc_info[0] is None and self.written != self._header.record_count:
            raise ValueError(
                f"{self._path.name}: {self.written:,} records written but the header's "
                f"RecordCount is {self._header.record_count:,}"
            )


def _parties_element(parties: tuple[Party, ...]) -> tuple[etree._Element, ...]:
    """The ``Parties`` element, or nothing when there are no parties."""
    if not parties:
        return ()
    element = etree.Element(_NS + "Parties", nsmap=_NSMAP)
    for party in parties:
        element.text = "\n"
        etree.SubElement(
            element,
            _PARTY,
            eui=party.eui.value,
            shortCode=party.short_code,
            name=party.name,
            roles=" ".join(sorted(role.value for role in party.roles)),
        )
    return (element,)
