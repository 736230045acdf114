"""Dormant meter notices to a supplier (``domain.programme.Notice``), as XML.

Rules:
- named ``DMFU_<ref>_<party>_<yyyymmdd>.xml`` (Dormant Meter FW Upgrade Schedule Notification)
  or ``DMMS_<ref>_<party>_<yyyymmdd>.xml`` (Dormant Meter Migration Schedule Notification),
  with the caller's reference and the day the notice is sent on;
- one line per installation: its reference, MPAN and/or MPRN (at least one) and the day of the
  upgrade or migration, in the order given;
- the reader checks the name against the content (kind, reference, party, day).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.programme import Notice, NoticeKind, NoticeLine
from s1adopt.formats.exchange.names import FileKind, build_name, parse_name
from s1adopt.formats.exchange.xmlio import (
    FirstFault,
    atomic_document,
    child_text,
    leaf,
    read_exchange_xml,
    require_eui,
    xml_text,
)

NAMESPACE = "urn:s1adopt:notice:v1"
DEFAULT_MAX_BYTES = 256 * 1024**2
TITLES = {
    NoticeKind.FIRMWARE_UPGRADE_SCHEDULE: "Dormant Meter FW Upgrade Schedule Notification",
    NoticeKind.MIGRATION_SCHEDULE: "Dormant Meter Migration Schedule Notification",
}

_Q = "{" + NAMESPACE + "}"
_REFERENCE = re.compile(r"[A-Za-z0-9]{1,32}")
_LINE_REFERENCE = re.compile(r"[^\x00-\x1f\x7f]{1,64}")
_MPAN, _MPRN = re.compile(r"\d{13}"), re.compile(r"\d{6,10}")


def notice_name(notice: Notice, reference: str) -> str:
    """``<DMFU|DMMS>_<ref>_<party>_<sent on yyyymmdd>.xml``."""
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"{reference!r}: a file reference is 1 to 32 letters or digits")
    return build_name(FileKind(notice.kind.value), reference, notice.party, None, notice.sent_on)


def write_notice(directory: Path, notice: Notice, reference: str) -> Path:
    """Write ``notice`` into ``directory``; return its path.

    ``ValueError`` for a line without a valid MPAN or MPRN or with a malformed reference.
    """
    for number, line in enumerate(notice.lines, 1):
        _check_line(number, line)
    path = directory / notice_name(notice, reference)
    with atomic_document(path, "Notice", NAMESPACE) as xf:
        xf.write("\n")
        leaf(xf, _Q + "Kind", notice.kind.value)
        leaf(xf, _Q + "Title", TITLES[notice.kind])
        leaf(xf, _Q + "Reference", reference)
        leaf(xf, _Q + "Party", notice.party.value)
        leaf(xf, _Q + "SentOn", notice.sent_on.isoformat())
        leaf(xf, _Q + "LineCount", str(len(notice.lines)))
        with xf.element(_Q + "Lines"):
            xf.write("\n")
            for line in notice.lines:
                _write_line(xf, line)
    return path


def read_notice(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Notice:
    """Read a notice back (schema-valid, its name matching its content)."""
    named = parse_name(path.name)
    root = read_exchange_xml(path, "notice-v1.xsd", max_bytes)
    lines = tuple(
        NoticeLine(
            reference=elem.get("reference", ""),
            mpan=_optional(elem, _Q + "MPAN"),
            mprn=_optional(elem, _Q + "MPRN"),
            day=date.fromisoformat(child_text(elem, _Q + "Day")),
        )
        for elem in root.iterfind(f"{_Q}Lines/{_Q}Line")
    )
    notice = Notice(
        kind=NoticeKind(child_text(root, _Q + "Kind")),
        party=require_eui(child_text(root, _Q + "Party"), FirstFault(path.name)),
        sent_on=date.fromisoformat(child_text(root, _Q + "SentOn")),
        lines=lines,
    )
    problems = []
    if named.kind.value != notice.kind.value:
        problems.append(("Kind", f"{notice.kind.value} but the name says {named.kind.value}"))
    if named.reference != child_text(root, _Q + "Reference"):
        problems.append(("Reference", f"differs from the name's {named.reference}"))
    if named.party != notice.party:
        problems.append(("Party", f"{notice.party} but the name says {named.party}"))
    if named.day != notice.sent_on:
        problems.append(("SentOn", f"{notice.sent_on} but the name says {named.day}"))
    if int(child_text(root, _Q + "LineCount")) != len(lines):
        problems.append(("LineCount", f"the notice holds {len(lines)} lines"))
    if problems:
        raise ExchangeFileRejected(f"{path.name}: inconsistent notice", problems)
    return notice


def _check_line(number: int, line: NoticeLine) -> None:
    if not _LINE_REFERENCE.fullmatch(line.reference) or xml_text(line.reference) != line.reference:
        raise ValueError(f"line {number}: reference {line.reference!r} is not 1 to 64 characters")
    if line.mpan is None and line.mprn is None:
        raise ValueError(f"line {number} ({line.reference}): names neither an MPAN nor an MPRN")
    if line.mpan is not None and not _MPAN.fullmatch(line.mpan):
        raise ValueError(f"line {number} ({line.reference}): {line.mpan!r} is not an MPAN core")
    if line.mprn is not None and not _MPRN.fullmatch(line.mprn):
        raise ValueError(f"line {number} ({line.reference}): {line.mprn!r} is not an MPRN")


def _write_line(xf: Any, line: NoticeLine) -> None:
    with xf.element(_Q + "Line", {"reference": line.reference}):
        if line.mpan is not None:
            leaf(xf, _Q + "MPAN", line.mpan, end="")
        if line.mprn is not None:
            leaf(xf, _Q + "MPRN", line.mprn, end="")
        leaf(xf, _Q + "Day", line.day.isoformat(), end="")
    xf.write("\n")


def _optional(elem: etree._Element, tag: str) -> str | None:
    child = elem.find(tag)
    return None if child is None else child.text or ""
