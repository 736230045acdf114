"""Registration data files, and the safe intake every exchange format shares.

A registration data provider sends ``REG_<ref>_<provider EUI>_<recipient>_<yyyymmdd>.xml``
(``registration-v1.xsd``, namespace ``urn:s1adopt:registration:v1``): a header (FileID, Sender,
CreatedAt, RecordCount), optional ``Parties`` (``Party`` with eui, shortCode, name, roles such
as ``"IS GS"``), then ``MeterPoints`` with one ``MeterPoint`` per registration record (mpxn,
kind MPAN|MPRN, supplier, networkOperator, effectiveFrom).

Rules of every exchange reader (the helpers below):
- the size is bounded (``max_bytes``) and checked before and while reading; a DTD anywhere in
  the prolog rejects the file; libxml2 runs with network access off; the document is validated
  against its XSD while it streams, in constant memory;
- every problem becomes ``ExchangeFileRejected(message, faults)``, faults being (where,
  problem) pairs such as ("line 12", "MPAN 1234567890123 fails its check digit ..."); every
  fault found is counted and the first ``MAX_LISTED_FAULTS`` are listed; a schema or syntax
  error ends the reading (nothing after it can be trusted);
- the file name must be an exchange name of the file's kind, and the party it names must be
  the sender the content names.
Rules of registration files:
- EUI-64s, MPAN cores (check digit), MPRNs (check digits), roles and short codes are checked
  record by record and stored in canonical form; a file with any bad record is rejected as a
  whole, listing every fault; RecordCount must equal the number of MeterPoint records;
- a fault of the name or the header rejects the file before any record is read; records are
  yielded as they are read and the rejection is raised at the end, so callers persist only
  when the iteration completes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

from lxml import etree

from s1adopt.domain.errors import ExchangeFileRejected, InvalidIdentity, MigrationFileRejected
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, parse_roles
from s1adopt.domain.programme import DCC_RECIPIENT
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.formats.exchange.names import ExchangeName, FileKind, build_name, parse_name
from s1adopt.formats.safe_xml import PROLOG_LIMIT, BoundedReader, check_prolog

NAMESPACE = "urn:s1adopt:registration:v1"
SCHEMA_VERSION = "1.0"
MAX_LISTED_FAULTS = 100
MAX_COUNT = 100_000_000  # the schemas' bound on counts
DEFAULT_MAX_BYTES = 4 * 1024**3
_PACKAGE = "s1adopt.formats.exchange"
_NS = "{" + NAMESPACE + "}"
_ROOT, _HEADER = _NS + "RegistrationFile", _NS + "Header"
_PARTY, _METER_POINT = _NS + "Party", _NS + "MeterPoint"
_NSMAP: Any = {None: NAMESPACE}  # lxml accepts None as the default prefix
_POSITION = re.compile(r",? line \d+, column \d+$")  # libxml2's suffix; faults name the line
_LINE_PREFIX = re.compile(r"^line \d+: ")
_CHUNK = 64 * 1024  # bytes fed to the parser at a time
_CACHE_LIMIT = 4096  # distinct EUI-64s and dates remembered while reading one file
_T = TypeVar("_T")


# --- shared intake -------------------------------------------------------------------------


class FaultList:
    """The faults found in one file: every one counted, the first ``MAX_LISTED_FAULTS`` kept."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.listed: list[tuple[str, str]] = []
        self.count = 0

    def add(self, where: str, problem: str) -> None:
        """Record one fault."""
        self.count += 1
        if len(self.listed) < MAX_LISTED_FAULTS:
            self.listed.append((where, problem))

    def __bool__(self) -> bool:
        return self.count > 0

    def rejection(self) -> ExchangeFileRejected:
        """The rejection naming every listed fault."""
        where, problem = self.listed[0] if self.listed else ("file", "rejected")
        message = f"{self.name}: {problem} ({where})"
        if self.count > 1:
            message += f"; {self.count:,} faults in all"
            if self.count > len(self.listed):
                message += f", the first {len(self.listed)} listed"
        return ExchangeFileRejected(message, list(self.listed))

    def fatal(self, where: str, problem: str) -> ExchangeFileRejected:
        """Record a fault that ends the reading and return the rejection to raise."""
        self.add(where, problem)
        return self.rejection()

    def raise_if_any(self) -> None:
        """Raise the rejection when any fault was found."""
        if self.count:
            raise self.rejection()


@cache
def exchange_schema(file_name: str) -> etree.XMLSchema:
    """An XSD shipped in ``formats/exchange``, loaded with network access off."""
    text = resources.files(_PACKAGE).joinpath(file_name).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(text, parser))


def check_name(name: str, kind: FileKind, faults: FaultList) -> ExchangeName | None:
    """The parsed exchange name, or None with a fault when it is not a name of ``kind``."""
    try:
        parsed = parse_name(name)
    except ExchangeFileRejected as exc:
        for where, problem in exc.faults:
            faults.add(where, problem)
        return None
    if parsed.kind is not kind:
        faults.add("name", f"a {parsed.kind.value} file name, expected a {kind.value} file")
        return None
    return parsed


def check_name_agrees(
    parsed: ExchangeName | None, party: Eui64 | None, reference: str | None, faults: FaultList
) -> None:
    """The name's party (and reference, when the content has one) must be the content's."""
    if parsed is None:
        return
    if party is not None and parsed.party != party:
        faults.add("name", f"names party {parsed.party} but the header's party is {party}")
    if reference is not None and parsed.reference != reference:
        faults.add("name", f"names reference {parsed.reference} but the header's is {reference}")


def recipient_of(parsed: ExchangeName | None) -> str:
    """The recipient a file name gives (DCC when the name has none)."""
    return parsed.recipient if parsed is not None and parsed.recipient else DCC_RECIPIENT


def open_document(path: Path, max_bytes: int, faults: FaultList) -> tuple[BinaryIO, BoundedReader]:
    """Open ``path`` for a streaming parse: the size bounded, the prolog checked for a DTD.

    Raises the rejection when the file cannot be read, is too large or has a DTD.
    """
    try:
        size = os.stat(path).st_size
        raw = open(path, "rb")  # noqa: SIM115 (the caller closes it)
    except OSError as exc:
        raise faults.fatal("file", f"cannot be read: {exc.strerror}") from exc
    try:
        if size > max_bytes:
            raise faults.fatal("file", too_large(size, max_bytes))
        check_head(raw.read(PROLOG_LIMIT), faults)
        raw.seek(0)
    except BaseException:
        raw.close()
        raise
    return raw, BoundedReader(raw, max_bytes, faults.name)


def too_large(size: int, max_bytes: int) -> str:
    """The problem of a file over its bound."""
    return (
        f"{size:,} bytes is larger than the limit of {max_bytes:,}; split it into smaller "
        "files or raise the limit in the settings"
    )


def check_head(head: bytes, faults: FaultList) -> None:
    """Reject a document whose prolog holds a DTD or that is not UTF-8 XML."""
    try:
        check_prolog(head, faults.name)
    except MigrationFileRejected as exc:
        raise faults.fatal("file", _without_name(str(exc), faults.name)) from exc


def iter_elements(
    source: Any,
    schema: etree.XMLSchema,
    root: str,
    tags: tuple[str, ...],
    faults: FaultList,
    other_roots: tuple[str, ...] = (),
) -> Iterator[etree._Element]:
    """The ``tags`` elements of a document as each ends, validated against ``schema``.

    ``source`` is a file-like object (bounded by the caller). The document's root must be
    ``root`` (a schema may allow ``other_roots``); the consumer releases each element it took
    (``release``). Syntax and size errors end the reading at once, with their line. libxml2's
    streaming validation reports schema errors only when the document ends, and without a
    line: every element is yielded first, so the consumer's own checks (which must accept
    anything) name the lines of the faults they see, then the schema error ends the reading.
    """
    # No DTD can reach the parser (the prolog check rejects it), so no entity can be declared.
    # resolve_entities=False is deliberately not passed: combined with schema validation it
    # makes libxml2 hide errors at the end of a truncated document.
    parser = etree.XMLPullParser(
        events=("start", "end"),
        tag=(root, *other_roots, *tags),
        schema=schema,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    state = {"root": False, "complete": False}
    try:
        while chunk := source.read(_CHUNK):
            parser.feed(chunk)
            yield from _events(parser, root, tags, state, faults)
        parser.close()
        yield from _events(parser, root, tags, state, faults)
    except etree.XMLSyntaxError as exc:
        line = f"line {exc.lineno}" if exc.lineno else "file"
        raise faults.fatal(line, _syntax_problem(exc)) from exc
    except etree.LxmlError as exc:
        raise faults.fatal("file", _strip_namespaces(str(exc))) from exc
    except MigrationFileRejected as exc:  # the size bound, raised while reading
        raise faults.fatal("file", _without_name(str(exc), faults.name)) from exc
    if not state["complete"]:
        raise faults.fatal("file", "the document ends before its root element closes")


def _events(
    parser: etree.XMLPullParser,
    root: str,
    tags: tuple[str, ...],
    state: dict[str, bool],
    faults: FaultList,
) -> Iterator[etree._Element]:
    for event, elem in parser.read_events():
        if not isinstance(elem, etree._Element):
            continue  # only start and end events are asked for
        if event == "start":
            if not state["root"]:
                state["root"] = True
                if elem.tag != root:
                    raise faults.fatal(
                        f"line {elem.sourceline}",
                        f"the root element is {_local(elem.tag)}, expected {_local(root)}",
                    )
        elif elem.tag == root:
            state["complete"] = True
        elif elem.tag in tags:
            yield elem


def release(elem: etree._Element) -> None:
    """Free a processed element and the siblings before it, keeping memory flat."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def child_text(elem: etree._Element, tag: str) -> str:
    """The stripped text of a child element ('' when absent)."""
    child = elem.find(tag)
    return (child.text or "").strip() if child is not None else ""


def parse_eui(text: str, what: str, where: str, faults: FaultList) -> Eui64 | None:
    """An EUI-64, or None with a fault naming ``what`` it was meant to be."""
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        faults.add(where, f"{what}: {exc}")
        return None


def parse_day(text: str, what: str, where: str, faults: FaultList) -> date | None:
    """A ``yyyy-mm-dd`` date, or None with a fault."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        faults.add(where, f"{what} {text!r} is not a date (yyyy-mm-dd)")
        return None


def parse_count(text: str, what: str, where: str, faults: FaultList) -> int | None:
    """A whole number from 0 to ``MAX_COUNT``, or None with a fault."""
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_COUNT:
        faults.add(where, f"{what} {text!r} is not a whole number from 0 to {MAX_COUNT:,}")
        return None
    return value


def parse_instant(text: str, what: str, where: str, faults: FaultList) -> datetime | None:
    """An ISO 8601 date and time, or None with a fault."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        faults.add(where, f"{what} {text!r} is not a date and time")
        return None


def element_writer(target: Path | BinaryIO, root: str, namespace: str) -> tuple[ExitStack, Any]:
    """An ``etree.xmlfile`` on ``target`` (a path or a binary stream) with the declaration and
    the open root element; closing the stack ends the document."""
    stack = ExitStack()
    output: Any = str(target) if isinstance(target, Path) else target
    try:
        xf = stack.enter_context(etree.xmlfile(output, encoding="UTF-8"))
        xf.write_declaration()
        stack.enter_context(
            xf.element(
                "{" + namespace + "}" + root,
                {"schemaVersion": SCHEMA_VERSION},
                nsmap={None: namespace},
            )
        )
    except BaseException:
        stack.close()
        raise
    return stack, xf


def write_item(xf: Any, tag: str, attributes: dict[str, str]) -> None:
    """An empty element on a line of its own (so that faults name useful lines)."""
    xf.write("\n")
    with xf.element(tag, attributes):
        pass


def header_element(namespace: str, fields: Iterable[tuple[str, str]]) -> etree._Element:
    """A ``Header`` element with one child per (tag, text)."""
    nsmap: Any = {None: namespace}
    header = etree.Element("{" + namespace + "}Header", nsmap=nsmap)
    for tag, text in fields:
        etree.SubElement(header, "{" + namespace + "}" + tag).text = text
    return header


class _Memo:
    """Parses repeated texts once (EUI-64s and dates repeat across millions of records)."""

    def __init__(self) -> None:
        self._seen: dict[str, object] = {}

    def get(self, text: str, parse: Callable[[str], _T]) -> _T:
        found = self._seen.get(text)
        if found is None:
            found = parse(text)
            if len(self._seen) < _CACHE_LIMIT:
                self._seen[text] = found
        return found  # type: ignore[return-value]


def _syntax_problem(exc: etree.XMLSyntaxError) -> str:
    """libxml2's message without the position (the fault names the line) or namespaces."""
    message = _POSITION.sub("", exc.msg if exc.msg else str(exc))
    message = _LINE_PREFIX.sub("", message)
    if message[:2] in ("b'", 'b"') and message.endswith(message[1]):  # lxml left it as bytes
        message = message[2:-1]
    return _strip_namespaces(message)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _strip_namespaces(message: str) -> str:
    while "{urn:" in message:
        start = message.index("{urn:")
        end = message.find("}", start)
        if end < 0:
            break
        message = message[:start] + message[end + 1 :]
    return message


def _without_name(message: str, name: str) -> str:
    return message.removeprefix(f"{name}: ")


# --- registration data ---------------------------------------------------------------------


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
        self._euis, self._days = _Memo(), _Memo()

    def __enter__(self) -> RegistrationFileReader:
        faults = self.faults
        parsed = check_name(self.path.name, FileKind.REGISTRATION, faults)
        self._raw, source = open_document(self.path, self.max_bytes, faults)
        try:
            self._elements = iter_elements(
                source,
                exchange_schema("registration-v1.xsd"),
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
        sender = parse_eui(child_text(elem, _NS + "Sender"), "Sender", where, self.faults)
        created = parse_instant(
            child_text(elem, _NS + "CreatedAt"), "CreatedAt", where, self.faults
        )
        count = parse_count(
            child_text(elem, _NS + "RecordCount"), "RecordCount", where, self.faults
        )
        if sender is None or created is None or count is None:
            return None
        root = elem.getparent()
        return RegistrationHeader(
            file_id=child_text(elem, _NS + "FileID"),
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


class RegistrationFileWriter(AbstractContextManager["RegistrationFileWriter"]):
    """Write a header and the parties, then records one at a time, in constant memory.

    The number of records written must be the header's ``record_count`` (``ValueError`` at the
    end otherwise: the file would be rejected).
    """

    def __init__(
        self, path: Path, header: RegistrationHeader, parties: Iterable[Party] = ()
    ) -> None:
        self._path, self._header, self._parties = path, header, tuple(parties)
        self.written = 0
        self._stack = ExitStack()

    def __enter__(self) -> RegistrationFileWriter:
        h = self._header
        stack, xf = element_writer(self._path, "RegistrationFile", NAMESPACE)
        self._stack = stack
        try:
            xf.write(
                header_element(
                    NAMESPACE,
                    (
                        ("FileID", h.file_id),
                        ("Sender", h.sender.value),
                        ("CreatedAt", h.created_at.isoformat()),
                        ("RecordCount", str(h.record_count)),
                    ),
                )
            )
            if self._parties:
                parties = etree.Element(_NS + "Parties", nsmap=_NSMAP)
                for party in self._parties:
                    parties.text = "\n"
                    etree.SubElement(
                        parties,
                        _PARTY,
                        eui=party.eui.value,
                        shortCode=party.short_code,
                        name=party.name,
                        roles=" ".join(sorted(role.value for role in party.roles)),
                    )
                xf.write(parties)
            stack.enter_context(xf.element(_NS + "MeterPoints"))
        except BaseException:
            stack.close()
            raise
        self._xf = xf
        return self

    def write(self, record: RegistrationRecord) -> None:
        """Append one registration record."""
        write_item(
            self._xf,
            _METER_POINT,
            {
                "mpxn": record.mpxn,
                "kind": record.kind.value,
                "supplier": record.supplier.value,
                "networkOperator": record.network_operator.value,
                "effectiveFrom": record.effective_from.isoformat(),
            },
        )
        self.written += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()
        if exc_type is None and self.written != self._header.record_count:
            raise ValueError(
                f"{self._path.name}: {self.written:,} records written but the header's "
                f"RecordCount is {self._header.record_count:,}"
            )
