"""Streaming reader of migration files, schema-validated while parsing, in constant memory.

Rules:
- the whole file is checked against the XSD of its major version while it streams; any
  structural error rejects the file (``MigrationFileRejected`` naming the line and the problem);
- no record is made from structure the schema has not yet accepted: lxml may hand out an
  element's end event before it raises the schema error that element caused, so every event
  is checked against the parser's error log first, and the positions the records are built
  from (one Header, first; Installations only inside Installations) are checked again here;
- the header's RecordCount must equal the number of installations, so a truncated or padded
  file is rejected at its end;
- safe intake rules of ``formats.safe_xml`` apply (size bound, no DTD, no entities, no network,
  UTF-8 only).
Callers persist records only when the iteration finishes without error.
"""

from __future__ import annotations

import ast
import binascii
import os
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path

from lxml import etree

from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.domain.records import (
    DeviceRecord,
    InstallationRecord,
    MigrationFileHeader,
    SealedCredential,
)
from s1adopt.formats.migration import NAMESPACE_V1
from s1adopt.formats.safe_xml import PROLOG_LIMIT, BoundedReader, check_prolog

_NS = "{" + NAMESPACE_V1 + "}"
_ROOT, _HEADER, _INSTALLATION = _NS + "MigrationFile", _NS + "Header", _NS + "Installation"
_INSTALLATIONS = _NS + "Installations"
_MPAN, _MPRN, _DEVICE, _CREDENTIAL = _NS + "MPAN", _NS + "MPRN", _NS + "Device", _NS + "Credential"
_HEADER_FIELDS = ("FileID", "SMSO", "ResponsibleSupplier", "CreatedAt", "RecordCount")
_HEADER_TAGS = [_NS + field for field in (*_HEADER_FIELDS, "CredentialTransport")]
_INTEGER = re.compile(r"[+-]?[0-9]+")
_XML_SPACE = str.maketrans("", "", " \t\r\n")
_MESSAGE_LIMIT = 300
_LINE_PREFIX = re.compile(r"\Aline [0-9]+: ")
_BYTES_REPR = re.compile(r"b(['\"]).*\1", re.DOTALL)
DEFAULT_MAX_BYTES = 4 * 1024**3


@cache
def migration_schema() -> etree.XMLSchema:
    """The XSD of schema version 1, loaded from the package with network access off."""
    text = resources.files("s1adopt.formats.migration").joinpath("migration-v1.xsd").read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(text, parser))


class MigrationFileReader:
    """Iterate over the installations of one migration file; ``header`` is set first.

    Use as ``with MigrationFileReader(path) as reader: for record in reader: ...``.
    Every problem of the file's content surfaces as ``MigrationFileRejected`` naming the file.
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.header: MigrationFileHeader | None = None
        self.records_read = 0
        self._file: BoundedReader | None = None
        self._elements: Iterator[etree._Element] = iter(())
        self._read_to_end = False

    def __enter__(self) -> MigrationFileReader:
        name = self.path.name
        try:
            size = os.stat(self.path).st_size
            raw = open(self.path, "rb")
        except OSError as exc:
            raise MigrationFileRejected(f"{self.path}: cannot be read: {exc.strerror}") from exc
        if size > self.max_bytes:
            raw.close()
            raise MigrationFileRejected(
                f"{name}: {size:,} bytes is larger than the limit of {self.max_bytes:,}; split "
                "it into smaller files or raise the limit in the settings"
            )
        try:
            check_prolog(raw.read(PROLOG_LIMIT), name)
        except MigrationFileRejected:
            raw.close()
            raise
        raw.seek(0)
        self._raw = raw
        self._file = BoundedReader(raw, self.max_bytes, name)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._raw.close()

    def read_header(self) -> MigrationFileHeader:
        """Parse up to the end of the header and return it (the iteration continues after)."""
        if self.header is not None:
            return self.header
        name = self.path.name
        self._elements = self._verified_elements()
        elem = next(self._elements, None)
        if elem is None or elem.tag == _ROOT:
            raise MigrationFileRejected(f"{name}: no Header found")
        if elem.tag != _HEADER:
            raise _rejected(name, elem, "comes before the Header")
        root = elem.getparent()
        if root is None or root.tag != _ROOT or elem.getprevious() is not None:
            raise _rejected(name, elem, "must be the first element of MigrationFile")
        self.header = _header(name, elem, root)
        _release(elem)
        return self.header

    def __iter__(self) -> Iterator[InstallationRecord]:
        header = self.read_header()
        if self._read_to_end:  # iterated before: nothing is left to hand out
            return
        name = self.path.name
        complete = False
        for elem in self._elements:
            tag = elem.tag
            if tag == _INSTALLATION:
                parent = elem.getparent()
                if parent is None or parent.tag != _INSTALLATIONS:
                    raise _rejected(name, elem, "is outside Installations")
                record = _installation(name, elem)
                _release(elem)
                self.records_read += 1
                yield record
            elif tag == _HEADER:
                raise _rejected(
                    name, elem, "appears again; a file has exactly one, before its Installations"
                )
            elif elem.getparent() is not None:
                raise _rejected(name, elem, "is nested inside another element")
            else:
                complete = True
        if not complete:
            raise MigrationFileRejected(f"{name}: the document ends before its root closes")
        if header.record_count != self.records_read:
            raise MigrationFileRejected(
                f"{name}: header RecordCount is {header.record_count:,} but the file holds "
                f"{self.records_read:,} installations; the file is truncated or inconsistent"
            )
        self._read_to_end = True

    def _verified_elements(self) -> Iterator[etree._Element]:
        """The elements the parser has closed, each only once all before it is schema-valid.

        lxml queues the events of a whole chunk before it raises the first error in that
        chunk, so an event is handed on only while the parser's error log holds no error.
        """
        if self._file is None:
            raise RuntimeError("use MigrationFileReader as a context manager")
        name = self.path.name
        # No DTD can reach the parser (check_prolog rejects it), so no entity can be declared.
        # resolve_entities=False is deliberately not passed: combined with schema validation it
        # makes libxml2 hide errors at the end of a truncated document. The encoding is forced
        # so that the parser sees the same characters as the byte-level prolog check.
        context = etree.iterparse(
            self._file,
            events=("end",),
            tag=(_ROOT, _HEADER, _INSTALLATION),
            schema=migration_schema(),
            encoding="UTF-8",
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            for _, elem in context:
                if context.error_log and (error := _first_error(context.error_log)):
                    raise MigrationFileRejected(_describe(name, error.line, error.message))
                yield elem
        except etree.XMLSyntaxError as exc:
            # Not exc.error_log: with a schema it is lxml's global log, holding older parses.
            message = _unwrapped(exc.msg or str(exc))
            raise MigrationFileRejected(_describe(name, exc.lineno, message)) from exc
        except etree.LxmlError as exc:
            raise MigrationFileRejected(f"{name}: {exc}") from exc
        except OSError as exc:
            raise MigrationFileRejected(f"{name}: cannot be read: {exc}") from exc


def _first_error(log: etree._ListErrorLog) -> etree._LogEntry | None:
    errors = log.filter_from_errors()
    return errors[0] if errors else None


def _unwrapped(message: str) -> str:
    """The text of a message lxml gives as ``line N: b'...'`` when a schema is attached."""
    message = _LINE_PREFIX.sub("", message)
    if _BYTES_REPR.fullmatch(message):
        try:
            return str(ast.literal_eval(message).decode("utf-8", "replace"))
        except (ValueError, SyntaxError):
            pass
    return message


def _describe(name: str, line: int | None, message: str) -> str:
    where = line if line else "?"
    message = message.replace(_NS, "")
    if len(message) > _MESSAGE_LIMIT:  # libxml2 quotes whole values, however long
        message = message[:_MESSAGE_LIMIT] + "..."
    return f"{name}: line {where}: {message}"


def _rejected(name: str, elem: etree._Element, problem: str) -> MigrationFileRejected:
    return MigrationFileRejected(
        f"{name}: line {elem.sourceline or '?'}: {etree.QName(elem).localname} {problem}"
    )


def _release(elem: etree._Element) -> None:
    """Free a processed element and the siblings before it, keeping memory flat."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _header(name: str, elem: etree._Element, root: etree._Element) -> MigrationFileHeader:
    children = list(elem)
    if [child.tag for child in children] != _HEADER_TAGS:
        raise _rejected(
            name,
            elem,
            f"must hold {', '.join(_HEADER_FIELDS)} and CredentialTransport, once each and in "
            "this order",
        )
    fields = [(child.text or "").strip() for child in children[:-1]]
    file_id, smso, supplier, created_at, count = fields
    if _INTEGER.fullmatch(count) is None or int(count) < 0:
        raise _rejected(name, children[4], f"{count!r} is not a number of installations")
    transport = children[-1]
    key = _required(name, transport, "ephemeralPublicKey")
    return MigrationFileHeader(
        file_id=file_id,
        schema_version=_required(name, root, "schemaVersion"),
        smso=smso,
        responsible_supplier=supplier,
        created_at=created_at,
        record_count=int(count),
        transport_public_key=_base64(name, transport, key, "attribute ephemeralPublicKey"),
    )


def _installation(name: str, elem: etree._Element) -> InstallationRecord:
    mpan = mprn = None
    devices: list[DeviceRecord] = []
    for child in elem:
        tag = child.tag
        if tag == _DEVICE:
            devices.append(_device(name, child))
        elif tag == _MPAN:
            mpan = (child.text or "").strip()
        elif tag == _MPRN:
            mprn = (child.text or "").strip()
        else:
            raise _rejected(name, child, "is not expected in an Installation")
    get = elem.get
    reference, kind, cohort = get("reference"), get("type"), get("cohort")
    if reference is None or kind is None or cohort is None:
        raise _missing(name, elem, ("reference", "type", "cohort"))
    return InstallationRecord(reference, kind, cohort, mpan, mprn, tuple(devices))


def _device(name: str, elem: etree._Element) -> DeviceRecord:
    credential = _credential(name, elem) if len(elem) else None
    get = elem.get
    device_id, kind, manufacturer, model = get("id"), get("type"), get("manufacturer"), get("model")
    if device_id is None or kind is None or manufacturer is None or model is None:
        raise _missing(name, elem, ("id", "type", "manufacturer", "model"))
    firmware, associated = get("firmware"), get("associatedWith")
    return DeviceRecord(device_id, kind, manufacturer, model, firmware, associated, credential)


def _credential(name: str, device: etree._Element) -> SealedCredential:
    cred = device[0]
    if cred.tag != _CREDENTIAL or len(device) > 1 or len(cred):
        raise _rejected(name, device, "may hold only one Credential, with text only")
    nonce = _base64(name, cred, _required(name, cred, "nonce"), "attribute nonce")
    return SealedCredential(nonce, _base64(name, cred, cred.text or "", "text"))


def _required(name: str, elem: etree._Element, attribute: str) -> str:
    value = elem.get(attribute)
    if value is None:
        raise _missing(name, elem, (attribute,))
    return value


def _missing(name: str, elem: etree._Element, attributes: tuple[str, ...]) -> MigrationFileRejected:
    absent = ", ".join(a for a in attributes if elem.get(a) is None)
    return _rejected(name, elem, f"lacks the required attribute(s) {absent}")


def _base64(name: str, elem: etree._Element, value: str, what: str) -> bytes:
    """Decode ``value``, found in ``elem`` as ``what``; the XSD allows whitespace inside it."""
    try:
        return binascii.a2b_base64(value, strict_mode=True)
    except ValueError:
        pass
    try:
        return binascii.a2b_base64(value.translate(_XML_SPACE), strict_mode=True)
    except ValueError as exc:  # binascii.Error, or characters outside ASCII
        raise _rejected(name, elem, f"{what} is not valid base64: {exc}") from exc
