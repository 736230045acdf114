"""Migration Reporting Regime reports to a supplier, as XML and CSV.

Rules:
- one report is for one party and holds one or more migration days (``PartyDayCounts``: a
  day's report, or a period's), each with every count and the failures by reason, and
  optionally the outcome of each installation (the batch or day detail);
- named ``MRR_<ref>_<party>_<yyyymmdd>`` with the date of the report (by default its last
  day): ``.xml`` holds everything; ``.csv`` holds one row per day (a header row, then ``day``,
  ``party``, each count, and one ``failed:<reason>`` column per reason found in the report);
  ``.detail.csv`` holds one row per installation (``DETAIL_COLUMNS``, header-only when the
  report has no detail);
- a reason counted zero times is not written, so reading gives only the reasons that occurred;
  an empty MPAN or MPRN in an outcome line is written as none;
- a CSV cell that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, a
  tab or carriage return) is written with a leading ``'``, as is one that starts with ``'``;
  the reader removes it, so the round trip is exact;
- reports hold identities, counts and outcomes only: never a credential.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

from lxml import etree

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import COUNT_FIELDS, PartyDayCounts
from s1adopt.formats.exchange.names import FileKind, build_name, parse_name
from s1adopt.formats.exchange.xmlio import (
    TEXT_LIMIT,
    FirstFault,
    atomic_document,
    atomic_output,
    bounded,
    child_text,
    leaf,
    read_bounded,
    read_exchange_xml,
    require_eui,
    xml_text,
)

NAMESPACE = "urn:s1adopt:report:v1"
DEFAULT_MAX_BYTES = 1024**3
CSV_COLUMNS = ("day", "party", *COUNT_FIELDS)  # then the failed:<reason> columns
REASON_PREFIX = "failed:"
DETAIL_COLUMNS = ("reference", "mpan", "mprn", "outcome", "attempts", "explanation")
DETAIL_EXTENSION = ".detail.csv"

_Q = "{" + NAMESPACE + "}"
_ELEMENTS = {name: "".join(part.title() for part in name.split("_")) for name in COUNT_FIELDS}
_REFERENCE = re.compile(r"[A-Za-z0-9]{1,32}")
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.:\-]{0,63}")  # reason codes and outcome labels
_COUNT = re.compile(r"[0-9]{1,10}")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_MPXN_LIMIT, _INSTALLATION_LIMIT = 24, 64


@dataclass(frozen=True, slots=True)
class OutcomeLine:
    """How one installation's migration ended, for the batch or day detail."""

    reference: str  # the SMSO's installation reference
    mpan: str | None
    mprn: str | None
    outcome: str  # "commissioned", "commissioned_electricity_only" or a failure reason code
    attempts: int
    explanation: str = ""


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """A report as read back: its name's fields, the days' counts and the detail."""

    reference: str
    party: Eui64
    day: date  # the date in the name
    counts: tuple[PartyDayCounts, ...]
    outcomes: tuple[OutcomeLine, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The three files of one report."""

    xml: Path
    csv: Path
    detail: Path


def report_name(reference: str, party: Eui64, day: date, extension: str = ".xml") -> str:
    """``MRR_<ref>_<party>_<yyyymmdd><extension>``."""
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"{reference!r}: a file reference is 1 to 32 letters or digits")
    return build_name(FileKind.REPORT, reference, party, None, day, extension=extension)


def write_report(
    directory: Path,
    reference: str,
    counts: Sequence[PartyDayCounts],
    outcomes: Iterable[OutcomeLine] = (),
    day: date | None = None,
) -> ReportFiles:
    """Write one party's report (XML, CSV and detail CSV) into ``directory``.

    ``counts`` are the days reported, in order, at least one, all of one party, each day once;
    ``outcomes`` are streamed once into the XML and the detail CSV; ``day`` (the date in the
    names) defaults to the last day reported. ``ValueError`` names any inconsistent input.
    """
    party = _check_counts(counts)
    on = day if day is not None else max(c.day for c in counts)
    files = ReportFiles(
        xml=directory / report_name(reference, party, on),
        csv=directory / report_name(reference, party, on, ".csv"),
        detail=directory / report_name(reference, party, on, DETAIL_EXTENSION),
    )
    reasons = sorted({r for c in counts for r, n in c.failed_by_reason.items() if n})
    with ExitStack() as stack:
        _write_counts_csv(_text_output(stack, files.csv), counts, reasons)
        detail = csv.writer(_text_output(stack, files.detail))
        detail.writerow(DETAIL_COLUMNS)
        xf = stack.enter_context(atomic_document(files.xml, "Report", NAMESPACE))
        xf.write("\n")
        leaf(xf, _Q + "Reference", reference)
        leaf(xf, _Q + "Party", party.value)
        leaf(xf, _Q + "ReportDate", on.isoformat())
        with xf.element(_Q + "Days"):
            xf.write("\n")
            for c in counts:
                _write_day(xf, c)
        with xf.element(_Q + "Installations"):
            xf.write("\n")
            for number, line in enumerate(outcomes, 1):
                line = _checked_outcome(number, line)
                _write_outcome(xf, line)
                detail.writerow(_detail_row(line))
        xf.write("\n")
    return files


def read_report_xml(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> MigrationReport:
    """Read a report's XML back (schema-valid, its name matching its header)."""
    named = parse_name(path.name)
    root = read_exchange_xml(path, "report-v1.xsd", max_bytes)
    party = require_eui(child_text(root, _Q + "Party"), FirstFault(path.name))
    report = MigrationReport(
        reference=child_text(root, _Q + "Reference"),
        party=party,
        day=date.fromisoformat(child_text(root, _Q + "ReportDate")),
        counts=tuple(_day_counts(e, party) for e in root.iterfind(f"{_Q}Days/{_Q}Day")),
        outcomes=tuple(_outcome(e) for e in root.iterfind(f"{_Q}Installations/{_Q}Installation")),
    )
    problems = []
    if named.kind is not FileKind.REPORT:
        problems.append(("name", f"a {named.kind.value} name, not MRR"))
    for where, value, in_name in (
        ("Reference", report.reference, named.reference),
        ("Party", report.party, named.party),
        ("ReportDate", report.day, named.day),
    ):
        if value != in_name:
            problems.append((where, f"{value} but the name says {in_name}"))
    if problems:
        raise ExchangeFileRejected(f"{path.name}: inconsistent report", problems)
    return report


def read_report_csv(
    path: Path, detail: Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> MigrationReport:
    """Read a report's CSV (and its detail CSV, if given) back into a ``MigrationReport``."""
    named = parse_name(path.name)
    if named.kind is not FileKind.REPORT:
        raise ExchangeFileRejected(f"{path.name}: not a report", [("name", "not an MRR name")])
    rows = _csv_rows(path, max_bytes)
    header = next(rows, None)
    if header is None:
        raise _bad(path, "line 1", "empty: no header row")
    reasons = _reason_columns(path, header)
    counts: list[PartyDayCounts] = []
    for number, row in rows:
        counts.append(_counts_row(path, number, row, reasons, named.party))
    days = [c.day for c in counts]
    if not counts:
        raise _bad(path, "file", "no day rows")
    if len(set(days)) != len(days):
        raise _bad(path, "file", "a day is reported twice")
    outcomes: tuple[OutcomeLine, ...] = ()
    if detail is not None:
        outcomes = _read_detail(detail, named.reference, named.party, named.day, max_bytes)
    return MigrationReport(named.reference, named.party, named.day, tuple(counts), outcomes)


# --- writing ----------------------------------------------------------------------------------


def _check_counts(counts: Sequence[PartyDayCounts]) -> Eui64:
    if not counts:
        raise ValueError("a report holds at least one day")
    party = counts[0].party
    seen: set[date] = set()
    for c in counts:
        if c.party != party:
            raise ValueError(f"{c.day}: party {c.party} in a report for {party}; one party each")
        if c.day in seen:
            raise ValueError(f"{c.day}: reported twice")
        seen.add(c.day)
        for name in COUNT_FIELDS:
            value = getattr(c, name)
            if type(value) is not int or not 0 <= value < 10**10:
                raise ValueError(f"{c.day}: {name} = {value!r} is not a count")
        for reason, n in c.failed_by_reason.items():
            if not _CODE.fullmatch(reason):
                raise ValueError(f"{c.day}: {reason!r} is not a reason code")
            if type(n) is not int or not 0 <= n < 10**10:
                raise ValueError(f"{c.day}: failed:{reason} = {n!r} is not a count")
    return party


def _checked_outcome(number: int, line: OutcomeLine) -> OutcomeLine:
    where = f"outcome line {number}"
    ref = line.reference
    if not 0 < len(ref) <= _INSTALLATION_LIMIT or xml_text(ref) != ref:
        raise ValueError(f"{where}: reference {ref!r} is not 1 to 64 XML characters")
    for label, mpxn in (("MPAN", line.mpan), ("MPRN", line.mprn)):
        if mpxn and (len(mpxn) > _MPXN_LIMIT or xml_text(mpxn) != mpxn):
            raise ValueError(f"{where} ({ref}): {label} {mpxn!r} is over 24 XML characters")
    if not _CODE.fullmatch(line.outcome):
        raise ValueError(f"{where} ({ref}): {line.outcome!r} is not an outcome label")
    if type(line.attempts) is not int or not 0 <= line.attempts < 10**6:
        raise ValueError(f"{where} ({ref}): attempts = {line.attempts!r} is not a count")
    return OutcomeLine(
        reference=ref,
        mpan=line.mpan or None,
        mprn=line.mprn or None,
        outcome=line.outcome,
        attempts=line.attempts,
        explanation=bounded(line.explanation, TEXT_LIMIT),
    )


def _text_output(stack: ExitStack, path: Path) -> IO[str]:
    raw = stack.enter_context(atomic_output(path))
    text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    stack.callback(text.detach)  # flushes into the raw file before it is synced and renamed
    return text


def _write_counts_csv(out: IO[str], counts: Sequence[PartyDayCounts], reasons: list[str]) -> None:
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, *(REASON_PREFIX + r for r in reasons)])
    for c in counts:
        writer.writerow(
            [
                c.day.isoformat(),
                c.party.value,
                *(getattr(c, name) for name in COUNT_FIELDS),
                *(c.failed_by_reason.get(r, 0) for r in reasons),
            ]
        )


def _write_day(xf: Any, c: PartyDayCounts) -> None:
    with xf.element(_Q + "Day", {"date": c.day.isoformat()}):
        for name in COUNT_FIELDS:
            leaf(xf, _Q + _ELEMENTS[name], str(getattr(c, name)), end="")
        reasons = sorted((r, n) for r, n in c.failed_by_reason.items() if n)
        if reasons:
            with xf.element(_Q + "FailedByReason"):
                for reason, n in reasons:
                    with xf.element(_Q + "Reason", {"code": reason}):
                        xf.write(str(n))
    xf.write("\n")


def _write_outcome(xf: Any, line: OutcomeLine) -> None:
    attrs = {"reference": line.reference, "outcome": line.outcome, "attempts": str(line.attempts)}
    with xf.element(_Q + "Installation", attrs):
        if line.mpan is not None:
            leaf(xf, _Q + "MPAN", line.mpan, end="")
        if line.mprn is not None:
            leaf(xf, _Q + "MPRN", line.mprn, end="")
        leaf(xf, _Q + "Explanation", line.explanation, end="")
    xf.write("\n")


def _detail_row(line: OutcomeLine) -> list[str]:
    return [
        _cell(line.reference),
        _cell(line.mpan or ""),
        _cell(line.mprn or ""),
        _cell(line.outcome),
        str(line.attempts),
        _cell(line.explanation),
    ]


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


# --- reading ----------------------------------------------------------------------------------


def _day_counts(elem: etree._Element, party: Eui64) -> PartyDayCounts:
    values = {name: int(child_text(elem, _Q + _ELEMENTS[name])) for name in COUNT_FIELDS}
    reasons = {
        r.get("code", ""): int(r.text or "0")
        for r in elem.iterfind(f"{_Q}FailedByReason/{_Q}Reason")
    }
    day = date.fromisoformat(elem.get("date", ""))
    return PartyDayCounts(day=day, party=party, failed_by_reason=reasons, **values)


def _outcome(elem: etree._Element) -> OutcomeLine:
    mpan, mprn = elem.find(_Q + "MPAN"), elem.find(_Q + "MPRN")
    return OutcomeLine(
        reference=elem.get("reference", ""),
        mpan=None if mpan is None else mpan.text or "",
        mprn=None if mprn is None else mprn.text or "",
        outcome=elem.get("outcome", ""),
        attempts=int(elem.get("attempts", "0")),
        explanation=child_text(elem, _Q + "Explanation"),
    )


def _csv_rows(path: Path, max_bytes: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each record; a BOM is allowed, anything not UTF-8 is not."""
    data = read_bounded(path, max_bytes, FirstFault(path.name))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _bad(path, "file", f"not UTF-8 (byte {exc.start}); save it as UTF-8") from exc
    if "\x00" in text:
        raise _bad(path, "file", "holds NUL characters: not a text file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if row:
                yield reader.line_num, row
    except csv.Error as exc:
        raise _bad(path, f"line {reader.line_num}", f"malformed CSV: {exc}") from exc


def _reason_columns(path: Path, header: tuple[int, list[str]]) -> list[str]:
    cells = header[1]
    if tuple(cells[: len(CSV_COLUMNS)]) != CSV_COLUMNS:
        raise _bad(path, "line 1", f"the header must start {','.join(CSV_COLUMNS)}")
    reasons = []
    for cell in cells[len(CSV_COLUMNS) :]:
        reason = cell.removeprefix(REASON_PREFIX)
        if not cell.startswith(REASON_PREFIX) or not _CODE.fullmatch(reason):
            raise _bad(path, "line 1", f"column {cell!r} is not failed:<reason>")
        reasons.append(reason)
    if len(set(reasons)) != len(reasons):
        raise _bad(path, "line 1", "a failed:<reason> column appears twice")
    return reasons


def _counts_row(
    path: Path, number: int, row: list[str], reasons: list[str], party: Eui64
) -> PartyDayCounts:
    where = f"line {number}"
    if len(row) != len(CSV_COLUMNS) + len(reasons):
        raise _bad(
            path, where, f"{len(row)} cells where the header has {len(CSV_COLUMNS) + len(reasons)}"
        )
    try:
        day = date.fromisoformat(row[0])
    except ValueError as exc:
        raise _bad(path, where, f"day {row[0]!r} is not yyyy-mm-dd") from exc
    if require_eui(row[1], FirstFault(path.name)) != party:
        raise _bad(path, where, f"party {row[1]} but the name says {party}")
    numbers = []
    for column, cell in zip(CSV_COLUMNS[2:] + tuple(reasons), row[2:], strict=True):
        if not _COUNT.fullmatch(cell):
            raise _bad(path, where, f"{column} = {cell!r} is not a count")
        numbers.append(int(cell))
    values = dict(zip(COUNT_FIELDS, numbers, strict=False))
    by_reason = {r: n for r, n in zip(reasons, numbers[len(COUNT_FIELDS) :], strict=True) if n}
    return PartyDayCounts(day=day, party=party, failed_by_reason=by_reason, **values)


def _read_detail(
    path: Path, reference: str, party: Eui64, day: date, max_bytes: int
) -> tuple[OutcomeLine, ...]:
    named = parse_name(path.name)
    if (named.kind, named.reference, named.party, named.day) != (
        FileKind.REPORT,
        reference,
        party,
        day,
    ) or not path.name.endswith(DETAIL_EXTENSION):
        raise _bad(path, "name", "not the detail file of this report")
    rows = _csv_rows(path, max_bytes)
    header = next(rows, None)
    if header is None or tuple(header[1]) != DETAIL_COLUMNS:
        raise _bad(path, "line 1", f"the header must be {','.join(DETAIL_COLUMNS)}")
    lines = []
    for number, row in rows:
        if len(row) != len(DETAIL_COLUMNS) or not _COUNT.fullmatch(row[4]):
            raise _bad(path, f"line {number}", "not reference,mpan,mprn,outcome,attempts,...")
        ref, mpan, mprn, outcome, attempts, explanation = row
        lines.append(
            OutcomeLine(
                reference=_uncell(ref),
                mpan=_uncell(mpan) or None,
                mprn=_uncell(mprn) or None,
                outcome=_uncell(outcome),
                attempts=int(attempts),
                explanation=_uncell(explanation),
            )
        )
    return tuple(lines)


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _bad(path: Path, where: str, problem: str) -> ExchangeFileRejected:
    return FirstFault(path.name).fatal(where, problem)
