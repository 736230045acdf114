"""Exchange files sent to DCC: registration data, demand and allocations, authorisations and
their responses. Round trips, and every refusal of every reader."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import pyzipper

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, Role, parse_roles
from s1adopt.domain.programme import (
    AllocationLine,
    AllocationResponse,
    AuthorisationEntry,
    AuthorisationOutcome,
    AuthorisationRefusal,
    AuthorisationRequest,
    DemandFile,
    DemandLine,
)
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.formats.exchange.authorisation import (
    MEMBER_NAME,
    AuthorisationResponse,
    authorisation_file_name,
    authorisation_response_name,
    open_authorisation,
    password_file_name,
    password_name_for,
    read_authorisation_response,
    read_password,
    write_authorisation,
    write_authorisation_response,
    write_password,
)
from s1adopt.formats.exchange.demand import (
    allocation_file_name,
    demand_file_name,
    read_allocation,
    read_demand,
    write_allocation,
    write_demand,
)
from s1adopt.formats.exchange.registration import (
    MAX_LISTED_FAULTS,
    RegistrationFileReader,
    RegistrationFileWriter,
    RegistrationHeader,
    read_registration,
    registration_file_name,
)

PROVIDER = Eui64.parse("90-B3-D5-1F-30-04-00-00")
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
OTHER = Eui64.parse("90-B3-D5-1F-30-01-00-01")
OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")
DAY = date(2026, 12, 1)
PASSWORD = "correct horse battery staple"
LIMIT = 1024 * 1024
DTD = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x "boom">]>\n'


def mpan(n: int) -> str:
    return Mpan.with_check_digit(f"{10 + n % 10:02d}{n:010d}").core


def mprn(n: int) -> str:
    return Mprn.with_check_digits(f"{10_000_000 + n:08d}").value


def rejection(call: object, *args: object) -> ExchangeFileRejected:
    with pytest.raises(ExchangeFileRejected) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def problems(error: ExchangeFileRejected) -> str:
    return " | ".join(f"{where}: {problem}" for where, problem in error.faults)


# --- registration --------------------------------------------------------------------------


PARTIES = (
    Party(SUPPLIER, "SUP001", "Supplier one", parse_roles("IS GS")),
    Party(OPERATOR, "EDNO", "Network operator", frozenset({Role.ELECTRICITY_DISTRIBUTOR})),
)


def records(count: int) -> list[RegistrationRecord]:
    found = []
    for n in range(1, count + 1):
        found.append(RegistrationRecord(mpan(n), MeterPointKind.MPAN, SUPPLIER, OPERATOR, DAY))
        if n % 2:
            found.append(
                RegistrationRecord(mprn(n), MeterPointKind.MPRN, OTHER, OPERATOR, date(2025, 3, 1))
            )
    return found


def registration_path(directory: Path, provider: Eui64 = PROVIDER) -> Path:
    return directory / registration_file_name("R1", provider, DAY)


def write_registration(
    directory: Path, items: list[RegistrationRecord], count: int | None = None
) -> Path:
    path = registration_path(directory)
    header = RegistrationHeader(
        "REG-1", PROVIDER, datetime(2026, 12, 1, tzinfo=UTC), len(items) if count is None else count
    )
    with RegistrationFileWriter(path, header, PARTIES) as writer:
        for item in items:
            writer.write(item)
    return path


def registration_text(body: str, count: int, sender: str = PROVIDER.value) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<RegistrationFile xmlns="urn:s1adopt:registration:v1" schemaVersion="1.0">\n'
        f"<Header><FileID>REG-1</FileID><Sender>{sender}</Sender>"
        f"<CreatedAt>2026-12-01T00:00:00Z</CreatedAt><RecordCount>{count}</RecordCount></Header>\n"
        f"{body}</RegistrationFile>\n"
    )


def meter_point(mpxn: str, kind: str = "MPAN", supplier: str = SUPPLIER.value) -> str:
    return (
        f'<MeterPoint mpxn="{mpxn}" kind="{kind}" supplier="{supplier}" '
        f'networkOperator="{OPERATOR.value}" effectiveFrom="2026-01-01"/>\n'
    )


def test_a_registration_file_round_trips_with_its_parties_and_records(tmp_path: Path) -> None:
    written = records(5)
    path = write_registration(tmp_path, written)

    data = read_registration(path, LIMIT)

    assert data.header == RegistrationHeader(
        "REG-1", PROVIDER, datetime(2026, 12, 1, tzinfo=UTC), len(written)
    )
    assert data.parties == PARTIES
    assert list(data.records) == written


def test_the_streaming_reader_gives_the_header_first_then_parties_then_records(
    tmp_path: Path,
) -> None:
    path = write_registration(tmp_path, records(3))

    with RegistrationFileReader(path, LIMIT) as reader:
        assert reader.header is not None
        assert reader.header.sender == PROVIDER
        kinds = [type(item).__name__ for item in reader]

    assert kinds == ["Party", "Party"] + ["RegistrationRecord"] * 5


def test_identities_are_stored_in_canonical_form(tmp_path: Path) -> None:
    spaced = mpan(7)[:4] + " " + mpan(7)[4:]
    body = "<MeterPoints>\n" + meter_point(spaced, supplier="90b3d51f30010000") + "</MeterPoints>"
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 1))

    (record,) = read_registration(path, LIMIT).records

    assert record.mpxn == mpan(7)
    assert record.supplier == SUPPLIER


def test_a_file_with_bad_records_is_rejected_as_a_whole_listing_every_fault(
    tmp_path: Path,
) -> None:
    bad_mpan = mpan(3)[:12] + str((int(mpan(3)[12]) + 1) % 10)
    bad_mprn = mprn(4)[:-1] + str((int(mprn(4)[-1]) + 1) % 10)
    body = (
        "<Parties>\n"
        f'<Party eui="{SUPPLIER.value}" shortCode="S1" name="x" roles="IS XX"/>\n'
        '<Party eui="not-an-eui" shortCode="S2" name="y" roles="GS"/>\n'
        f'<Party eui="{OTHER.value}" shortCode="bad code" name="z" roles="GS"/>\n'
        "</Parties>\n<MeterPoints>\n"
        + meter_point(mpan(1))
        + meter_point(bad_mpan)
        + meter_point(bad_mprn, kind="MPRN")
        + meter_point(mpan(5), supplier="90-B3-D5")
        + meter_point(mprn(6), kind="MPAN")
        + "</MeterPoints>"
    )
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 5))

    error = rejection(read_registration, path, LIMIT)

    assert len(error.faults) == 7, problems(error)
    check_digit = mpan(3)[12]
    assert (
        "line 11",
        f"MPAN {bad_mpan} fails its check digit: last digit should be {check_digit}",
    ) in error.faults
    text = problems(error)
    assert "line 5: party 90-B3-D5-1F-30-01-00-00: unknown role 'XX'" in text
    assert "line 6: party: 'not-an-eui' is not an EUI-64" in text
    assert "line 7: party 90-B3-D5-1F-30-01-00-01: party short code 'bad code'" in text
    assert f"line 12: MPRN {bad_mprn} fails its check digits" in text
    assert "line 13: supplier: '90-B3-D5' is not an EUI-64" in text
    assert f"line 14: '{mprn(6)}' is not an MPAN core" in text
    assert "7 faults" in str(error)


def test_records_stream_out_before_a_bad_record_rejects_the_file_at_its_end(
    tmp_path: Path,
) -> None:
    bad = mpan(2)[:12] + str((int(mpan(2)[12]) + 1) % 10)
    body = "<MeterPoints>\n" + meter_point(mpan(1)) + meter_point(bad) + "</MeterPoints>"
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 2))
    seen: list[object] = []

    with RegistrationFileReader(path, LIMIT) as reader, pytest.raises(ExchangeFileRejected):
        seen.extend(reader)

    assert [r.mpxn for r in seen if isinstance(r, RegistrationRecord)] == [mpan(1)]


def test_faults_beyond_the_cap_are_counted_but_not_listed(tmp_path: Path) -> None:
    body = "<MeterPoints>\n" + meter_point("123") * 150 + "</MeterPoints>"
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 150))

    error = rejection(read_registration, path, LIMIT)

    assert len(error.faults) == MAX_LISTED_FAULTS
    assert "150 faults in all, the first 100 listed" in str(error)


def test_a_party_listed_twice_is_a_fault(tmp_path: Path) -> None:
    party = f'<Party eui="{SUPPLIER.value}" shortCode="S1" name="x" roles="IS"/>\n'
    body = f"<Parties>\n{party}{party}</Parties>\n<MeterPoints/>"
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 0))

    error = rejection(read_registration, path, LIMIT)

    assert error.faults == [("line 6", f"party {SUPPLIER.value} is listed twice")]


def test_a_record_count_that_differs_from_the_file_is_a_fault(tmp_path: Path) -> None:
    body = "<MeterPoints>\n" + meter_point(mpan(1)) + "</MeterPoints>"
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 2))

    error = rejection(read_registration, path, LIMIT)

    assert error.faults[0][0] == "file"
    assert "RecordCount is 2 but the file holds 1" in error.faults[0][1]


def test_the_writer_refuses_to_write_another_number_of_records_than_its_header_says(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="RecordCount"):
        write_registration(tmp_path, records(1), count=3)


def test_the_name_must_be_a_registration_name_of_the_sender(tmp_path: Path) -> None:
    text = registration_text("<MeterPoints/>", 0)
    foreign = registration_path(tmp_path, OTHER)
    foreign.write_text(text)
    unnamed = tmp_path / "registration.xml"
    unnamed.write_text(text)

    assert rejection(read_registration, foreign, LIMIT).faults == [
        ("name", f"names party {OTHER.value} but the header's party is {PROVIDER.value}")
    ]
    assert rejection(read_registration, unnamed, LIMIT).faults[0][0] == "name"


def test_a_header_with_a_bad_sender_is_rejected_before_any_record(tmp_path: Path) -> None:
    path = registration_path(tmp_path)
    path.write_text(registration_text("<MeterPoints/>", 0, sender="nobody"))

    error = rejection(read_registration, path, LIMIT)

    assert (
        "line 3",
        "Sender: 'nobody' is not an EUI-64: expected 16 hex digits, e.g. 90-B3-D5-1F-30-01-00-00",
    ) in error.faults


def test_a_schema_error_ends_the_list_after_the_faults_the_reader_names_by_line(
    tmp_path: Path,
) -> None:
    body = "<MeterPoints>\n" + meter_point(mpan(1), kind="GAS") + "</MeterPoints>"
    path = registration_path(tmp_path)
    path.write_text(registration_text(body, 1))

    error = rejection(read_registration, path, LIMIT)

    assert error.faults[0] == ("line 5", "kind 'GAS' is not MPAN or MPRN")
    assert error.faults[1][0] == "file"
    assert "'GAS' is not an element of the set" in error.faults[1][1]
    assert "{urn:" not in error.faults[1][1]


def test_an_unexpected_element_is_a_schema_fault(tmp_path: Path) -> None:
    path = registration_path(tmp_path)
    path.write_text(registration_text("<Records/>", 0))

    error = rejection(read_registration, path, LIMIT)

    assert len(error.faults) == 1
    assert "Records': This element is not expected" in error.faults[0][1]


def test_a_truncated_file_is_refused_with_its_line(tmp_path: Path) -> None:
    path = registration_path(tmp_path)
    text = registration_text("<MeterPoints>\n" + meter_point(mpan(1)) + "</MeterPoints>", 1)
    path.write_text(text[: text.index("</RegistrationFile>")])

    error = rejection(read_registration, path, LIMIT)

    assert error.faults == [("line 6", "Premature end of data in tag RegistrationFile line 2")]


def test_a_dtd_is_refused_before_parsing(tmp_path: Path) -> None:
    path = registration_path(tmp_path)
    path.write_text(DTD + registration_text("<MeterPoints/>", 0).split("\n", 1)[1])

    error = rejection(read_registration, path, LIMIT)

    assert error.faults == [
        ("file", "document type declarations (DTDs) are not allowed; remove the <!DOCTYPE>")
    ]


def test_a_file_over_the_size_bound_is_refused(tmp_path: Path) -> None:
    path = write_registration(tmp_path, records(20))

    error = rejection(read_registration, path, 500)

    assert error.faults[0][0] == "file"
    assert "larger than the limit of 500" in error.faults[0][1]


def test_a_missing_or_non_xml_file_is_refused(tmp_path: Path) -> None:
    path = registration_path(tmp_path)

    assert "cannot be read" in rejection(read_registration, path, LIMIT).faults[0][1]
    path.write_bytes(b"PK\x03\x04 not xml at all")
    assert "not an XML document" in rejection(read_registration, path, LIMIT).faults[0][1]


# --- demand and allocation ------------------------------------------------------------------


DEMAND = DemandFile(
    "AAA123",
    SUPPLIER,
    "DCC",
    DAY,
    (
        DemandLine(date(2026, 12, 3), "IOC", 120),
        DemandLine(date(2026, 12, 3), "FOC", 0),
        DemandLine(date(2026, 12, 4), "MOC", 7),
        DemandLine(date(2026, 12, 3), "MOC", 2),
    ),
)


def demand_text(party: str = SUPPLIER.value, days: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<DemandFile xmlns="urn:s1adopt:demand:v1" schemaVersion="1.0">\n'
        f"<Header><Reference>AAA123</Reference><Party>{party}</Party>"
        f"<Created>2026-12-01</Created></Header>\n<Days>\n{days}</Days></DemandFile>\n"
    )


def test_a_demand_file_round_trips_under_its_published_name_pattern(tmp_path: Path) -> None:
    path = tmp_path / demand_file_name(DEMAND)
    write_demand(path, DEMAND)

    assert path.name == "DC-AAA123_90-B3-D5-1F-30-01-00-00_DCC_20261201.xml"
    assert read_demand(path, LIMIT) == DEMAND


def test_an_allocation_round_trips_named_after_its_migration_day(tmp_path: Path) -> None:
    response = AllocationResponse(
        "AAA123",
        SUPPLIER,
        "DCC",
        date(2026, 12, 3),
        (
            AllocationLine(date(2026, 12, 3), "IOC", 120, 100),
            AllocationLine(date(2026, 12, 3), "MOC", 2, 2),
        ),
    )
    path = tmp_path / allocation_file_name(response)
    write_allocation(path, response)

    assert path.name == "DR_AAA123_90-B3-D5-1F-30-01-00-00_DCC_20261203.xml"
    assert read_allocation(path, LIMIT) == response


def test_a_demand_whose_name_names_another_party_or_reference_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / f"DC-BBB9_{OTHER.value}_DCC_20261201.xml"
    path.write_text(demand_text())

    error = rejection(read_demand, path, LIMIT)

    assert error.faults == [
        ("name", f"names party {OTHER.value} but the header's party is {SUPPLIER.value}"),
        ("name", "names reference BBB9 but the header's is AAA123"),
    ]


def test_demand_faults_are_all_listed(tmp_path: Path) -> None:
    days = (
        '<Day date="2026-12-03"><Cohort name="IOC" installations="1"/>'
        '<Cohort name="IOC" installations="2"/></Day>\n'
    )
    path = tmp_path / demand_file_name(DEMAND)
    path.write_text(demand_text(party="someone", days=days))

    error = rejection(read_demand, path, LIMIT)

    assert error.faults == [
        (
            "line 3",
            "Party: 'someone' is not an EUI-64: expected 16 hex digits, "
            "e.g. 90-B3-D5-1F-30-01-00-00",
        ),
        ("line 5", "IOC on 2026-12-03 appears more than once"),
    ]


@pytest.mark.parametrize(
    ("cohort", "problem"),
    [
        ('name="XYZ" installations="1"', "cohort 'XYZ' is not one of IOC, MOC, FOC"),
        ('name="IOC" installations="-1"', "installations '-1' is not a whole number"),
    ],
)
def test_unknown_cohorts_and_negative_demand_are_refused(
    tmp_path: Path, cohort: str, problem: str
) -> None:
    path = tmp_path / demand_file_name(DEMAND)
    path.write_text(demand_text(days=f'<Day date="2026-12-03"><Cohort {cohort}/></Day>\n'))

    error = rejection(read_demand, path, LIMIT)

    assert error.faults[0][0] == "line 5"
    assert problem in error.faults[0][1]
    assert error.faults[-1][0] == "file"  # and the schema says so too


def test_a_demand_reader_refuses_an_allocation_dtds_and_oversize_files(tmp_path: Path) -> None:
    allocation = AllocationResponse("AAA123", SUPPLIER, "DCC", DAY, ())
    path = tmp_path / demand_file_name(DEMAND)
    write_allocation(path, allocation)
    assert "the root element is AllocationResponse, expected DemandFile" in problems(
        rejection(read_demand, path, LIMIT)
    )
    path.write_text(DTD + demand_text().split("\n", 1)[1])
    assert "DTDs" in problems(rejection(read_demand, path, LIMIT))
    write_demand(path, DEMAND)
    assert "larger than the limit" in problems(rejection(read_demand, path, 100))
    named_as_response = tmp_path / allocation_file_name(allocation)
    write_demand(named_as_response, DEMAND)
    assert "expected AllocationResponse" in problems(
        rejection(read_allocation, named_as_response, LIMIT)
    )


# --- authorisation --------------------------------------------------------------------------


REQUEST = AuthorisationRequest(
    "CGI1",
    SUPPLIER,
    "DCC",
    datetime(2026, 12, 1, 18, 25, 3, tzinfo=UTC),
    (
        AuthorisationEntry(mpan(1), mprn(1), "S1-0000001"),
        AuthorisationEntry(mpan(2), None, None),
        AuthorisationEntry(None, mprn(3), "S1-0000003"),
        AuthorisationEntry("12345 not an MPAN", "x", None),
        AuthorisationEntry(None, None, "S1-0000005"),
    ),
)


def authorisation_xml(party: str = SUPPLIER.value, entries: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Authorisation xmlns="urn:s1adopt:authorisation:v1" schemaVersion="1.0">\n'
        f"<Header><Reference>CGI1</Reference><Party>{party}</Party>"
        "<CreatedAt>2026-12-01T18:25:03+00:00</CreatedAt></Header>\n"
        f"<Installations>\n{entries}</Installations></Authorisation>\n"
    ).encode()


def archive(
    path: Path,
    members: dict[str, bytes],
    password: str | None = PASSWORD,
    bits: int = 256,
) -> Path:
    encryption = pyzipper.WZ_AES if password is not None else None
    with pyzipper.AESZipFile(
        path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=encryption
    ) as zf:
        if password is not None:
            zf.setpassword(password.encode())
            zf.setencryption(pyzipper.WZ_AES, nbits=bits)
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def ma_path(directory: Path) -> Path:
    return directory / authorisation_file_name(REQUEST)


def test_an_authorisation_round_trips_through_its_encrypted_archive(tmp_path: Path) -> None:
    path = ma_path(tmp_path)
    write_authorisation(path, REQUEST, PASSWORD)

    assert path.name == "MA_CGI1_90-B3-D5-1F-30-01-00-00_DCC_20261201_182503.zip"
    assert open_authorisation(path, PASSWORD, LIMIT) == REQUEST
    with pyzipper.AESZipFile(path) as zf:
        (info,) = zf.infolist()
    assert info.filename == MEMBER_NAME
    assert info.flag_bits & 1
    assert info.wz_aes_strength == 3  # 256-bit keys


def test_malformed_meter_points_stay_as_text_in_their_entries(tmp_path: Path) -> None:
    path = ma_path(tmp_path)
    write_authorisation(path, REQUEST, PASSWORD)

    entries = open_authorisation(path, PASSWORD, LIMIT).entries

    assert entries[3] == AuthorisationEntry("12345 not an MPAN", "x", None)
    assert entries[4] == AuthorisationEntry(None, None, "S1-0000005")


def test_the_password_file_goes_with_its_archive_and_holds_the_password(
    tmp_path: Path,
) -> None:
    path = tmp_path / password_file_name(REQUEST)
    write_password(path, PASSWORD)

    assert path.name == password_name_for(authorisation_file_name(REQUEST))
    assert path.name == "MAPASSWORD_CGI1_90-B3-D5-1F-30-01-00-00_DCC_20261201_182503.txt"
    assert read_password(path) == PASSWORD
    path.write_bytes(b"\xef\xbb\xbf  " + PASSWORD.encode() + b"  \r\nsecond line\n")
    assert read_password(path) == PASSWORD


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "holds no password"),
        (b"   \nsecret\n", "holds no password"),
        (b"\xff\xfe\x00s", "not UTF-8 text"),
        (b"x" * 2000, "larger than the limit of 1,024 bytes"),
    ],
)
def test_a_bad_password_file_is_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / password_file_name(REQUEST)
    path.write_bytes(content)

    assert problem in problems(rejection(read_password, path))


def test_a_wrong_or_missing_password_is_refused(tmp_path: Path) -> None:
    path = ma_path(tmp_path)
    write_authorisation(path, REQUEST, PASSWORD)

    assert rejection(open_authorisation, path, "guess", LIMIT).faults == [
        ("archive", "wrong password")
    ]
    assert ("password", "no password given") in rejection(
        open_authorisation, path, "", LIMIT
    ).faults


def test_an_unencrypted_or_weakly_encrypted_member_is_refused(tmp_path: Path) -> None:
    plain = archive(ma_path(tmp_path), {MEMBER_NAME: authorisation_xml()}, password=None)
    assert "authorisation.xml is not encrypted" in problems(
        rejection(open_authorisation, plain, PASSWORD, LIMIT)
    )
    weak = archive(ma_path(tmp_path), {MEMBER_NAME: authorisation_xml()}, bits=128)
    assert "uses AES-128; AES-256 is required" in problems(
        rejection(open_authorisation, weak, PASSWORD, LIMIT)
    )


def test_an_archive_must_hold_exactly_one_member_named_authorisation_xml(
    tmp_path: Path,
) -> None:
    two = archive(ma_path(tmp_path), {MEMBER_NAME: authorisation_xml(), "extra.txt": b"x"})
    assert rejection(open_authorisation, two, PASSWORD, LIMIT).faults == [
        ("archive", "holds 2 members; exactly one, authorisation.xml, is allowed")
    ]
    other = archive(ma_path(tmp_path), {"auth.xml": authorisation_xml()})
    assert "its member is 'auth.xml', expected authorisation.xml" in problems(
        rejection(open_authorisation, other, PASSWORD, LIMIT)
    )
    empty = archive(ma_path(tmp_path), {})
    assert "holds 0 members" in problems(rejection(open_authorisation, empty, PASSWORD, LIMIT))


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    padding = b" " * (8 * 1024 * 1024)  # deflates to a few kilobytes
    bomb = archive(ma_path(tmp_path), {MEMBER_NAME: authorisation_xml() + padding})
    assert bomb.stat().st_size < 64 * 1024

    error = rejection(open_authorisation, bomb, PASSWORD, LIMIT)

    assert error.faults == [
        (
            "archive",
            f"authorisation.xml declares {len(authorisation_xml()) + len(padding):,} bytes, "
            f"more than the limit of {LIMIT:,}",
        )
    ]


def test_a_member_that_lies_about_its_size_is_read_within_the_bound_and_refused(
    tmp_path: Path,
) -> None:
    entries = "".join(f'<Installation mpan="{mpan(n)}"/>\n' for n in range(2000))
    path = archive(ma_path(tmp_path), {MEMBER_NAME: authorisation_xml(entries=entries)})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature) + offset
        data[at : at + 4] = (1000).to_bytes(4, "little")  # declares 1,000 bytes
    path.write_bytes(bytes(data))

    error = rejection(open_authorisation, path, PASSWORD, 4000)

    assert error.faults == [
        ("archive", "wrong password or corrupt data: the member fails its authentication")
    ]


def test_a_corrupt_archive_is_refused(tmp_path: Path) -> None:
    path = ma_path(tmp_path)
    write_authorisation(path, REQUEST, PASSWORD)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "corrupt archive" in problems(rejection(open_authorisation, path, PASSWORD, LIMIT))
    path.write_bytes(b"not a zip at all")
    assert "corrupt archive" in problems(rejection(open_authorisation, path, PASSWORD, LIMIT))
    tampered = bytearray(data)
    tampered[len(data) // 3] ^= 0xFF  # inside the encrypted member
    path.write_bytes(bytes(tampered))
    assert rejection(open_authorisation, path, PASSWORD, LIMIT).faults[0][0] in (
        "archive",
        "file",
    )


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (authorisation_xml()[:-30], "line 4"),
        (authorisation_xml(entries='<Installation mpan="1" colour="red"/>\n'), "colour"),
        (DTD.encode() + authorisation_xml().split(b"\n", 1)[1], "DTDs"),
        (authorisation_xml(party="somebody"), "Party: 'somebody' is not an EUI-64"),
        (authorisation_xml(party=OTHER.value), f"header's party is {OTHER.value}"),
    ],
)
def test_invalid_xml_in_the_archive_is_refused(tmp_path: Path, member: bytes, problem: str) -> None:
    path = archive(ma_path(tmp_path), {MEMBER_NAME: member})

    assert problem in problems(rejection(open_authorisation, path, PASSWORD, LIMIT))


def test_an_archive_far_larger_than_the_bound_is_refused_unopened(tmp_path: Path) -> None:
    path = ma_path(tmp_path)
    path.write_bytes(b"\0" * (200 * 1024))

    assert "larger than the limit" in problems(rejection(open_authorisation, path, PASSWORD, 1000))


def test_an_authorisation_response_round_trips_with_reasons_and_details(tmp_path: Path) -> None:
    response = AuthorisationResponse(
        "CGI1",
        SUPPLIER,
        DAY,
        (
            AuthorisationOutcome(REQUEST.entries[0], None),
            AuthorisationOutcome(
                REQUEST.entries[1], AuthorisationRefusal.NOT_RESPONSIBLE, "supplier is SUP002"
            ),
            AuthorisationOutcome(REQUEST.entries[3], AuthorisationRefusal.INVALID_METER_POINT),
            AuthorisationOutcome(REQUEST.entries[4], AuthorisationRefusal.NO_METER_POINT, "none"),
        ),
    )
    path = tmp_path / authorisation_response_name(response)
    write_authorisation_response(path, response)

    assert path.name == "MR_CGI1_90-B3-D5-1F-30-01-00-00_DCC_20261201.xml"
    assert read_authorisation_response(path, LIMIT) == response


def test_a_response_outcome_must_agree_with_its_reason(tmp_path: Path) -> None:
    outcomes = (
        '<Outcome mpan="1" result="refused"/>\n'
        '<Outcome mpan="2" result="accepted" reason="no_meter_point"/>\n'
        '<Outcome mpan="3" result="refused" reason="too_late"/>\n'
    )
    path = tmp_path / f"MR_CGI1_{SUPPLIER.value}_DCC_20261201.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<AuthorisationResponse xmlns="urn:s1adopt:authorisation:v1" schemaVersion="1.0">\n'
        f"<Header><Reference>CGI1</Reference><Party>{SUPPLIER.value}</Party>"
        f"<Created>2026-12-01</Created></Header>\n<Outcomes>\n{outcomes}</Outcomes>"
        "</AuthorisationResponse>\n"
    )

    error = rejection(read_authorisation_response, path, LIMIT)

    assert [where for where, _ in error.faults] == ["line 5", "line 6", "line 7"]
    assert "unknown refusal reason 'too_late'" in error.faults[2][1]
