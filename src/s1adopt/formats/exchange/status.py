"""The registration status file: DCC Service Flag changes, for a registration data provider.

Rules:
- named ``RSF_<ref>_<provider EUI-64>_<yyyymmdd>.xml``, the date being the day whose changes it
  lists; it names each meter point whose flag changed: MPAN or MPRN, the new flag and the time
  it takes effect from (timezone-aware, written in UTC), in the order given;
- written and read in constant memory (it can list millions of changes); a trailer holds the
  number of changes, so a truncated or padded file is rejected at its end;
- the reader checks the name against the header (reference, provider, day).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from lxml import etree

from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind, ServiceFlag
from s1adopt.formats.exchange.names import FileKind, build_name, parse_name
from s1adopt.formats.exchange.xmlio import (
    FirstFault,
    atomic_document,
    child_text,
    exchange_schema,
    iter_elements,
    leaf,
    open_document,
    parse_time,
    release,
    require_eui,
)

NAMESPACE = "urn:s1adopt:status:v1"
DEFAULT_MAX_BYTES = 16 * 1024**3

_Q = "{" + NAMESPACE + "}"
_ROOT, _HEADER, _CHANGE, _TRAILER = (
    _Q + "RegistrationStatus",
    _Q + "Header",
    _Q + "Change",
    _Q + "Trailer",
)
_REFERENCE = re.compile(r"[A-Za-z0-9]{1,32}")
_MPXN = {MeterPointKind.MPAN: re.compile(r"\d{13}"), MeterPointKind.MPRN: re.compile(r"\d{6,10}")}
# Lookups by value accept the enum members and their plain values alike (StrEnum).
_KIND_TEXT = {kind: kind.value for kind in MeterPointKind}
_FLAG_TEXT = {flag: flag.value for flag in ServiceFlag}
_KINDS = {kind.value: kind for kind in MeterPointKind}
_FLAGS = {flag.value: flag for flag in ServiceFlag}


@dataclass(frozen=True, slots=True)
class FlagChange:
    """A meter point's DCC Service Flag, in force from ``effective_from``."""

    mpxn: str
    kind: MeterPointKind
    flag: ServiceFlag
    effective_from: datetime  # timezone-aware


@dataclass(frozen=True, slots=True)
class StatusFileHeader:
    """What a registration status file is: its reference, addressee and day."""

    reference: str
    provider: Eui64
    day: date


def status_name(reference: str, provider: Eui64, day: date) -> str:
    """``RSF_<ref>_<provider>_<yyyymmdd>.xml``."""
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"{reference!r}: a file reference is 1 to 32 letters or digits")
    return build_name(FileKind.REGISTRATION_STATUS, reference, provider, None, day)


class RegistrationStatusWriter(AbstractContextManager["RegistrationStatusWriter"]):
    """Write flag changes one at a time, in constant memory; the file appears complete on a
    clean exit (and not at all after an error).

    Use as ``with RegistrationStatusWriter(directory, ref, provider, day) as w: w.write(c)``.
    """

    def __init__(self, directory: Path, reference: str, provider: Eui64, day: date) -> None:
        self.path = directory / status_name(reference, provider, day)
        self.header = StatusFileHeader(reference, provider, day)
        self.count = 0
        self._stack = ExitStack()

    def __enter__(self) -> RegistrationStatusWriter:
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self) -> None:
        h, stack = self.header, self._stack
        xf = stack.enter_context(atomic_document(self.path, "RegistrationStatus", NAMESPACE))
        xf.write("\n")
        with xf.element(_HEADER):
            leaf(xf, _Q + "Reference", h.reference)
            leaf(xf, _Q + "Provider", h.provider.value)
            leaf(xf, _Q + "Day", h.day.isoformat())
        xf.write("\n")
        self._xf, self._failed = xf, False
        stack.callback(self._write_trailer)  # runs after </Changes>, before the root closes
        stack.enter_context(xf.element(_Q + "Changes"))
        xf.write("\n")

    def write(self, change: FlagChange) -> None:
        """Append one change; ``ValueError`` for a malformed meter point or a naive time."""
        kind, flag, at = (
            _KIND_TEXT.get(change.kind),
            _FLAG_TEXT.get(change.flag),
            change.effective_from,
        )
        if kind is None or not _MPXN[change.kind].fullmatch(change.mpxn):
            raise ValueError(f"{change.mpxn!r} is not a valid {change.kind} for the status file")
        if flag is None:
            raise ValueError(f"{change.mpxn}: {change.flag!r} is not a DCC Service Flag")
        if at.tzinfo is not UTC:
            if at.tzinfo is None or at.utcoffset() is None:
                raise ValueError(f"{change.mpxn}: effective_from has no time zone")
            at = at.astimezone(UTC)
        attrs = {
            "mpxn": change.mpxn,
            "kind": kind,
            "flag": flag,
            "effectiveFrom": at.isoformat().replace("+00:00", "Z"),
        }
        with self._xf.element(_CHANGE, attrs):
            pass
        self._xf.write("\n")
        self.count += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._failed = exc_type is not None
        self._stack.__exit__(exc_type, exc, tb)

    def _write_trailer(self) -> None:
        if self._failed:
            return
        self._xf.write("\n")
        with self._xf.element(_TRAILER):
            leaf(self._xf, _Q + "ChangeCount", str(self.count))


def write_registration_status(
    directory: Path,
    reference: str,
    provider: Eui64,
    day: date,
    changes: Iterable[FlagChange],
) -> Path:
    """Write the registration status file of ``changes`` (streamed); return its path."""
    with RegistrationStatusWriter(directory, reference, provider, day) as writer:
        for change in changes:
            writer.write(change)
    return writer.path


class RegistrationStatusReader:
    """Iterate over the changes of one registration status file; ``header`` is set first.

    Use as ``with RegistrationStatusReader(path) as reader: for change in reader: ...``. The
    whole file is validated against the XSD as it streams; ``ExchangeFileRejected`` names the
    first problem (unsafe, oversized, malformed, invalid, truncated, name and header differ).
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.header: StatusFileHeader | None = None
        self.changes_read = 0
        self._faults = FirstFault(path.name)
        self._raw: BinaryIO | None = None

    def __enter__(self) -> RegistrationStatusReader:
        self._named = parse_name(self.path.name)
        if self._named.kind is not FileKind.REGISTRATION_STATUS:
            raise self._faults.fatal("name", f"a {self._named.kind.value} name, not RSF")
        self._raw, self._source = open_document(self.path, self.max_bytes, self._faults)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._raw is not None:
            self._raw.close()

    def read_header(self) -> StatusFileHeader:
        """Parse up to the end of the header and return it (the iteration continues after)."""
        self._events = self._parse()
        first = next(self._events, None)
        if not isinstance(first, StatusFileHeader):
            raise self._faults.fatal("file", "no header")
        self.header = first
        return first

    def __iter__(self) -> Iterator[FlagChange]:
        if self.header is None:
            self.read_header()
        for item in self._events:
            assert isinstance(item, FlagChange)
            yield item

    def _parse(self) -> Iterator[StatusFileHeader | FlagChange]:
        assert self._raw is not None, "use the reader as a context manager"
        faults = self._faults
        elements = iter_elements(
            self._source,
            exchange_schema("status-v1.xsd"),
            _ROOT,
            (_HEADER, _CHANGE, _TRAILER),
            faults,
        )
        expected: int | None = None
        for elem in elements:
            tag = elem.tag
            if tag == _CHANGE:
                change = _change(elem, faults)
                release(elem)
                self.changes_read += 1
                yield change
            elif tag == _HEADER:
                header = self._header(elem)
                release(elem)
                yield header
            else:
                expected = int(child_text(elem, _Q + "ChangeCount"))
        if expected is None:
            raise faults.fatal("file", "the document ends before its trailer; it is truncated")
        if expected != self.changes_read:
            raise faults.fatal(
                "Trailer",
                f"ChangeCount is {expected:,} but the file holds {self.changes_read:,} changes",
            )

    def _header(self, elem: etree._Element) -> StatusFileHeader:
        # Schema errors of a stream come at its end: check what is read here as well.
        try:
            day = date.fromisoformat(child_text(elem, _Q + "Day"))
        except ValueError as exc:
            raise self._faults.fatal("Header", "Day is not a date (yyyy-mm-dd)") from exc
        header = StatusFileHeader(
            reference=child_text(elem, _Q + "Reference"),
            provider=require_eui(child_text(elem, _Q + "Provider"), self._faults),
            day=day,
        )
        named = self._named
        if (header.reference, header.provider, header.day) != (
            named.reference,
            named.party,
            named.day,
        ):
            raise self._faults.fatal(
                "Header", "reference, provider or day differs from the file name"
            )
        return header


def read_registration_status(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[StatusFileHeader, list[FlagChange]]:
    """The header and every change of a (small enough) registration status file."""
    with RegistrationStatusReader(path, max_bytes) as reader:
        header = reader.read_header()
        return header, list(reader)


def _change(elem: etree._Element, faults: FirstFault) -> FlagChange:
    get = elem.get
    where = f"line {elem.sourceline}"
    # Schema errors of a stream come at its end: check what is read here as well.
    kind = _KINDS.get(get("kind", ""))
    flag = _FLAGS.get(get("flag", ""))
    if kind is None or flag is None:
        raise faults.fatal(where, "kind must be MPAN or MPRN and flag a DCC Service Flag")
    mpxn = get("mpxn", "")
    if not _MPXN[kind].fullmatch(mpxn):
        raise faults.fatal(where, f"{mpxn!r} is not a valid {kind}")
    return FlagChange(
        mpxn=mpxn,
        kind=kind,
        flag=flag,
        effective_from=parse_time(get("effectiveFrom", ""), faults),
    )
