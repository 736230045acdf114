"""The files the service sends through the exchange: acknowledgements, dormant notices,
Migration Reporting Regime reports and the registration status file."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind, ServiceFlag
from s1adopt.domain.programme import FileFault, Notice, NoticeKind, NoticeLine, PartyDayCounts
from s1adopt.formats.exchange.acknowledgement import (
    Acknowledgement,
    acknowledged_file,
    exchange_schema,
    read_acknowledgement,
    write_acknowledgement,
)
from s1adopt.formats.exchange.names import FileKind, parse_name
from s1adopt.formats.exchange.notices import read_notice, write_notice
from s1adopt.formats.exchange.reports import (
    COUNT_FIELDS,
    CSV_COLUMNS,
    DETAIL_COLUMNS,
    MigrationReport,
    OutcomeLine,
    read_report_csv,
    read_report_xml,
    write_report,
)
from s1adopt.formats.exchange.status import (
    FlagChange,
    RegistrationStatusReader,
    RegistrationStatusWriter,
    read_registration_status,
    write_registration_status,
)

SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
OTHER = Eui64.parse("00-DB-12-34-56-78-00-04")
PROVIDER = Eui64.parse("90-B3-D5-1F-30-02-00-00")
DEMAND_NAME = "DC-AAA123_90-B3-D5-1F-30-01-00-00_DCC_20190121"
DIGEST = hashlib.sha256(b"the file as received").hexdigest()
RECEIVED = datetime(2019, 1, 21, 9, 30, 15, 250000, tzinfo=UTC)
SCHEMAS = {
    "ACK": "acknowledgement-v1.xsd",
    "NACK": "acknowledgement-v1.xsd",
    "DMFU": "notice-v1.xsd",
    "DMMS": "notice-v1.xsd",
    "MRR": "report-v1.xsd",
    "RSF": "status-v1.xsd",
}


def assert_schema_valid(path: Path) -> etree._Element:
    """The file validates against the XSD of its kind, with the declared namespace and version."""
    root = etree.parse(str(path)).getroot()
    schema = exchange_schema(SCHEMAS[path.name.split("_")[0]])
    assert schema.validate(root), schema.error_log
    kind = SCHEMAS[path.name.split("_")[0]].removesuffix("-v1.xsd")
    assert etree.QName(root).namespace == f"urn:s1adopt:{kind}:v1"
    assert root.get("schemaVersion") == "1.0"
    return root


def only_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --- acknowledgements -------------------------------------------------------------------------


def test_an_accepted_file_is_answered_by_a_valid_ack_that_reads_back(tmp_path: Path) -> None:
    path = write_acknowledgement(
        tmp_path, DEMAND_NAME, DIGEST, SUPPLIER, RECEIVED, True, "12 demand lines taken in"
    )

    assert path.name == f"ACK_{DEMAND_NAME}.xml"
    assert acknowledged_file(path.name) == (DEMAND_NAME, True)
    assert parse_name(acknowledged_file(path.name)[0]).kind is FileKind.DEMAND
    assert_schema_valid(path)
    assert read_acknowledgement(path) == Acknowledgement(
        DEMAND_NAME, DIGEST, SUPPLIER, RECEIVED, True, "12 demand lines taken in"
    )
    assert only_files(tmp_path) == [path.name]  # no .partial left behind


def test_a_rejection_lists_every_fault_in_order(tmp_path: Path) -> None:
    faults: list[tuple[str, str] | FileFault] = [
        ("name", "bad date"),
        FileFault("line 3", "MPAN fails its check digit"),
    ]
    faults += [(f"line {n}", f"problem {n}") for n in range(4, 40)]
    local = datetime(2019, 1, 21, 10, 30, 15, tzinfo=timezone(timedelta(hours=1)))

    path = write_acknowledgement(
        tmp_path, DEMAND_NAME, DIGEST.upper(), None, local, False, "", faults
    )

    assert path.name == f"NACK_{DEMAND_NAME}.xml"
    root = assert_schema_valid(path)
    assert root.find("{*}Sender") is None
    ack = read_acknowledgement(path)
    assert ack.status == "rejected"
    assert not ack.accepted
    assert ack.digest == DIGEST
    assert ack.sender is None
    assert ack.received_at == local
    assert ack.received_at.tzinfo is UTC
    assert ack.faults[:2] == (("name", "bad date"), ("line 3", "MPAN fails its check digit"))
    assert ack.faults[2:] == tuple(f for f in faults[2:] if isinstance(f, tuple))


@pytest.mark.parametrize(
    ("accepted", "faults", "digest", "received_at", "problem"),
    [
        (False, [], DIGEST, RECEIVED, "at least one fault"),
        (True, [("line 1", "x")], DIGEST, RECEIVED, "has no faults"),
        (True, [], "abc", RECEIVED, "not a SHA-256"),
        (True, [], DIGEST, datetime(2019, 1, 21, 9, 30), "no time zone"),
    ],
)
def test_an_inconsistent_acknowledgement_is_refused_before_writing(
    tmp_path: Path,
    accepted: bool,
    faults: list[tuple[str, str]],
    digest: str,
    received_at: datetime,
    problem: str,
) -> None:
    with pytest.raises(ValueError, match=problem):
        write_acknowledgement(
            tmp_path, DEMAND_NAME, digest, SUPPLIER, received_at, accepted, "", faults
        )
    assert only_files(tmp_path) == []


def test_a_hostile_original_name_and_fault_text_still_give_one_valid_rejection(
    tmp_path: Path,
) -> None:
    hostile = "../evil\\na\nme\x01\udcff.xml"  # path parts, control and undecodable characters
    problem = "echoed <content> & \x00 bytes " + "x" * 10_000

    path = write_acknowledgement(
        tmp_path, hostile, DIGEST, None, RECEIVED, False, "s\x0bummary", [("", problem)]
    )

    assert path.parent == tmp_path
    assert only_files(tmp_path) == [path.name]
    assert path.name == "NACK_.._evil_na_me\ufffd\ufffd.xml.xml"
    assert_schema_valid(path)
    ack = read_acknowledgement(path)
    assert ack.original_name == "../evil\\na\nme\ufffd\ufffd.xml"
    assert ack.summary == "s\ufffdummary"
    assert len(ack.faults[0][1]) == 4000
    assert ack.faults[0][1].startswith("echoed <content> & \ufffd")


def test_an_original_name_too_long_for_an_answer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="longer than"):
        write_acknowledgement(tmp_path, "x" * 247, DIGEST, None, RECEIVED, True, "")


def test_an_acknowledgement_renamed_to_another_status_is_rejected(tmp_path: Path) -> None:
    path = write_acknowledgement(
        tmp_path, DEMAND_NAME, DIGEST, None, RECEIVED, False, "", [("a", "b")]
    )
    renamed = path.rename(tmp_path / f"ACK_{DEMAND_NAME}.xml")

    with pytest.raises(ExchangeFileRejected) as caught:
        read_acknowledgement(renamed)
    assert ("Status", "the name says ACK") in caught.value.faults


# --- dormant notices --------------------------------------------------------------------------


def make_notice(kind: NoticeKind) -> Notice:
    return Notice(
        kind=kind,
        party=SUPPLIER,
        sent_on=date(2021, 8, 2),
        lines=(
            NoticeLine("INST-1", "1200023305967", "1234560", date(2021, 8, 16)),
            NoticeLine("INST-2", "1200023305967", None, date(2021, 8, 17)),
            NoticeLine("INST 3 & <co>", None, "4471820906", date(2021, 8, 18)),
        ),
    )


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_a_dormant_notice_is_named_by_kind_party_and_day_and_reads_back(
    tmp_path: Path, kind: NoticeKind
) -> None:
    notice = make_notice(kind)

    path = write_notice(tmp_path, notice, "N42")

    assert path.name == f"{kind.value}_N42_90-B3-D5-1F-30-01-00-00_20210802.xml"
    named = parse_name(path.name)
    assert (named.kind.value, named.reference, named.party, named.day) == (
        kind.value,
        "N42",
        SUPPLIER,
        date(2021, 8, 2),
    )
    root = assert_schema_valid(path)
    assert "Dormant Meter" in (root.findtext("{*}Title") or "")
    assert read_notice(path) == notice


def test_a_notice_without_lines_is_valid(tmp_path: Path) -> None:
    notice = dataclasses.replace(make_notice(NoticeKind.MIGRATION_SCHEDULE), lines=())
    path = write_notice(tmp_path, notice, "N1")
    assert_schema_valid(path)
    assert read_notice(path) == notice


@pytest.mark.parametrize(
    ("line", "reference", "problem"),
    [
        (NoticeLine("INST-1", None, None, date(2021, 8, 16)), "N1", "neither an MPAN nor"),
        (NoticeLine("INST-1", "12345", None, date(2021, 8, 16)), "N1", "not an MPAN core"),
        (NoticeLine("INST-1", None, "12a456", date(2021, 8, 16)), "N1", "not an MPRN"),
        (NoticeLine("", "1200023305967", None, date(2021, 8, 16)), "N1", "1 to 64"),
        (NoticeLine("I", "1200023305967", None, date(2021, 8, 16)), "bad_ref", "1 to 32"),
    ],
)
def test_a_notice_with_a_bad_line_or_reference_is_refused(
    tmp_path: Path, line: NoticeLine, reference: str, problem: str
) -> None:
    notice = dataclasses.replace(make_notice(NoticeKind.MIGRATION_SCHEDULE), lines=(line,))
    with pytest.raises(ValueError, match=problem):
        write_notice(tmp_path, notice, reference)
    assert only_files(tmp_path) == []


def test_a_notice_renamed_to_another_party_or_day_is_rejected(tmp_path: Path) -> None:
    path = write_notice(tmp_path, make_notice(NoticeKind.FIRMWARE_UPGRADE_SCHEDULE), "N42")
    renamed = path.rename(tmp_path / f"DMMS_N42_{OTHER}_20210803.xml")

    with pytest.raises(ExchangeFileRejected) as caught:
        read_notice(renamed)
    assert [where for where, _ in caught.value.faults] == ["Kind", "Party", "SentOn"]


# --- Migration Reporting Regime reports -------------------------------------------------------


def day_counts(day: date, **reasons: int) -> PartyDayCounts:
    return PartyDayCounts(
        day=day,
        party=SUPPLIER,
        allocated=150,
        scheduled=120,
        released=30,
        authorised=200,
        attempted=110,
        commissioned=100,
        failed=sum(reasons.values()),
        retried=7,
        excluded=110 - 100 - sum(reasons.values()),
        excluded_in_validation=1,
        outstanding=900,
        backlog=1500,
        failed_by_reason=dict(reasons),
    )


COUNTS = (
    day_counts(date(2021, 8, 2), device_no_response=3, han_failure=2),
    day_counts(date(2021, 8, 3), MA110=4),
    day_counts(date(2021, 8, 4)),
)
OUTCOMES = (
    OutcomeLine("INST-1", "1200023305967", "1234560", "commissioned", 1, "Adopted."),
    OutcomeLine('=HYPERLINK("http://x")', None, "1234560", "han_failure", 2, '-1 retry, "quoted"'),
    OutcomeLine("'quoted", "12345", None, "invalid_mpan", 1, "+ line one\nline two"),
    OutcomeLine("@SUM(A1)", None, None, "too_many_attempts", 5, ""),
)


def test_a_report_round_trips_through_xml_and_csv(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R7", COUNTS, iter(OUTCOMES))

    assert_schema_valid(files.xml)
    expected = MigrationReport("R7", SUPPLIER, date(2021, 8, 4), COUNTS, OUTCOMES)
    assert read_report_xml(files.xml) == expected
    assert read_report_csv(files.csv, files.detail) == expected
    assert read_report_csv(files.csv) == dataclasses.replace(expected, outcomes=())
    assert only_files(tmp_path) == sorted(p.name for p in (files.xml, files.csv, files.detail))


def test_report_names_parse_and_carry_the_reports_date(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R7", COUNTS, day=date(2021, 8, 5))

    stem = "MRR_R7_90-B3-D5-1F-30-01-00-00_20210805"
    assert (files.xml.name, files.csv.name, files.detail.name) == (
        f"{stem}.xml",
        f"{stem}.csv",
        f"{stem}.detail.csv",
    )
    for path in (files.xml, files.csv, files.detail):
        named = parse_name(path.name)
        assert (named.kind, named.reference, named.party, named.day) == (
            FileKind.REPORT,
            "R7",
            SUPPLIER,
            date(2021, 8, 5),
        )


def test_the_report_csv_opens_as_a_table_with_one_row_per_day(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R7", COUNTS, OUTCOMES)

    with open(files.csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    header = list(rows[0])
    assert header == [
        *CSV_COLUMNS,
        "failed:MA110",
        "failed:device_no_response",
        "failed:han_failure",
    ]
    assert rows[0]["day"] == "2021-08-02"
    assert rows[0]["party"] == SUPPLIER.value
    assert rows[0]["failed:device_no_response"] == "3"
    assert rows[0]["failed:MA110"] == "0"
    assert rows[1]["failed:MA110"] == "4"
    for row, counts in zip(rows, COUNTS, strict=True):
        assert all(row[name] == str(getattr(counts, name)) for name in COUNT_FIELDS)


def test_the_detail_csv_defuses_spreadsheet_formulas(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R7", COUNTS, OUTCOMES)

    with open(files.detail, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == DETAIL_COLUMNS
    assert [row[0] for row in rows[1:]] == [
        "INST-1",
        '\'=HYPERLINK("http://x")',
        "''quoted",
        "'@SUM(A1)",
    ]
    assert rows[2][5] == '\'-1 retry, "quoted"'
    assert rows[3][5] == "'+ line one\nline two"


def test_a_report_without_detail_has_a_header_only_detail_file(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R8", COUNTS[:1])

    assert files.detail.read_text(encoding="utf-8").strip() == ",".join(DETAIL_COLUMNS)
    assert read_report_xml(files.xml).outcomes == ()


def test_zero_reason_counts_are_left_out(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R9", [day_counts(date(2021, 8, 2), han_failure=0)])
    assert read_report_xml(files.xml).counts[0].failed_by_reason == {}
    assert "failed:" not in files.csv.read_text(encoding="utf-8")


def test_report_count_fields_cover_every_count_of_party_day_counts() -> None:
    ints = [f.name for f in dataclasses.fields(PartyDayCounts) if f.type in ("int", int)]
    assert tuple(ints) == COUNT_FIELDS


@pytest.mark.parametrize(
    ("counts", "problem"),
    [
        ([], "at least one day"),
        ([COUNTS[0], dataclasses.replace(COUNTS[1], party=OTHER)], "one party each"),
        ([COUNTS[0], COUNTS[0]], "reported twice"),
        ([dataclasses.replace(COUNTS[0], backlog=-1)], "backlog = -1 is not a count"),
        ([dataclasses.replace(COUNTS[0], failed_by_reason={"bad reason": 1})], "reason code"),
    ],
    ids=["no days", "two parties", "a day twice", "a negative count", "a bad reason code"],
)
def test_an_inconsistent_report_is_refused_before_writing(
    tmp_path: Path, counts: list[PartyDayCounts], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        write_report(tmp_path, "R7", counts)
    assert only_files(tmp_path) == []


def test_a_bad_outcome_line_leaves_no_report_files(tmp_path: Path) -> None:
    bad = OutcomeLine("INST-9", None, None, "not a label", 1, "")
    with pytest.raises(ValueError, match="outcome line 2"):
        write_report(tmp_path, "R7", COUNTS, [OUTCOMES[0], bad])
    assert only_files(tmp_path) == []


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (b"", "line 1"),
        (b"day,party\r\n", "line 1"),
        (b"day,party,allocated\r\n", "line 1"),
        ("{header}\r\n2021-08-02,{party},x,{rest}\r\n", "line 2"),
        ("{header}\r\n2021-08-02,{other},1,{rest}\r\n", "line 2"),
        ("{header}\r\n2021-08-02,{party},1,{rest},9\r\n", "line 2"),
        ("{header}\r\n2021-08-02,{party},1,{rest}\r\n2021-08-02,{party},1,{rest}\r\n", "file"),
        ("{header},failed:bad reason\r\n2021-08-02,{party},1,{rest},1\r\n", "line 1"),
        (b"\xff\xfed\x00a\x00y\x00", "file"),
        ('{header}\r\n"2021-08-02,{party}\r\n', "line 2"),
    ],
)
def test_a_malformed_report_csv_is_rejected_naming_where(
    tmp_path: Path, content: bytes | str, where: str
) -> None:
    path = tmp_path / "MRR_R7_90-B3-D5-1F-30-01-00-00_20210804.csv"
    if isinstance(content, str):
        content = content.format(
            header=",".join(CSV_COLUMNS),
            party=SUPPLIER,
            other=OTHER,
            rest=",".join(["1"] * (len(COUNT_FIELDS) - 1)),
        ).encode()
    path.write_bytes(content)

    with pytest.raises(ExchangeFileRejected) as caught:
        read_report_csv(path)
    assert caught.value.faults[0][0] == where


def test_the_report_csv_readers_bound_the_size_and_check_the_detail_file(tmp_path: Path) -> None:
    files = write_report(tmp_path, "R7", COUNTS, OUTCOMES)
    with pytest.raises(ExchangeFileRejected, match="limit"):
        read_report_csv(files.csv, max_bytes=files.csv.stat().st_size - 1)

    other = write_report(tmp_path, "R8", COUNTS, OUTCOMES)
    with pytest.raises(ExchangeFileRejected, match="not the detail file of this report"):
        read_report_csv(files.csv, other.detail)


# --- registration status file -----------------------------------------------------------------


def flag_changes(n: int) -> Iterator[FlagChange]:
    start = datetime(2021, 8, 2, 18, 0, tzinfo=UTC)
    for i in range(n):
        if i % 3:
            yield FlagChange(
                f"{1200000000000 + i}", MeterPointKind.MPAN, ServiceFlag.ENROLLED, start
            )
        else:
            flag = ServiceFlag.SUSPENDED if i % 2 else ServiceFlag.ENROLLED
            at = start + timedelta(seconds=i, microseconds=i)
            yield FlagChange(f"{1000000 + i}", MeterPointKind.MPRN, flag, at)


def test_the_registration_status_file_streams_many_changes_and_reads_back(tmp_path: Path) -> None:
    path = write_registration_status(tmp_path, "S1", PROVIDER, date(2021, 8, 2), flag_changes(5000))

    assert path.name == "RSF_S1_90-B3-D5-1F-30-02-00-00_20210802.xml"
    named = parse_name(path.name)
    assert (named.kind, named.reference, named.party, named.day) == (
        FileKind.REGISTRATION_STATUS,
        "S1",
        PROVIDER,
        date(2021, 8, 2),
    )
    root = assert_schema_valid(path)
    assert root.findtext("{*}Trailer/{*}ChangeCount") == "5000"
    header, changes = read_registration_status(path)
    assert (header.reference, header.provider, header.day) == ("S1", PROVIDER, date(2021, 8, 2))
    assert changes == list(flag_changes(5000))
    assert only_files(tmp_path) == [path.name]


def test_an_empty_registration_status_file_is_valid(tmp_path: Path) -> None:
    path = write_registration_status(tmp_path, "S2", PROVIDER, date(2021, 8, 2), [])
    assert_schema_valid(path)
    assert read_registration_status(path)[1] == []


def test_a_registration_status_writer_that_fails_leaves_no_file(tmp_path: Path) -> None:
    def write_then_fail() -> None:
        with RegistrationStatusWriter(tmp_path, "S3", PROVIDER, date(2021, 8, 2)) as writer:
            for change in flag_changes(10):
                writer.write(change)
            raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_then_fail()
    assert only_files(tmp_path) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (FlagChange("123", MeterPointKind.MPAN, ServiceFlag.ENROLLED, RECEIVED), "valid MPAN"),
        (
            FlagChange("1200023305967", MeterPointKind.MPRN, ServiceFlag.ENROLLED, RECEIVED),
            "valid MPRN",
        ),
        (
            FlagChange("1234560", MeterPointKind.MPRN, ServiceFlag.ENROLLED, datetime(2021, 8, 2)),
            "no time zone",
        ),
    ],
)
def test_a_malformed_flag_change_is_refused(
    tmp_path: Path, change: FlagChange, problem: str
) -> None:
    with (
        pytest.raises(ValueError, match=problem),
        RegistrationStatusWriter(tmp_path, "S3", PROVIDER, date(2021, 8, 2)) as writer,
    ):
        writer.write(change)
    assert only_files(tmp_path) == []


def test_a_truncated_registration_status_file_is_rejected_at_its_end(tmp_path: Path) -> None:
    path = write_registration_status(tmp_path, "S4", PROVIDER, date(2021, 8, 2), flag_changes(300))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with RegistrationStatusReader(path) as reader:
        reader.read_header()
        with pytest.raises(ExchangeFileRejected):
            for _ in reader:
                pass


def test_a_registration_status_file_whose_count_disagrees_is_rejected(tmp_path: Path) -> None:
    path = write_registration_status(tmp_path, "S5", PROVIDER, date(2021, 8, 2), flag_changes(3))
    path.write_bytes(path.read_bytes().replace(b"<ChangeCount>3<", b"<ChangeCount>4<"))

    with pytest.raises(ExchangeFileRejected) as caught:
        read_registration_status(path)
    assert caught.value.faults[0][0] == "Trailer"


def test_a_registration_status_file_renamed_to_another_provider_is_rejected(tmp_path: Path) -> None:
    path = write_registration_status(tmp_path, "S6", PROVIDER, date(2021, 8, 2), flag_changes(3))
    renamed = path.rename(tmp_path / f"RSF_S6_{OTHER}_20210802.xml")

    with pytest.raises(ExchangeFileRejected) as caught:
        read_registration_status(renamed)
    assert caught.value.faults[0][0] == "Header"


# --- hostile input to every XML reader --------------------------------------------------------

Reader = Callable[..., object]


def _ack(directory: Path) -> Path:
    return write_acknowledgement(directory, DEMAND_NAME, DIGEST, None, RECEIVED, True, "ok")


def _notice(directory: Path) -> Path:
    return write_notice(directory, make_notice(NoticeKind.MIGRATION_SCHEDULE), "N1")


def _report(directory: Path) -> Path:
    return write_report(directory, "R1", COUNTS, OUTCOMES).xml


def _status(directory: Path) -> Path:
    return write_registration_status(directory, "S1", PROVIDER, date(2021, 8, 2), flag_changes(5))


XML_READERS: list[tuple[Callable[[Path], Path], Reader]] = [
    (_ack, read_acknowledgement),
    (_notice, read_notice),
    (_report, read_report_xml),
    (_status, read_registration_status),
]
HOSTILE = {
    "an external entity": (
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<r>&x;</r>'
    ),
    "entity expansion": (
        b'<!-- a comment first --><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'
    ),
    "UTF-16": '<?xml version="1.0" encoding="UTF-16"?><r/>'.encode("utf-16"),
    "a declared encoding that hides a DTD": (
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE r+AD4-<r/>'
    ),
    "malformed XML": b'<?xml version="1.0"?><r><unclosed></r>',
    "an undefined entity": b"<r>&x;</r>",
    "no XML at all": b"PK\x03\x04 an archive",
    "another schema": b'<Report xmlns="urn:s1adopt:other:v1" schemaVersion="1.0"/>',
}


@pytest.mark.parametrize(("make", "read"), XML_READERS, ids=["ack", "notice", "report", "status"])
@pytest.mark.parametrize("content", list(HOSTILE.values()), ids=list(HOSTILE))
def test_every_reader_rejects_hostile_xml(
    tmp_path: Path, make: Callable[[Path], Path], read: Reader, content: bytes
) -> None:
    path = make(tmp_path)
    path.write_bytes(content)

    with pytest.raises(ExchangeFileRejected) as caught:
        read(path)
    assert caught.value.faults


@pytest.mark.parametrize(("make", "read"), XML_READERS, ids=["ack", "notice", "report", "status"])
def test_every_reader_rejects_a_file_over_its_size_limit(
    tmp_path: Path, make: Callable[[Path], Path], read: Reader
) -> None:
    path = make(tmp_path)
    size = path.stat().st_size

    read(path, max_bytes=size)  # exactly at the limit is fine
    with pytest.raises(ExchangeFileRejected, match="limit"):
        read(path, max_bytes=size - 1)


@pytest.mark.parametrize(("make", "read"), XML_READERS, ids=["ack", "notice", "report", "status"])
def test_every_reader_rejects_a_valid_document_missing_a_required_element(
    tmp_path: Path, make: Callable[[Path], Path], read: Reader
) -> None:
    path = make(tmp_path)
    root = etree.parse(str(path)).getroot()
    del root[1]  # the second child is required in every schema
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    with pytest.raises(ExchangeFileRejected) as caught:
        read(path)
    assert "Expected is" in caught.value.faults[0][1]


def test_the_schemas_leave_no_room_for_anything_but_their_fields() -> None:
    """No wildcard content: a credential cannot ride along in a file the service sends."""
    for name in sorted(set(SCHEMAS.values())):
        text = resources.files("s1adopt.formats.exchange").joinpath(name).read_text()
        assert "xs:any" not in text, name
        assert "anyAttribute" not in text, name


@pytest.mark.parametrize(
    ("old", "new"),
    [(b'kind="MPAN"', b'kind="GAS"'), (b'flag="Enrolled"', b'flag="Dormant"')],
    ids=["unknown-kind", "unknown-flag"],
)
def test_a_registration_status_file_with_an_unknown_value_is_rejected_not_crashed(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    path = write_registration_status(tmp_path, "S6", PROVIDER, date(2021, 8, 2), flag_changes(3))
    data = path.read_bytes()
    assert old in data
    path.write_bytes(data.replace(old, new, 1))

    with pytest.raises(ExchangeFileRejected):
        read_registration_status(path)
