"""Streaming reader of migration files, schema-validated while parsing, in constant memory.

Rules:
- the whole file is checked against the XSD of its major version while it streams; any
  structural error rejects the file (``MigrationFileRejected`` naming the line and the problem);
- the header's RecordCount must equal the number of installations, so a truncated or padded
  file is rejected at its end;
- safe intake rules of ``formats.safe_xml`` apply (size bound, no DTD, no entities, no network).
Callers persist records only when the iteration finishes without error.
"""

from __future__ import annotations

import base64
import os
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
_MPAN, _MPRN, _DEVICE, _CREDENTIAL = _NS + "MPAN", _NS + "MPRN", _NS + "Device", _NS + "Credential"
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
    """

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.header: MigrationFileHeader | None = None
        self.records_read = 0
        self._file: BoundedReader | None = None

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
        self._events = self._parse()
        first = next(self._events, None)
        if not isinstance(first, MigrationFileHeader):
            raise MigrationFileRejected(f"{self.path.name}: no header before the installations")
        self.header = first
        return first

    def __iter__(self) -> Iterator[InstallationRecord]:
        if self.header is None:
            self.read_header()
        for item in self._events:
            assert isinstance(item, InstallationRecord)
            yield item

    def _parse(self) -> Iterator[MigrationFileHeader | InstallationRecord]:
        assert self._file is not None
        # No DTD can reach the parser (check_prolog rejects it), so no entity can be declared.
        # resolve_entities=False is deliberately not passed: combined with schema validation it
        # makes libxml2 hide errors at the end of a truncated document.
        context = etree.iterparse(
            self._file,
            events=("end",),
            tag=(_ROOT, _HEADER, _INSTALLATION),
            schema=migration_schema(),
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        expected: int | None = None
        complete = False
        try:
            for _, elem in context:
                if elem.tag == _ROOT:
                    complete = True
                elif elem.tag == _INSTALLATION:
                    if expected is None:
                        raise MigrationFileRejected(f"{self.path.name}: installation before header")
                    record = _installation(elem)
                    _release(elem)
                    self.records_read += 1
                    yield record
                else:
                    header = _header(elem)
                    expected = header.record_count
                    _release(elem)
                    yield header
        except etree.XMLSyntaxError as exc:
            raise MigrationFileRejected(_describe(self.path.name, exc)) from exc
        except etree.LxmlError as exc:
            raise MigrationFileRejected(f"{self.path.name}: {exc}") from exc
        if expected is None:
            raise MigrationFileRejected(f"{self.path.name}: no header found")
        if not complete:
            raise MigrationFileRejected(
                f"{self.path.name}: the document ends before its root closes"
            )
        if expected != self.records_read:
            raise MigrationFileRejected(
                f"{self.path.name}: header RecordCount is {expected:,} but the file holds "
                f"{self.records_read:,} installations; the file is truncated or inconsistent"
            )


def _describe(name: str, exc: etree.XMLSyntaxError) -> str:
    line = exc.lineno if exc.lineno else "?"
    message = exc.msg if exc.msg else str(exc)
    if "Element" in message and "{" in message:
        message = message.replace(_NS, "")
    return f"{name}: line {line}: {message}"


def _release(elem: etree._Element) -> None:
    """Free a processed element and the siblings before it, keeping memory flat."""
    elem.clear()
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _text(elem: etree._Element, tag: str) -> str:
    child = elem.find(tag)
    return (child.text or "").strip() if child is not None else ""


def _header(elem: etree._Element) -> MigrationFileHeader:
    transport = elem.find(_NS + "CredentialTransport")
    assert transport is not None  # guaranteed by the schema
    root = elem.getparent()
    version = root.get("schemaVersion", "") if root is not None else ""
    return MigrationFileHeader(
        file_id=_text(elem, _NS + "FileID"),
        schema_version=version,
        smso=_text(elem, _NS + "SMSO"),
        responsible_supplier=_text(elem, _NS + "ResponsibleSupplier"),
        created_at=_text(elem, _NS + "CreatedAt"),
        record_count=int(_text(elem, _NS + "RecordCount")),
        transport_public_key=base64.b64decode(transport.get("ephemeralPublicKey", "")),
    )


def _installation(elem: etree._Element) -> InstallationRecord:
    mpan = mprn = None
    devices: list[DeviceRecord] = []
    for child in elem:
        tag = child.tag
        if tag == _DEVICE:
            devices.append(_device(child))
        elif tag == _MPAN:
            mpan = (child.text or "").strip()
        elif tag == _MPRN:
            mprn = (child.text or "").strip()
    get = elem.get
    return InstallationRecord(
        reference=get("reference", ""),
        installation_type=get("type", ""),
        cohort=get("cohort", ""),
        mpan=mpan,
        mprn=mprn,
        devices=tuple(devices),
    )


def _device(elem: etree._Element) -> DeviceRecord:
    credential = None
    if len(elem):
        cred = elem[0]
        credential = SealedCredential(
            base64.b64decode(cred.get("nonce", "")), base64.b64decode(cred.text or "")
        )
    get = elem.get
    return DeviceRecord(
        device_id=get("id", ""),
        device_type=get("type", ""),
        manufacturer=get("manufacturer", ""),
        model=get("model", ""),
        firmware_version=get("firmware"),
        associated_with=get("associatedWith"),
        credential=credential,
    )
