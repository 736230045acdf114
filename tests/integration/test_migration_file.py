"""Migration files: streaming parse, schema validation, hostile and malformed input."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.formats.credentials import CredentialOpener, CredentialSealer
from s1adopt.formats.migration.reader import MigrationFileReader
from tests.builders import FleetBuilder, write_file

KEY = X25519PrivateKey.generate()


def _sealer(file_id: str = "F1") -> CredentialSealer:
    return CredentialSealer(KEY.public_key().public_bytes_raw(), file_id)


def _read_all(path: Path, max_bytes: int = 1 << 30) -> list[object]:
    with MigrationFileReader(path, max_bytes) as reader:
        return [reader.read_header(), *reader]


def test_a_written_file_reads_back_record_for_record_with_openable_credentials(
    tmp_path: Path,
) -> None:
    sealer = _sealer()
    fleet = FleetBuilder(sealer)
    records = [fleet.installation(i, dual_fuel=i % 2 == 0) for i in range(1, 21)]
    path = write_file(tmp_path / "m.xml", "F1", sealer, records)
    with MigrationFileReader(path) as reader:
        header = reader.read_header()
        read = list(reader)
    assert header.record_count == 20
    assert header.file_id == "F1"
    assert read == records
    opener = CredentialOpener(KEY, header.transport_public_key, header.file_id)
    esme = read[0].devices[1]
    assert esme.credential is not None
    assert (
        opener.open(esme.device_id, esme.credential)
        == fleet.credentials[next(k for k in fleet.credentials if k.value == esme.device_id)]
    )


def test_a_credential_moved_to_another_device_cannot_be_opened(tmp_path: Path) -> None:
    sealer = _sealer()
    record = FleetBuilder(sealer).installation(1)
    opener = CredentialOpener(KEY, sealer.ephemeral_public_key, "F1")
    chf, esme = record.devices[0], record.devices[1]
    assert esme.credential is not None
    from s1adopt.domain.errors import CredentialError

    with pytest.raises(CredentialError):
        opener.open(chf.device_id, esme.credential)


def _xml(body: str, count: int = 1, prolog: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{prolog}'
        '<MigrationFile xmlns="urn:s1adopt:migration:v1" schemaVersion="1.0"><Header>'
        "<FileID>F</FileID><SMSO>90-B3-D5-1F-30-10-00-01</SMSO>"
        "<ResponsibleSupplier>90-B3-D5-1F-30-01-00-00</ResponsibleSupplier>"
        f"<CreatedAt>2026-11-28T09:00:00Z</CreatedAt><RecordCount>{count}</RecordCount>"
        '<CredentialTransport algorithm="X25519-HKDF-SHA256-AES256GCM" '
        'ephemeralPublicKey="AAAA"/></Header>'
        f"<Installations>{body}</Installations></MigrationFile>"
    ).encode()


GOOD = (
    '<Installation reference="S1-1" type="Active" cohort="IOC"><MPAN>1200023305967</MPAN>'
    '<Device id="00-12-4B-00-00-00-00-01" type="CHF" manufacturer="N" model="M" firmware="1"/>'
    "</Installation>"
)


def test_a_minimal_hand_written_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.xml"
    path.write_bytes(_xml(GOOD))
    assert len(_read_all(path)) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            _xml(GOOD, prolog='<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>').replace(
                b'cohort="IOC"', b'cohort="&x;"'
            ),
            "DTD",
        ),
        (
            _xml(
                GOOD,
                prolog='<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
                '&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
            ).replace(b'cohort="IOC"', b'cohort="&c;"'),
            "DTD",
        ),
        (
            _xml(
                GOOD, prolog='<!-- a comment --><!DOCTYPE m SYSTEM "http://example.invalid/x.dtd">'
            ),
            "DTD",
        ),
        (_xml(GOOD, count=2), "RecordCount is 2 but the file holds 1"),
        (_xml(GOOD)[:-40], "line"),
        (_xml(GOOD.replace('type="Active"', 'type="Sleepy"')), "Sleepy"),
        (_xml(GOOD.replace("<MPAN>", "<Unexpected/><MPAN>")), "Unexpected"),
        (_xml(GOOD).replace(b"urn:s1adopt:migration:v1", b"urn:other"), "line"),
        (_xml(GOOD).replace(b'schemaVersion="1.0"', b'schemaVersion="2.0"'), "schemaVersion"),
        ("<?xml version='1.0' encoding='UTF-16'?><a/>".encode("utf-16"), "UTF-8"),
        (b"this is not xml", "not an XML document"),
        (b"", "not an XML document"),
        (_xml(GOOD, prolog="<!--" + "x" * 70_000 + '--><!DOCTYPE m SYSTEM "x.dtd">'), "prolog"),
    ],
    ids=[
        "external-entity",
        "entity-expansion",
        "external-dtd",
        "count-mismatch",
        "truncated",
        "bad-enum",
        "unknown-element",
        "wrong-namespace",
        "future-version",
        "utf16",
        "not-xml",
        "empty",
        "dtd-behind-long-comment",
    ],
)
def test_a_hostile_or_malformed_file_is_rejected_with_the_problem_named(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(MigrationFileRejected, match=message) as caught:
        _read_all(path)
    assert "bad.xml" in str(caught.value)


def test_an_oversized_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(_xml(GOOD * 50, count=50))
    with pytest.raises(MigrationFileRejected, match="larger than the limit"):
        _read_all(path, max_bytes=1000)


def test_a_missing_file_is_rejected_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(MigrationFileRejected, match="cannot be read"):
        _read_all(tmp_path / "absent.xml")


def test_reading_streams_in_memory_that_does_not_grow_with_the_file(tmp_path: Path) -> None:
    sealer = _sealer()
    fleet = FleetBuilder(sealer)

    def peak(n: int) -> int:
        path = write_file(
            tmp_path / f"f{n}.xml", "F1", sealer, [fleet.installation(i) for i in range(n)]
        )
        tracemalloc.start()
        with MigrationFileReader(path) as reader:
            for _ in reader:
                pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(500), peak(5000)
    assert large < small * 2, (small, large)
