"""Fuzzing the migration-file reader: every malformed or hostile file is a clean rejection.

A valid file is written with the project's own writer, then mutated. For every mutation the
streaming reader must either read exactly what a plain, whole-tree reading of the same bytes gives
(the reference: full parse, XSD, RecordCount, base64) or raise ``MigrationFileRejected`` naming the
file; any other exception fails the test.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.domain.records import (
    DeviceRecord,
    InstallationRecord,
    MigrationFileHeader,
    SealedCredential,
)
from s1adopt.formats.credentials import CredentialSealer
from s1adopt.formats.migration import NAMESPACE_V1
from s1adopt.formats.migration import reader as reader_module
from s1adopt.formats.migration.reader import MigrationFileReader, migration_schema
from tests.builders import FleetBuilder, write_file

NAME = "smso-fuzz-0001.xml"
LIMIT = 1 << 26
NS = {"m": NAMESPACE_V1}
Reading = tuple[MigrationFileHeader, list[InstallationRecord]]
FUZZ = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Sample:
    """A valid file's bytes, what reading it gives, and where its elements sit."""

    data: bytes
    reading: Reading
    spans: dict[str, list[tuple[int, int]]]  # local name -> (start, end) of each element
    boundaries: list[int]  # offsets between tags, where an element may be inserted

    def element(self, tag: str, index: int = 0) -> bytes:
        start, end = self.spans[tag][index]
        return self.data[start:end]


def _spans(data: bytes) -> tuple[dict[str, list[tuple[int, int]]], list[int]]:
    """Element spans of the writer's output (no comments, CDATA or '>' in attribute values)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    stack: list[tuple[str, int]] = []
    boundaries = []
    for tag in re.finditer(rb"<(/?)([A-Za-z]+)[^>]*?(/?)>", data):
        closing, name, empty = tag.group(1), tag.group(2).decode(), tag.group(3)
        boundaries += [tag.start(), tag.end()]
        if closing:
            opened, start = stack.pop()
            assert opened == name
            spans.setdefault(name, []).append((start, tag.end()))
        elif empty:
            spans.setdefault(name, []).append((tag.start(), tag.end()))
        else:
            stack.append((name, tag.start()))
    return spans, sorted(set(boundaries))


def _sample(directory: Path, count: int) -> Sample:
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    sealer = CredentialSealer(key, "F1")
    fleet = FleetBuilder(sealer)
    records = [fleet.installation(i, dual_fuel=i % 2 == 0) for i in range(1, count + 1)]
    data = write_file(directory / f"valid-{count}.xml", "F1", sealer, records).read_bytes()
    reading = _reference_reading(data)
    assert reading is not None
    assert reading[1] == records
    return Sample(data, reading, *_spans(data))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def small(workdir: Path) -> Sample:
    """One single-fuel installation: small enough to cut at every byte."""
    return _sample(workdir, 1)


@pytest.fixture(scope="module")
def sample(workdir: Path) -> Sample:
    """Three installations, one of them dual fuel."""
    return _sample(workdir, 3)


@pytest.fixture(scope="module")
def large(workdir: Path) -> Sample:
    """Enough installations to span several of the parser's 32 KiB chunks."""
    return _sample(workdir, 120)


# The reference: the same bytes read the plain way, whole tree at once.

_PARSER = etree.XMLParser(
    no_network=True, load_dtd=False, remove_comments=True, remove_pis=True, huge_tree=False
)


def _decode(value: str) -> bytes:
    return base64.b64decode(re.sub(r"[ \t\r\n]", "", value), validate=True)


def _reference_reading(data: bytes) -> Reading | None:
    """What a valid file gives; None if the file must be rejected."""
    try:
        tree = etree.ElementTree(etree.fromstring(data, _PARSER))
    except etree.XMLSyntaxError:
        return None
    docinfo = tree.docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        return None
    if (docinfo.encoding or "").lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
        return None
    if not migration_schema().validate(tree):
        return None
    root = tree.getroot()
    head = root.find("m:Header", NS)
    transport = None if head is None else head.find("m:CredentialTransport", NS)
    if head is None or transport is None:
        return None

    def text(elem: etree._Element, path: str) -> str:
        return (elem.findtext(path, namespaces=NS) or "").strip()

    def optional(elem: etree._Element, path: str) -> str | None:
        return None if elem.find(path, NS) is None else text(elem, path)

    def device(elem: etree._Element) -> DeviceRecord:
        cred = elem.find("m:Credential", NS)
        sealed = None
        if cred is not None:
            sealed = SealedCredential(_decode(cred.get("nonce", "")), _decode(cred.text or ""))
        get = elem.get
        return DeviceRecord(
            get("id", ""),
            get("type", ""),
            get("manufacturer", ""),
            get("model", ""),
            get("firmware"),
            get("associatedWith"),
            sealed,
        )

    try:
        header = MigrationFileHeader(
            text(head, "m:FileID"),
            root.get("schemaVersion", ""),
            text(head, "m:SMSO"),
            text(head, "m:ResponsibleSupplier"),
            text(head, "m:CreatedAt"),
            int(text(head, "m:RecordCount")),
            _decode(transport.get("ephemeralPublicKey", "")),
        )
        records = [
            InstallationRecord(
                inst.get("reference", ""),
                inst.get("type", ""),
                inst.get("cohort", ""),
                optional(inst, "m:MPAN"),
                optional(inst, "m:MPRN"),
                tuple(device(d) for d in inst.iterfind("m:Device", NS)),
            )
            for inst in root.iterfind("m:Installations/m:Installation", NS)
        ]
    except ValueError:  # base64 the schema lets through but no decoder takes
        return None
    return (header, records) if header.record_count == len(records) else None


# Reading through the streaming reader, and the property every mutation must keep.


def _read(directory: Path, data: bytes) -> Reading:
    path = directory / NAME
    path.write_bytes(data)
    with MigrationFileReader(path, LIMIT) as reader:
        return reader.read_header(), list(reader)


def _rejection(directory: Path, data: bytes) -> str:
    """The reader's rejection of ``data``, checked to name the file."""
    with pytest.raises(MigrationFileRejected) as caught:
        _read(directory, data)
    message = str(caught.value)
    assert NAME in message, message
    return message


def assert_read_as_the_reference_or_rejected(directory: Path, data: bytes) -> None:
    expected = _reference_reading(data)
    if expected is None:
        _rejection(directory, data)
    else:
        assert _read(directory, data) == expected


def test_the_valid_files_read_back_as_written_and_as_the_reference_reads_them(
    workdir: Path, small: Sample, sample: Sample, large: Sample
) -> None:
    for valid in (small, sample, large):
        assert _read(workdir, valid.data) == valid.reading


def test_iterating_a_file_again_after_its_end_hands_out_nothing_more(
    workdir: Path, sample: Sample
) -> None:
    (workdir / NAME).write_bytes(sample.data)
    with MigrationFileReader(workdir / NAME, LIMIT) as reader:
        assert list(reader) == sample.reading[1]
        assert list(reader) == []
        assert reader.read_header() == sample.reading[0]


# Mutations.

FRAGMENTS = [
    b"<Header/>",
    b'<Installation reference="X" type="Active" cohort="IOC"/>',
    b'<Device id="00-12-4B-00-00-00-00-01" type="CHF" manufacturer="N" model="M"/>',
    b'<Credential nonce="AAAA">AAAA</Credential>',
    b"<Installations>",
    b"</Installations>",
    b'<MigrationFile xmlns="urn:s1adopt:migration:v1" schemaVersion="1.0">',
    b"</MigrationFile>",
    b"<Unknown/>",
    b'<!DOCTYPE MigrationFile [<!ENTITY ent "IOC">]>',
    b'<!DOCTYPE MigrationFile SYSTEM "file:///etc/passwd">',
    b"&ent;",
    b"&#0;",
    b"&#x41;",
    b"&lt;",
    b"&amp;",
    b"<!-- a comment -->",
    b"<!-- -- -->",
    b"<?pi data?>",
    b"<?xml version='1.0'?>",
    b"<![CDATA[x]]>",
    b' extra="1"',
    b' xmlns="urn:other"',
    b' xmlns:p="urn:p" p:a="1"',
    b' reference="again"',
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3\x28",
    b"\xc0\xbc",
    b"\x00",
    b" ",
    b"\n",
    b"\t",
    b"\r",
    b'"',
    b"'",
    b"<",
    b">",
    b"&",
    b"=",
    b"/",
    b"-",
    b"+",
    b"==",
]


@st.composite
def element_edited(draw: st.DrawFn, sample: Sample) -> bytes:
    """``sample``'s bytes with one element copied, moved or dropped, between any two tags."""
    data = sample.data
    start, end = draw(st.sampled_from([span for spans in sample.spans.values() for span in spans]))
    piece, rest = data[start:end], data[:start] + data[end:]
    at = draw(st.sampled_from(sample.boundaries))
    kind = draw(st.sampled_from(["copy", "move", "drop"]))
    if kind == "drop":
        return rest
    if kind == "copy":
        return data[:at] + piece + data[at:]
    at = at if at <= start else max(start, at - len(piece))
    return rest[:at] + piece + rest[at:]


@st.composite
def mutated(draw: st.DrawFn, sample: Sample) -> bytes:
    """``sample``'s bytes after an element edit and byte edits (one to four edits in all)."""
    moved = draw(st.booleans())
    data = draw(element_edited(sample)) if moved else sample.data
    fragments = FRAGMENTS + [sample.element(tag) for tag in sample.spans]
    for _ in range(draw(st.integers(0 if moved else 1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "delete", "fragment", "bytes"]))
        if kind == "flip" and at < len(data):
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        elif kind == "fragment":
            data = data[:at] + draw(st.sampled_from(fragments)) + data[at:]
        else:
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return data


@FUZZ
@given(data=st.data())
def test_a_randomly_mutated_file_is_read_as_the_reference_reads_it_or_rejected(
    workdir: Path, sample: Sample, data: st.DataObject
) -> None:
    assert_read_as_the_reference_or_rejected(workdir, data.draw(mutated(sample)))


@FUZZ
@given(data=st.data())
def test_an_element_copied_moved_or_dropped_is_read_as_the_reference_reads_it_or_rejected(
    workdir: Path, sample: Sample, data: st.DataObject
) -> None:
    assert_read_as_the_reference_or_rejected(workdir, data.draw(element_edited(sample)))


@FUZZ
@given(data=st.data())
def test_a_fragment_inserted_between_two_tags_is_read_as_the_reference_reads_it_or_rejected(
    workdir: Path, sample: Sample, data: st.DataObject
) -> None:
    at = data.draw(st.sampled_from(sample.boundaries))
    elements = [sample.element(tag) for tag in sample.spans]
    fragment = data.draw(st.sampled_from(FRAGMENTS + elements))
    assert_read_as_the_reference_or_rejected(
        workdir, sample.data[:at] + fragment + sample.data[at:]
    )


ATTRIBUTES = [
    "schemaVersion", "algorithm", "ephemeralPublicKey", "reference", "type", "cohort", "id",
    "manufacturer", "model", "firmware", "associatedWith", "nonce",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(attribute=st.sampled_from(ATTRIBUTES), value=st.text(max_size=12))
def test_any_attribute_value_is_read_as_the_reference_reads_it_or_rejected(
    workdir: Path, sample: Sample, attribute: str, value: str
) -> None:
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    data = re.sub(
        rf' {attribute}="[^"]*"'.encode(),
        lambda _: f' {attribute}="{escaped}"'.encode(),
        sample.data,
        count=1,
    )
    assert_read_as_the_reference_or_rejected(workdir, data)


# Cut and flipped files.


def test_a_file_cut_at_any_byte_is_rejected(workdir: Path, small: Sample) -> None:
    for end in range(len(small.data)):
        _rejection(workdir, small.data[:end])


def test_a_file_larger_than_a_parse_chunk_cut_near_chunk_edges_is_rejected(
    workdir: Path, large: Sample
) -> None:
    chunk = 32 * 1024
    ends = {edge + delta for edge in range(chunk, len(large.data), chunk) for delta in (-1, 0, 1)}
    ends |= {start for start, _ in large.spans["Installation"][::7]}
    ends |= {len(large.data) - n for n in (1, 2, 17, len(b"</MigrationFile>"))}
    for end in sorted(ends):
        _rejection(workdir, large.data[:end])


@pytest.mark.parametrize("mask", [0x20, 0x01], ids=["bit-5", "bit-0"])
def test_a_single_byte_changed_anywhere_is_read_as_the_reference_reads_it_or_rejected(
    workdir: Path, small: Sample, mask: int
) -> None:
    for at in range(len(small.data)):
        flipped = bytes([small.data[at] ^ mask])
        assert_read_as_the_reference_or_rejected(
            workdir, small.data[:at] + flipped + small.data[at + 1 :]
        )


# Elements repeated or misplaced.


def _insert(data: bytes, at: int, fragment: bytes) -> bytes:
    return data[:at] + fragment + data[at:]


def _inner_start(s: Sample, tag: str, index: int = 0) -> int:
    start, _ = s.spans[tag][index]
    return s.data.index(b">", start) + 1


def _inner_end(s: Sample, tag: str, index: int = 0) -> int:
    return s.spans[tag][index][1] - len(f"</{tag}>")


def _without(s: Sample, tag: str, index: int = 0) -> bytes:
    start, end = s.spans[tag][index]
    return s.data[:start] + s.data[end:]


def _moved_after(s: Sample, tag: str, anchor: str) -> bytes:
    """``tag``'s first element moved to just after ``anchor``'s first element."""
    piece, rest = s.element(tag), _without(s, tag)
    return _insert(rest, rest.index(s.element(anchor)) + len(s.element(anchor)), piece)


MISPLACED: dict[str, tuple[Callable[[Sample], bytes], str]] = {
    "second-header-first-in-installations": (
        lambda s: _insert(s.data, _inner_start(s, "Installations"), s.element("Header")),
        "Header",
    ),
    "second-header-between-installations": (
        lambda s: _insert(s.data, s.spans["Installation"][0][1], s.element("Header")),
        "Header",
    ),
    "second-header-last-in-installations": (
        lambda s: _insert(s.data, _inner_end(s, "Installations"), s.element("Header")),
        "Header",
    ),
    "header-twice-before-installations": (
        lambda s: _insert(s.data, s.spans["Header"][0][1], s.element("Header")),
        "Header",
    ),
    "header-after-installations": (
        lambda s: _moved_after(s, "Header", "Installations"),
        "Installations",
    ),
    "header-missing": (lambda s: _without(s, "Header"), "Installations"),
    "header-inside-an-installation": (
        lambda s: _insert(s.data, _inner_end(s, "Installation"), s.element("Header")),
        "Header",
    ),
    "installation-before-header": (
        lambda s: _insert(s.data, s.spans["Header"][0][0], s.element("Installation")),
        "Installation",
    ),
    "installation-inside-header": (
        lambda s: _insert(s.data, _inner_end(s, "Header"), s.element("Installation")),
        "Installation",
    ),
    "installation-after-installations": (
        lambda s: _insert(s.data, s.spans["Installations"][0][1], s.element("Installation")),
        "Installation",
    ),
    "installation-inside-installation": (
        lambda s: _insert(s.data, _inner_end(s, "Installation", 1), s.element("Installation")),
        "Installation",
    ),
    "installation-inside-device": (
        lambda s: _insert(s.data, _inner_end(s, "Device"), s.element("Installation")),
        "Installation",
    ),
    "installations-twice": (
        lambda s: _insert(s.data, s.spans["Installations"][0][1], s.element("Installations")),
        "Installations",
    ),
    "installations-missing": (lambda s: _without(s, "Installations"), "Installations"),
    "migration-file-inside-installations": (
        lambda s: _insert(s.data, _inner_start(s, "Installations"), s.element("MigrationFile")),
        "MigrationFile",
    ),
    "migration-file-empty": (
        lambda s: s.data[: _inner_start(s, "MigrationFile")] + b"</MigrationFile>",
        "Header",
    ),
    "unknown-element-in-root": (
        lambda s: _insert(s.data, s.spans["Header"][0][1], b"<Unknown/>"),
        "Unknown",
    ),
    "unknown-element-in-header": (
        lambda s: _insert(s.data, _inner_end(s, "Header"), b"<Unknown/>"),
        "Unknown",
    ),
    "unknown-element-in-installation": (
        lambda s: _insert(s.data, _inner_end(s, "Installation"), b"<Unknown/>"),
        "Unknown",
    ),
    "unknown-element-in-credential": (
        lambda s: _insert(s.data, _inner_end(s, "Credential"), b"<Unknown/>"),
        "Credential",
    ),
    "credential-twice": (
        lambda s: _insert(s.data, s.spans["Credential"][0][1], s.element("Credential")),
        "Credential",
    ),
    "header-field-twice": (
        lambda s: _insert(s.data, s.spans["RecordCount"][0][1], s.element("RecordCount")),
        "RecordCount",
    ),
    "header-field-missing": (lambda s: _without(s, "CredentialTransport"), "CredentialTransport"),
    "header-fields-swapped": (lambda s: _moved_after(s, "FileID", "SMSO"), "FileID"),
    "element-in-another-namespace": (
        lambda s: _insert(
            s.data,
            _inner_start(s, "Installations"),
            s.element("Installation").replace(
                b'xmlns="urn:s1adopt:migration:v1"', b'xmlns="urn:other"'
            ),
        ),
        "Installation",
    ),
}


@pytest.mark.parametrize("case", MISPLACED, ids=list(MISPLACED))
def test_a_repeated_misplaced_or_unknown_element_rejects_the_file_naming_it(
    workdir: Path, sample: Sample, case: str
) -> None:
    build, element = MISPLACED[case]
    data = build(sample)
    assert _reference_reading(data) is None, "the case should break the schema"
    assert element in _rejection(workdir, data)


def _many_installations_then(s: Sample, fragment: bytes, after: int) -> bytes:
    return _insert(s.data, s.spans["Installation"][after][1], fragment)


def _read_until_rejected(directory: Path, data: bytes) -> tuple[list[InstallationRecord], str]:
    """The records handed out before the rejection, and its message."""
    (directory / NAME).write_bytes(data)
    handed_out: list[InstallationRecord] = []

    def read() -> None:
        with MigrationFileReader(directory / NAME, LIMIT) as reader:
            reader.read_header()
            handed_out.extend(reader)

    with pytest.raises(MigrationFileRejected) as caught:
        read()
    return handed_out, str(caught.value)


def test_no_installation_after_a_second_header_is_handed_out_in_a_file_of_many_chunks(
    workdir: Path, large: Sample
) -> None:
    after = 99
    data = _many_installations_then(large, large.element("Header"), after)
    handed_out, message = _read_until_rejected(workdir, data)
    assert "Header" in message
    assert NAME in message
    assert handed_out == large.reading[1][: len(handed_out)]
    assert 0 < len(handed_out) <= after + 1


def test_a_late_problem_is_raised_during_iteration_after_the_header_and_earlier_records(
    workdir: Path, large: Sample
) -> None:
    bad = large.element("Installation", 110).replace(b'type="Active"', b'type="Sleepy"')
    data = _many_installations_then(large, bad, 110)
    handed_out, message = _read_until_rejected(workdir, data)
    assert "Sleepy" in message
    assert len(handed_out) > 50


# Attributes, base64 and RecordCount.

REQUIRED = [
    ("MigrationFile", "schemaVersion"),
    ("CredentialTransport", "algorithm"),
    ("CredentialTransport", "ephemeralPublicKey"),
    ("Installation", "reference"),
    ("Installation", "type"),
    ("Installation", "cohort"),
    ("Device", "id"),
    ("Device", "type"),
    ("Device", "manufacturer"),
    ("Device", "model"),
    ("Credential", "nonce"),
]


def _attribute_removed(s: Sample, element: str, attribute: str) -> bytes:
    found = re.compile(rf' {attribute}="[^"]*"'.encode()).search(s.data, s.spans[element][0][0])
    assert found is not None
    return s.data[: found.start()] + s.data[found.end() :]


@pytest.mark.parametrize(("element", "attribute"), REQUIRED, ids=[a for _, a in REQUIRED])
def test_a_required_attribute_removed_rejects_the_file_naming_it(
    workdir: Path, sample: Sample, element: str, attribute: str
) -> None:
    assert attribute in _rejection(workdir, _attribute_removed(sample, element, attribute))


def _with_base64(s: Sample, where: str, value: str) -> bytes:
    if where == "ciphertext":
        start, end = _inner_start(s, "Credential"), _inner_end(s, "Credential")
        return s.data[:start] + value.encode() + s.data[end:]
    new = f' {where}="{value}"'.encode()
    return re.sub(rf' {where}="[^"]*"'.encode(), lambda _: new, s.data, count=1)


BAD_BASE64 = ["AAA", "A===", "AA=A", "AB==", "!!!!", "AAAA====", "ÄÄÄÄ", "A" * 400, "AAAA-AAA"]


@pytest.mark.parametrize("value", BAD_BASE64)
@pytest.mark.parametrize("where", ["ephemeralPublicKey", "nonce", "ciphertext"])
def test_bad_base64_in_a_key_nonce_or_ciphertext_rejects_the_file(
    workdir: Path, sample: Sample, where: str, value: str
) -> None:
    _rejection(workdir, _with_base64(sample, where, value))


def test_base64_split_by_whitespace_reads_as_the_same_bytes(workdir: Path, sample: Sample) -> None:
    def spaced(found: re.Match[bytes]) -> bytes:
        text = found.group(2)
        return found.group(1) + b" \n\t".join(text[i : i + 4] for i in range(0, len(text), 4))

    data = re.sub(rb'(ephemeralPublicKey=")([^"]*)', spaced, sample.data)
    data = re.sub(rb'(nonce=")([^"]*)', spaced, data)
    data = re.sub(rb"(<Credential [^>]*>)([^<]*)", spaced, data)
    assert data.count(b" \n\t") > 10
    assert _read(workdir, data) == sample.reading


def _with_record_count(s: Sample, value: str) -> bytes:
    start, end = _inner_start(s, "RecordCount"), _inner_end(s, "RecordCount")
    return s.data[:start] + value.encode() + s.data[end:]


@pytest.mark.parametrize(
    "value",
    ["three", "-1", "-3", "99999999999999999999", "20000001", "", "1.5", "3e0", "0x3", "٣", "1_0",
     "3 3", "&#x33;x", "2", "4", "0"],
)  # fmt: skip
def test_a_record_count_that_is_not_the_number_of_installations_rejects_the_file(
    workdir: Path, sample: Sample, value: str
) -> None:
    message = _rejection(workdir, _with_record_count(sample, value))
    assert "RecordCount" in message or "line" in message


@pytest.mark.parametrize("value", ["+3", " 3 ", "003", "\n3\n", "&#x33;"])
def test_a_record_count_written_another_valid_way_reads_as_the_same_file(
    workdir: Path, sample: Sample, value: str
) -> None:
    assert _read(workdir, _with_record_count(sample, value)) == sample.reading


# Encodings, DTDs, entities, comments and processing instructions.


def _smuggled_in_utf7(s: Sample) -> bytes:
    """A DTD hidden inside a comment as UTF-7 shows no <!DOCTYPE in the bytes."""
    hidden = '--><!DOCTYPE MigrationFile [<!ENTITY x "IOC">]><!--'.encode("utf-16-be")
    encoded = b"+" + base64.b64encode(hidden).rstrip(b"=") + b"-"
    body = s.data.split(b"?>", 1)[1].replace(b'cohort="IOC"', b'cohort="&x;"', 1)
    return (
        b'<?xml version="1.0" encoding="UTF-7"?><!-- ' + encoded + b" -->"
        + body.decode().encode("utf-7")
    )  # fmt: skip


HOSTILE: dict[str, Callable[[Sample], bytes]] = {
    "utf-16-with-bom": lambda s: s.data.decode().replace("UTF-8", "UTF-16").encode("utf-16"),
    "utf-16-without-bom": lambda s: s.data.decode().encode("utf-16-le"),
    "utf-32": lambda s: s.data.decode().encode("utf-32"),
    "ebcdic": lambda s: s.data.decode().encode("cp037"),
    "utf-7-smuggling-a-dtd": _smuggled_in_utf7,
    "latin-1-declared": lambda s: s.data.replace(b"UTF-8", b"ISO-8859-1").replace(
        b'cohort="IOC"', 'cohort="IOÇ"'.encode("latin-1")
    ),
    "latin-1-undeclared": lambda s: s.data.replace(b'cohort="IOC"', b'cohort="IO\xc7"'),
    "utf-16-declared-utf-8-bytes": lambda s: s.data.replace(b"UTF-8", b"UTF-16"),
    "overlong-utf-8": lambda s: s.data.replace(b"<MPAN>", b"<MPAN>\xc0\xbc"),
    "nul-byte": lambda s: s.data.replace(b'cohort="IOC"', b'cohort="I\x00C"'),
    "control-character-reference": lambda s: s.data.replace(b'cohort="IOC"', b'cohort="&#1;"'),
    "dtd-with-entity": lambda s: s.data.replace(
        b"?>\n", b'?>\n<!DOCTYPE MigrationFile [<!ENTITY e "IOC">]>'
    ).replace(b'cohort="IOC"', b'cohort="&e;"'),
    "dtd-with-parameter-entity": lambda s: s.data.replace(
        b"?>\n", b'?>\n<!DOCTYPE m [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
    ),
    "dtd-behind-comments-and-pis": lambda s: s.data.replace(
        b"?>\n", b'?>\n<!-- c --><?pi x?>\n<!DOCTYPE m SYSTEM "http://example.invalid/x.dtd">'
    ),
    "dtd-inside-the-root": lambda s: _insert(
        s.data, _inner_start(s, "MigrationFile"), b"<!DOCTYPE m []>"
    ),
    "undefined-entity-in-attribute": lambda s: s.data.replace(b'cohort="IOC"', b'cohort="&x;"'),
    "undefined-entity-in-text": lambda s: s.data.replace(b"<MPAN>", b"<MPAN>&x;"),
    "nul-character-reference": lambda s: s.data.replace(b"<MPAN>", b"<MPAN>&#0;"),
    "xml-declaration-inside": lambda s: _insert(
        s.data, _inner_start(s, "Installations"), b"<?xml version='1.0'?>"
    ),
    "double-hyphen-in-comment": lambda s: _insert(
        s.data, _inner_start(s, "Header"), b"<!-- a -- b -->"
    ),
    "unterminated-comment": lambda s: _insert(s.data, _inner_start(s, "Header"), b"<!-- a"),
    "unterminated-cdata": lambda s: s.data.replace(b"<MPAN>", b"<MPAN><![CDATA["),
    "text-after-root": lambda s: s.data + b"junk",
    "second-root": lambda s: s.data + s.element("MigrationFile"),
    "duplicate-attribute": lambda s: s.data.replace(
        b'cohort="IOC"', b'cohort="IOC" cohort="IOC"', 1
    ),
    "undeclared-prefix": lambda s: s.data.replace(b"<MPAN>", b"<p:MPAN>", 1),
    "deep-nesting": lambda s: _insert(
        s.data, _inner_end(s, "Installation"), b"<Unknown>" * 400 + b"</Unknown>" * 400
    ),
    "many-attributes": lambda s: s.data.replace(
        b'cohort="IOC"', b'cohort="IOC"' + b"".join(b' a%d="x"' % i for i in range(20_000)), 1
    ),
    "huge-attribute-over-the-schema-bound": lambda s: s.data.replace(
        b'reference="', b'reference="' + b"R" * 2_000_000, 1
    ),
    "huge-attribute-over-the-parser-bound": lambda s: s.data.replace(
        b'cohort="IOC', b'cohort="' + b"C" * 11_000_000, 1
    ),
    "huge-text": lambda s: s.data.replace(b"<MPAN>", b"<MPAN>" + b"1" * 11_000_000, 1),
    "huge-credential": lambda s: _insert(s.data, _inner_start(s, "Credential"), b"A" * 400_000),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_a_hostile_encoding_dtd_entity_or_oversized_value_is_rejected(
    workdir: Path, sample: Sample, case: str
) -> None:
    _rejection(workdir, HOSTILE[case](sample))


def test_a_dtd_smuggled_in_utf_7_is_rejected_for_its_encoding(
    workdir: Path, sample: Sample
) -> None:
    assert "UTF-8" in _rejection(workdir, _smuggled_in_utf7(sample))


def test_an_oversized_value_beyond_the_size_limit_is_rejected_before_it_is_parsed(
    workdir: Path, sample: Sample
) -> None:
    path = workdir / NAME
    path.write_bytes(sample.data.replace(b'cohort="IOC', b'cohort="' + b"C" * 100_000, 1))
    with (
        pytest.raises(MigrationFileRejected, match=f"{NAME}.*larger than the limit"),
        MigrationFileReader(path, 50_000) as reader,
    ):
        list(reader)


HARMLESS: dict[str, Callable[[Sample], bytes]] = {
    "byte-order-mark": lambda s: b"\xef\xbb\xbf" + s.data,
    "lower-case-utf-8": lambda s: s.data.replace(b"UTF-8", b"utf-8"),
    "no-declaration": lambda s: s.data.split(b"?>", 1)[1].lstrip(),
    "whitespace-between-elements": lambda s: s.data.replace(b"><", b">\n  <"),
    "comment-before-root": lambda s: s.data.replace(b"?>\n", b"?>\n<!-- made by hand -->\n"),
    "comment-after-root": lambda s: s.data + b"\n<!-- end -->\n",
    "comment-between-header-fields": lambda s: _insert(
        s.data, s.spans["FileID"][0][1], b"<!-- x -->"
    ),
    "comment-splitting-a-ciphertext": lambda s: _insert(
        s.data, _inner_start(s, "Credential") + 8, b"<!-- x -->"
    ),
    "pi-inside-an-installation": lambda s: _insert(
        s.data, _inner_start(s, "Installation"), b"<?note x?>"
    ),
    "cdata-around-a-ciphertext": lambda s: _insert(
        _insert(s.data, _inner_end(s, "Credential"), b"]]>"),
        _inner_start(s, "Credential"),
        b"<![CDATA[",
    ),
    "character-references": lambda s: s.data.replace(b"S1-", b"&#83;&#x31;-"),
    "single-quoted-attributes": lambda s: s.data.replace(b'cohort="IOC"', b"cohort='IOC'"),
    "prefixed-namespace": lambda s: s.data.replace(b"<MPAN>", b'<m:MPAN xmlns:m="{}">'.replace(
        b"{}", NAMESPACE_V1.encode()), 1).replace(b"</MPAN>", b"</m:MPAN>", 1),
}  # fmt: skip


@pytest.mark.parametrize("case", HARMLESS, ids=list(HARMLESS))
def test_a_harmless_rewrite_of_a_valid_file_reads_as_the_same_records(
    workdir: Path, sample: Sample, case: str
) -> None:
    assert _read(workdir, HARMLESS[case](sample)) == sample.reading


# The reader's own checks, with the schema out of the way: what the records are built from is
# verified by the reader itself too, so no schema gap can turn into a crash or a wrong record.

PERMISSIVE_XSD = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    targetNamespace="urn:s1adopt:migration:v1" elementFormDefault="qualified">
  <xs:element name="MigrationFile"><xs:complexType>
    <xs:sequence><xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>
    <xs:anyAttribute processContents="skip"/>
  </xs:complexType></xs:element>
</xs:schema>"""


@pytest.fixture
def without_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    permissive = etree.XMLSchema(etree.fromstring(PERMISSIVE_XSD))
    monkeypatch.setattr(reader_module, "migration_schema", lambda: permissive)


OWN_CHECKS = [
    "second-header-first-in-installations",
    "second-header-between-installations",
    "second-header-last-in-installations",
    "header-twice-before-installations",
    "header-after-installations",
    "header-missing",
    "header-inside-an-installation",
    "installation-before-header",
    "installation-inside-header",
    "installation-after-installations",
    "installation-inside-installation",
    "installation-inside-device",
    "migration-file-inside-installations",
    "migration-file-empty",
    "unknown-element-in-installation",
    "unknown-element-in-credential",
    "credential-twice",
    "header-field-twice",
    "header-field-missing",
    "header-fields-swapped",
]

USED = [(element, a) for element, a in REQUIRED if a != "algorithm"]  # the records' sources


@pytest.mark.usefixtures("without_schema")
@pytest.mark.parametrize("case", OWN_CHECKS)
def test_without_the_schema_a_misplaced_element_is_still_rejected_by_the_reader(
    workdir: Path, sample: Sample, case: str
) -> None:
    build, _ = MISPLACED[case]
    _rejection(workdir, build(sample))


@pytest.mark.usefixtures("without_schema")
@pytest.mark.parametrize(("element", "attribute"), USED, ids=[a for _, a in USED])
def test_without_the_schema_a_missing_attribute_is_still_rejected_by_the_reader(
    workdir: Path, sample: Sample, element: str, attribute: str
) -> None:
    assert attribute in _rejection(workdir, _attribute_removed(sample, element, attribute))


@pytest.mark.usefixtures("without_schema")
@pytest.mark.parametrize("value", ["AAA", "A===", "!!!!", "ÄÄÄÄ"])
@pytest.mark.parametrize("where", ["ephemeralPublicKey", "nonce", "ciphertext"])
def test_without_the_schema_bad_base64_is_still_rejected_by_the_reader(
    workdir: Path, sample: Sample, where: str, value: str
) -> None:
    assert "base64" in _rejection(workdir, _with_base64(sample, where, value))


@pytest.mark.usefixtures("without_schema")
@pytest.mark.parametrize("value", ["three", "-1", "", "1.5", "٣", "1_0", "2"])
def test_without_the_schema_a_bad_record_count_is_still_rejected_by_the_reader(
    workdir: Path, sample: Sample, value: str
) -> None:
    assert "RecordCount" in _rejection(workdir, _with_record_count(sample, value))


@pytest.mark.usefixtures("without_schema")
@FUZZ
@given(data=st.data())
def test_without_the_schema_a_mutated_file_is_still_read_or_rejected_and_nothing_else(
    workdir: Path, sample: Sample, data: st.DataObject
) -> None:
    message = NAME
    try:
        _read(workdir, data.draw(mutated(sample)))
    except MigrationFileRejected as exc:
        message = str(exc)
    assert NAME in message


def test_a_rejection_is_short_plain_text_about_this_file_and_no_earlier_one(
    workdir: Path, sample: Sample
) -> None:
    _rejection(workdir, HOSTILE["many-attributes"](sample))  # fills lxml's global error log
    for case in ("huge-attribute-over-the-parser-bound", "huge-text", "unterminated-cdata"):
        message = _rejection(workdir, HOSTILE[case](sample))
        assert len(message) < 500, message
        assert "a19" not in message, message
        assert not re.search(r"\bb['\"]", message), message
    truncated = _rejection(workdir, sample.data[: sample.spans["Device"][1][0] + 20])
    assert "a19" not in truncated
    assert not re.search(r"\bb['\"]", truncated), truncated
