"""Migration demand files (``DC-...``) and their responses, the capacity allocations (``DR_...``).

Formats (``demand-v1.xsd``, namespace ``urn:s1adopt:demand:v1``):
- ``DC-<ref>_<party>_<recipient>_<yyyymmdd>.xml``: root ``DemandFile``, a header (Reference,
  Party, Created), then per migration day (``Day date=``) the installations wanted per cohort
  (``Cohort name= installations=``; cohorts IOC, MOC, FOC);
- ``DR_<ref>_<party>_<recipient>_<yyyymmdd>.xml``: root ``AllocationResponse``, a header
  (Reference of the demand it answers, Party, Day), then one ``Allocation`` (day, cohort,
  demand, allocated) per line; the name's date is the migration day.
Rules (besides the safe intake of ``registration``): the name's party and reference must be
the header's, the recipient comes from the name; a day and cohort appear at most once; every
fault is listed.
"""

from __future__ import annotations

from datetime import date
from itertools import groupby
from pathlib import Path

from s1adopt.domain.programme import AllocationLine, AllocationResponse, DemandFile, DemandLine
from s1adopt.formats.exchange.names import FileKind, build_name
from s1adopt.formats.exchange.registration import (
    FaultList,
    check_name,
    check_name_agrees,
    child_text,
    element_writer,
    exchange_schema,
    header_element,
    iter_elements,
    open_document,
    parse_count,
    parse_day,
    parse_eui,
    recipient_of,
    release,
    write_item,
)

NAMESPACE = "urn:s1adopt:demand:v1"
COHORTS = ("IOC", "MOC", "FOC")
DEFAULT_MAX_BYTES = 16 * 1024**2
_SCHEMA = "demand-v1.xsd"
_NS = "{" + NAMESPACE + "}"
_DEMAND, _ALLOCATION_RESPONSE = _NS + "DemandFile", _NS + "AllocationResponse"
_HEADER, _COHORT, _ALLOCATION = _NS + "Header", _NS + "Cohort", _NS + "Allocation"


def demand_file_name(demand: DemandFile) -> str:
    """``DC-<ref>_<party>_<recipient>_<created yyyymmdd>.xml``."""
    return build_name(
        FileKind.DEMAND, demand.reference, demand.party, demand.recipient, demand.created
    )


def allocation_file_name(response: AllocationResponse) -> str:
    """``DR_<ref>_<party>_<recipient>_<migration day yyyymmdd>.xml``."""
    return build_name(
        FileKind.DEMAND_RESPONSE,
        response.reference,
        response.party,
        response.recipient,
        response.day,
    )


def write_demand(path: Path, demand: DemandFile) -> None:
    """Write a demand file (name it with ``demand_file_name``); consecutive lines of one day
    share a ``Day`` element."""
    stack, xf = element_writer(path, "DemandFile", NAMESPACE)
    with stack:
        xf.write(
            header_element(
                NAMESPACE,
                (
                    ("Reference", demand.reference),
                    ("Party", demand.party.value),
                    ("Created", demand.created.isoformat()),
                ),
            )
        )
        with xf.element(_NS + "Days"):
            for day, lines in groupby(demand.lines, key=lambda line: line.day):
                xf.write("\n")
                with xf.element(_NS + "Day", {"date": day.isoformat()}):
                    for line in lines:
                        write_item(
                            xf,
                            _COHORT,
                            {"name": line.cohort, "installations": str(line.installations)},
                        )


def read_demand(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> DemandFile:
    """A demand file; ``ExchangeFileRejected`` lists every fault."""
    faults = FaultList(path.name)
    parsed = check_name(path.name, FileKind.DEMAND, faults)
    raw, source = open_document(path, max_bytes, faults)
    reference, party, created = "", None, None
    lines: list[DemandLine] = []
    seen: set[tuple[date, str]] = set()
    with raw:
        elements = iter_elements(
            source,
            exchange_schema(_SCHEMA),
            _DEMAND,
            (_HEADER, _COHORT),
            faults,
            other_roots=(_ALLOCATION_RESPONSE,),
        )
        for elem in elements:
            where = f"line {elem.sourceline}"
            if elem.tag == _HEADER:
                reference = child_text(elem, _NS + "Reference")
                party = parse_eui(child_text(elem, _NS + "Party"), "Party", where, faults)
                created = parse_day(child_text(elem, _NS + "Created"), "Created", where, faults)
                check_name_agrees(parsed, party, reference, faults)
            else:
                day_element = elem.getparent()
                day_text = day_element.get("date", "") if day_element is not None else ""
                day = parse_day(day_text, "date", where, faults)
                cohort = _cohort(elem.get("name", ""), where, faults)
                count = parse_count(elem.get("installations", ""), "installations", where, faults)
                if (
                    day
                    and cohort
                    and count is not None
                    and _first(seen, day, cohort, where, faults)
                ):
                    lines.append(DemandLine(day, cohort, count))
            release(elem)
    faults.raise_if_any()
    assert party is not None
    assert created is not None
    return DemandFile(reference, party, recipient_of(parsed), created, tuple(lines))


def write_allocation(path: Path, response: AllocationResponse) -> None:
    """Write a capacity allocation (name it with ``allocation_file_name``)."""
    stack, xf = element_writer(path, "AllocationResponse", NAMESPACE)
    with stack:
        xf.write(
            header_element(
                NAMESPACE,
                (
                    ("Reference", response.reference),
                    ("Party", response.party.value),
                    ("Day", response.day.isoformat()),
                ),
            )
        )
        with xf.element(_NS + "Allocations"):
            for line in response.lines:
                write_item(
                    xf,
                    _ALLOCATION,
                    {
                        "day": line.day.isoformat(),
                        "cohort": line.cohort,
                        "demand": str(line.demand),
                        "allocated": str(line.allocated),
                    },
                )


def read_allocation(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> AllocationResponse:
    """A capacity allocation; ``ExchangeFileRejected`` lists every fault."""
    faults = FaultList(path.name)
    parsed = check_name(path.name, FileKind.DEMAND_RESPONSE, faults)
    raw, source = open_document(path, max_bytes, faults)
    reference, party, day = "", None, None
    lines: list[AllocationLine] = []
    seen: set[tuple[date, str]] = set()
    with raw:
        elements = iter_elements(
            source,
            exchange_schema(_SCHEMA),
            _ALLOCATION_RESPONSE,
            (_HEADER, _ALLOCATION),
            faults,
            other_roots=(_DEMAND,),
        )
        for elem in elements:
            where = f"line {elem.sourceline}"
            if elem.tag == _HEADER:
                reference = child_text(elem, _NS + "Reference")
                party = parse_eui(child_text(elem, _NS + "Party"), "Party", where, faults)
                day = parse_day(child_text(elem, _NS + "Day"), "Day", where, faults)
                check_name_agrees(parsed, party, reference, faults)
            else:
                line_day = parse_day(elem.get("day", ""), "day", where, faults)
                cohort = _cohort(elem.get("cohort", ""), where, faults)
                wanted = parse_count(elem.get("demand", ""), "demand", where, faults)
                allocated = parse_count(elem.get("allocated", ""), "allocated", where, faults)
                if (
                    line_day
                    and cohort
                    and wanted is not None
                    and allocated is not None
                    and _first(seen, line_day, cohort, where, faults)
                ):
                    lines.append(AllocationLine(line_day, cohort, wanted, allocated))
            release(elem)
    faults.raise_if_any()
    assert party is not None
    assert day is not None
    return AllocationResponse(reference, party, recipient_of(parsed), day, tuple(lines))


def _cohort(name: str, where: str, faults: FaultList) -> str | None:
    if name not in COHORTS:
        faults.add(where, f"cohort {name!r} is not one of {', '.join(COHORTS)}")
        return None
    return name


def _first(
    seen: set[tuple[date, str]], day: date, cohort: str, where: str, faults: FaultList
) -> bool:
    if (day, cohort) in seen:
        faults.add(where, f"{cohort} on {day.isoformat()} appears more than once")
        return False
    seen.add((day, cohort))
    return True
