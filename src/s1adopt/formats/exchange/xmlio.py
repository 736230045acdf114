"""Safe XML for every exchange format: one way to read a file, one way to write one.

Rules of every exchange reader:
- the size is bounded (``max_bytes``) and checked before and while reading; a DTD anywhere in
  the prolog, or an encoding other than UTF-8, rejects the file (``formats.safe_xml``);
  libxml2 runs with network access and DTD loading off; the document is validated against the
  XSD of its kind (while it streams, in constant memory, for the streaming readers);
- every problem becomes ``ExchangeFileRejected(message, faults)``, faults being (where,
  problem) pairs such as ("line 12", "MPAN 1234567890123 fails its check digit ..."). A file
  taken in lists every fault found (``FaultList``: every one counted, the first
  ``MAX_LISTED_FAULTS`` listed; a schema or syntax error ends the reading, as nothing after it
  can be trusted); a file the service wrote itself is rejected at its first fault
  (``FirstFault``);
- an exchange name must be a name of the file's kind, and the party (and reference) it names
  must be the content's.
Rules of every exchange writer:
- a document starts with the XML declaration and a root carrying ``schemaVersion``; a list
  document puts each item on a line of its own, so that faults name useful lines;
- acknowledgements, notices, reports and registration status files are written to
  ``<name>.partial``, synced, then renamed (``atomic_document``, ``atomic_output``), so a
  reader never sees half a file; list documents (``ListWriter``) are written in place;
- free texts that may echo hostile input are made XML-safe and cut to the schema's bounds,
  never refused; times are timezone-aware and written in UTC.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, BinaryIO, Generic, Protocol, Self, TypeVar, cast

from lxml import etree

from s1adopt.domain.errors import ExchangeFileRejected, InvalidIdentity, MigrationFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import DCC_RECIPIENT
from s1adopt.formats.exchange.names import ExchangeName, FileKind, parse_name
from s1adopt.formats.safe_xml import PROLOG_LIMIT, BoundedReader, check_prolog

SCHEMA_VERSION = "1.0"  # written by every exchange document of version 1
MAX_LISTED_FAULTS = 100
MAX_COUNT = 100_000_000  # the schemas' bound on counts
TEXT_LIMIT = 4000  # characters of a free text, as in the XSDs
_PACKAGE = "s1adopt.formats.exchange"
_CHUNK = 64 * 1024  # bytes fed to the parser at a time
_CACHE_LIMIT = 4096  # distinct texts a ``Memo`` remembers while reading one file
_POSITION = re.compile(r",? line \d+, column \d+$")  # libxml2's suffix; faults name the line
_LINE_PREFIX = re.compile(r"^line \d+: ")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
_T = TypeVar("_T")
_S = TypeVar("_S")  # the type of a list header's stamp: a date or a time


# --- faults ------------------------------------------------------------------------------------


class FatalFaults(Protocol):
    """How a reader names its file and rejects it at a fault that ends the reading."""

    @property
    def name(self) -> str: ...

    def fatal(self, where: str, problem: str) -> ExchangeFileRejected: ...


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


@dataclass(frozen=True, slots=True)
class FirstFault:
    """The faults of a file the service wrote itself: the first one rejects it."""

    name: str

    def fatal(self, where: str, problem: str) -> ExchangeFileRejected:
        """The rejection naming this one fault."""
        return ExchangeFileRejected(f"{self.name}: {where}: {problem}", [(where, problem)])


# --- names -------------------------------------------------------------------------------------


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


# --- reading -----------------------------------------------------------------------------------


@cache
def exchange_schema(file_name: str) -> etree.XMLSchema:
    """An XSD shipped in ``formats/exchange``, loaded with network access off."""
    text = resources.files(_PACKAGE).joinpath(file_name).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(text, parser))


def read_bounded(path: Path, max_bytes: int, faults: FatalFaults) -> bytes:
    """The whole content of a small file, read no further than one byte past ``max_bytes``.

    Raises the rejection when the file cannot be read or is larger than ``max_bytes``.
    """
    try:
        with open(path, "rb") as raw:
            data = raw.read(max_bytes + 1)
    except OSError as exc:
        raise faults.fatal("file", f"cannot be read: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise faults.fatal("file", f"larger than the limit of {max_bytes:,} bytes")
    return data


def open_document(
    path: Path, max_bytes: int, faults: FatalFaults
) -> tuple[BinaryIO, BoundedReader]:
    """Open ``path`` for a streaming parse: the size bounded, the prolog checked for a DTD.

    Returns the open file (the caller closes it) and a reader bounded to ``max_bytes``. Raises
    the rejection when the file cannot be read, is too large or has a DTD.
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


def check_head(head: bytes, faults: FatalFaults) -> None:
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
    faults: FatalFaults,
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
    faults: FatalFaults,
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


def read_exchange_xml(path: Path, schema_file: str, max_bytes: int) -> etree._Element:
    """Parse a whole exchange document safely and validate it; return its root.

    Rejects (``ExchangeFileRejected``) a file over ``max_bytes``, with a DTD, not UTF-8,
    malformed or not valid against ``schema_file``.
    """
    name = path.name
    faults = FirstFault(name)
    data = read_bounded(path, max_bytes, faults)
    check_head(data[:PROLOG_LIMIT], faults)
    parser = etree.XMLParser(
        encoding="utf-8",  # never trust a declared encoding: the prolog check is byte-level
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ExchangeFileRejected(
            f"{name}: not well-formed XML: {exc.msg}", [(f"line {exc.lineno}", str(exc.msg))]
        ) from exc
    schema = exchange_schema(schema_file)
    if not schema.validate(root):
        errors = cast(Iterable[Any], schema.error_log)  # the stubs do not say it iterates
        problems = [(f"line {e.line}", str(e.message)) for e in errors]
        raise ExchangeFileRejected(f"{name}: not valid against {schema_file}", problems)
    return root


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


# --- values ------------------------------------------------------------------------------------


def child_text(elem: etree._Element, tag: str, *, strip: bool = False) -> str:
    """The text of ``elem``'s child ``tag`` ("" when absent or empty), stripped if asked."""
    child = elem.find(tag)
    text = "" if child is None else child.text or ""
    return text.strip() if strip else text


def parse_eui(text: str, what: str, where: str, faults: FaultList) -> Eui64 | None:
    """An EUI-64, or None with a fault naming ``what`` it was meant to be."""
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        faults.add(where, f"{what}: {exc}")
        return None


def require_eui(text: str, faults: FatalFaults) -> Eui64:
    """An EUI-64 from a file the service wrote; the rejection when it is not one."""
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        raise faults.fatal("file", str(exc)) from exc


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


def parse_time(text: str, faults: FatalFaults) -> datetime:
    """A time written with a zone (as ``utc_text`` writes it), as an aware UTC datetime."""
    if not _TIME.fullmatch(text):
        raise faults.fatal("file", f"{text!r} is not an ISO 8601 time with a zone")
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError as exc:
        raise faults.fatal("file", f"{text!r}: {exc}") from exc


def utc_text(at: datetime) -> str:
    """A timezone-aware time as ISO 8601 UTC (``...Z``); ``ValueError`` for a naive time."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; give a timezone-aware time")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def bounded(text: str, limit: int) -> str:
    """``xml_text(text)`` cut to ``limit`` characters (the last one an ellipsis when cut)."""
    safe = xml_text(text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "\u2026"


class Memo:
    """Parses repeated texts once (EUI-64s and dates repeat across millions of records)."""

    def __init__(self) -> None:
        self._seen: dict[str, object] = {}

    def get(self, text: str, parse: Callable[[str], _T]) -> _T:
        """``parse(text)``, remembered for the first ``_CACHE_LIMIT`` distinct texts."""
        found = self._seen.get(text)
        if found is None:
            found = parse(text)
            if len(self._seen) < _CACHE_LIMIT:
                self._seen[text] = found
        return found  # type: ignore[return-value]


# --- list documents: a header, then one element per item --------------------------------------


@dataclass(frozen=True, slots=True)
class ListLayout:
    """Where a list document keeps its parts:
    ``<root><Header>...</Header><container><item/>...</container></root>``.
    """

    schema: str  # the XSD file, shipped in this package
    namespace: str
    root: str  # local names from here on
    container: str
    item: str
    other_roots: tuple[str, ...] = ()  # the roots of the other kinds the same XSD allows

    def tag(self, local: str) -> str:
        """The qualified tag of ``local`` in this layout's namespace."""
        return "{" + self.namespace + "}" + local


@dataclass(frozen=True, slots=True)
class Stamp(Generic[_S]):
    """The date or time a list header holds after its Reference and Party."""

    tag: str
    parse: Callable[[str, str, str, FaultList], _S | None]  # parse_day or parse_instant


@dataclass(frozen=True, slots=True)
class ListDocument(Generic[_S, _T]):
    """A list document read whole: its header, recipient (from the name) and items."""

    reference: str
    party: Eui64
    recipient: str
    stamp: _S
    items: tuple[_T, ...]


ItemParser = Callable[[etree._Element, str, FaultList], _T | None]
"""Reads one item element (and the line it is on); None with a fault when it is bad."""


def read_list(
    path: Path,
    max_bytes: int,
    kind: FileKind,
    layout: ListLayout,
    stamp: Stamp[_S],
    parse_item: ItemParser[_T],
) -> ListDocument[_S, _T]:
    """A whole list document of ``kind``; ``ExchangeFileRejected`` lists every fault.

    The name's party and reference must be the header's, the recipient comes from the name.
    """
    faults = FaultList(path.name)
    parsed = check_name(path.name, kind, faults)
    raw, source = open_document(path, max_bytes, faults)
    with raw:
        read = stream_list(source, layout, stamp, parse_item, faults, parsed)
    faults.raise_if_any()
    (reference, party, stamped), items = read
    assert party is not None
    assert stamped is not None
    return ListDocument(reference, party, recipient_of(parsed), stamped, tuple(items))


def stream_list(
    source: Any,
    layout: ListLayout,
    stamp: Stamp[_S],
    parse_item: ItemParser[_T],
    faults: FaultList,
    parsed: ExchangeName | None = None,
) -> tuple[tuple[str, Eui64 | None, _S | None], list[_T]]:
    """The header (Reference, Party, ``stamp``) and the good items of a list document in
    ``source`` (bounded, its prolog checked), as ``iter_elements`` reads them.

    The header is checked against ``parsed`` (the file's name) as soon as it is read.
    """
    header_tag, item_tag = layout.tag("Header"), layout.tag(layout.item)
    reference, party, stamped = "", None, None
    items: list[_T] = []
    elements = iter_elements(
        source,
        exchange_schema(layout.schema),
        layout.tag(layout.root),
        (header_tag, item_tag),
        faults,
        other_roots=tuple(layout.tag(other) for other in layout.other_roots),
    )
    for elem in elements:
        where = f"line {elem.sourceline}"
        if elem.tag == header_tag:
            reference = child_text(elem, layout.tag("Reference"), strip=True)
            party_text = child_text(elem, layout.tag("Party"), strip=True)
            party = parse_eui(party_text, "Party", where, faults)
            stamp_text = child_text(elem, layout.tag(stamp.tag), strip=True)
            stamped = stamp.parse(stamp_text, stamp.tag, where, faults)
            check_name_agrees(parsed, party, reference, faults)
        else:
            item = parse_item(elem, where, faults)
            if item is not None:
                items.append(item)
        release(elem)
    return (reference, party, stamped), items


class ListWriter:
    """Write a list document, its items streamed one per line, in constant memory.

    Use as ``with ListWriter(target, layout, fields) as writer: writer.item(attributes)``;
    leaving the ``with`` ends the document. ``target`` is a path, or a
    function that opens a binary stream on the writer's exit stack (an archive member, say);
    ``fields`` are the header's (tag, text) pairs; a path is written atomically (complete or
    not at all); ``before`` are elements written between the
    header and the container.
    """

    def __init__(
        self,
        target: Path | Callable[[ExitStack], IO[bytes]],
        layout: ListLayout,
        fields: Iterable[tuple[str, str]],
        before: Iterable[etree._Element] = (),
    ) -> None:
        self._target, self._layout = target, layout
        self._fields, self._before = tuple(fields), tuple(before)
        self._stack = ExitStack()
        self.written = 0  # items

    def __enter__(self) -> Self:
        stack, layout = self._stack, self._layout
        try:
            target = (
                stack.enter_context(atomic_output(self._target))
                if isinstance(self._target, Path)
                else self._target(stack)
            )
            xf = stack.enter_context(xml_document(target, layout.root, layout.namespace))
            xf.write(_header_element(layout, self._fields))
            for element in self._before:
                xf.write(element)
            stack.enter_context(xf.element(layout.tag(layout.container)))
        except BaseException:
            stack.close()
            raise
        self._xf = xf
        return self

    def item(self, attributes: dict[str, str]) -> None:
        """An item: an empty element on a line of its own."""
        self._xf.write("\n")
        with self._xf.element(self._layout.tag(self._layout.item), attributes):
            pass
        self.written += 1

    @contextmanager
    def group(self, tag: str, attributes: dict[str, str]) -> Iterator[None]:
        """An element on a line of its own holding the items written inside it."""
        self._xf.write("\n")
        with self._xf.element(self._layout.tag(tag), attributes):
            yield

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


def _header_element(layout: ListLayout, fields: Iterable[tuple[str, str]]) -> etree._Element:
    """A ``Header`` element with one child per (tag, text)."""
    nsmap: Any = {None: layout.namespace}
    header = etree.Element(layout.tag("Header"), nsmap=nsmap)
    for tag, text in fields:
        etree.SubElement(header, layout.tag(tag)).text = text
    return header


# --- writing -----------------------------------------------------------------------------------


@contextmanager
def xml_document(target: Path | IO[bytes], root: str, namespace: str) -> Iterator[Any]:
    """An ``etree.xmlfile`` on ``target`` (a path, written in place, or a binary stream) with
    the XML declaration written and the root element (``schemaVersion``) open."""
    output: Any = str(target) if isinstance(target, Path) else target
    with etree.xmlfile(output, encoding="UTF-8") as xf:
        xf.write_declaration()
        nsmap: Any = {None: namespace}  # lxml accepts None as the default prefix
        with xf.element(
            "{" + namespace + "}" + root, {"schemaVersion": SCHEMA_VERSION}, nsmap=nsmap
        ):
            yield xf


@contextmanager
def atomic_document(path: Path, root: str, namespace: str) -> Iterator[Any]:
    """An ``xml_document`` that appears at ``path`` complete, or not at all (``atomic_output``)."""
    with atomic_output(path) as raw, xml_document(raw, root, namespace) as xf:
        yield xf


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` complete, or not at all.

    Written to ``<path>.partial``, flushed and synced, then renamed over ``path``; on an error
    the partial file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    _sync_directory(path.parent)


def leaf(xf: Any, tag: str, text: str, end: str = "\n") -> None:
    """Write ``<tag>text</tag>`` then ``end`` to an ``etree.xmlfile``.

    Elements are written through ``xf`` rather than built and written whole, so they inherit
    the namespace declared on the root instead of repeating it.
    """
    with xf.element(tag):
        xf.write(text)
    if end:
        xf.write(end)


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
