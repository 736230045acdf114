"""Migration demand files (``DC-...``) and their responses, the capacity allocations (``DR_...``).

Formats (``demand-v1.xsd``, namespace ``urn:s1adopt:demand:v1``):
- ``DC-<ref>_<party>_<recipient>_<yyyymmdd>.xml``: root ``DemandFile``, a header (Reference,
  Party, Created), then per migration day (``Day date=``) the installations wanted per cohort
  (``Cohort name= installations=``; cohorts IOC, MOC, FOC);
- ``DR_<ref>_<party>_<recipient>_<yyyymmdd>.xml``: root ``AllocationResponse``, a header
  (Reference of the demand it answers, Party, Day), then one ``Allocation`` (day, cohort,
  demand, allocated) per line; the name's date is the migration day.
Rules (besides the safe intake of every exchange reader, in ``xmlio``): the name's party and
reference must be the header's, the recipient comes from the name; a day and cohort appear at
most once; every fault is listed.
"""

from __future__ import annotations

from datetime import date
from itertools import groupby
from pathlib import Path

from lxml import etree

from s1adopt.domain.programme import AllocationLine, AllocationResponse, DemandFile, DemandLine
from s1adopt.formats.exchange.names import FileKind, build_name
from s1adopt.formats.exchange.xmlio import (
    FaultList,
    ListLayout,
    ListWriter,
    Stamp,
    parse_count,
    parse_day,
    read_list,
)

NAMESPACE = "urn:s1adopt:demand:v1"
COHORTS = ("IOC", "MOC", "FOC")
DEFAULT_MAX_BYTES = 16 * 1024**2
_SCHEMA = "demand-v1.xsd"
_DEMAND = ListLayout(
    _SCHEMA, NAMESPACE, "DemandFile", "Days", "Cohort", other_roots=("AllocationResponse",)
)
_ALLOCATION = ListLayout(
    _SCHEMA, NAMESPACE, "AllocationResponse", "Allocations", "Allocation", ("DemandFile",)
)


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
    fields = (
        ("Reference", demand.reference),
        ("Party", demand.party.value),
        ("Created", demand.created.isoformat()),
    )
    with ListWriter(path, _DEMAND, fields) as writer:
        for day, lines in groupby(demand.lines, key=lambda line: line.day):
            with writer.group("Day", {"date": day.isoformat()}):
                for line in lines:
                    writer.item({"name": line.cohort, "installations": str(line.installations)})


def read_demand(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> DemandFile:
    """A demand file; ``ExchangeFileRejected`` lists every fault."""
    lines = _Lines()
    document = read_list(
        path, max_bytes, FileKind.DEMAND, _DEMAND, Stamp("Created", parse_day), lines.demand
    )
    return DemandFile(
        document.reference, document.party, document.recipient, document.stamp, document.items
    )


def write_allocation(path: Path, response: AllocationResponse) -> None:
    """Write a capacity allocation (name it with ``allocation_file_name``)."""
    fields = (
        ("Reference", response.reference),
        ("Party", response.party.value),
        ("Day", response.day.isoformat()),
    )
    with ListWriter(path, _ALLOCATION, fields) as writer:
        for line in response.lines:
            writer.item(
                {
                    "day": line.day.isoformat(),
                    "cohort": line.cohort,
                    "demand": str(line.demand),
                    "allocated": str(line.allocated),
                }
            )


def read_allocation(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> AllocationResponse:
    """A capacity allocation; ``ExchangeFileRejected`` lists every fault."""
    lines = _Lines()
    document = read_list(
        path,
        max_bytes,
        FileKind.DEMAND_RESPONSE,
        _ALLOCATION,
        Stamp("Day", parse_day),
        lines.allocation,
    )
    return AllocationResponse(
        document.reference, document.party, document.recipient, document.stamp, document.items
    )


class _Lines:
    """Reads the lines of one file, each day and cohort at most once."""

    def __init__(self) -> None:
        self._seen: set[tuple[date, str]] = set()

    def demand(self, elem: etree._Element, where: str, faults: FaultList) -> DemandLine | None:
        """A ``Cohort`` of a ``Day``: the installations wanted."""
        day_element = elem.getparent()
        day_text = day_element.get("date", "") if day_element is not None else ""
        day = parse_day(day_text, "date", where, faults)
        cohort = _cohort(elem.get("name", ""), where, faults)
        count = parse_count(elem.get("installations", ""), "installations", where, faults)
        if day and cohort and count is not None and self._first(day, cohort, where, faults):
            return DemandLine(day, cohort, count)
        return None

    def allocation(
        self, elem: etree._Element, where: str, faults: FaultList
    ) -> AllocationLine | None:
        """An ``Allocation``: the installations wanted and allocated on a day."""
        day = parse_day(elem.get("day", ""), "day", where, faults)
        cohort = _cohort(elem.get("cohort", ""), where, faults)
        wanted = parse_count(elem.get("demand", ""), "demand", where, faults)
        allocated = parse_count(elem.get("allocated", ""), "allocated", where, faults)
        if (
            day
            and cohort
            and wanted is not None
            and allocated is not None
            and self._first(day, cohort, where, faults)
        ):
            return AllocationLine(day, cohort, wanted, allocated)
        return None

    def _first(self, day: date, cohort: str, where: str, faults: FaultList) -> bool:
        if (day, cohort) in self._seen:
            faults.add(where, f"{cohort} on {day.isoformat()} appears more than once")
            return False
        self._seen.add((day, cohort))
        return True


def _cohort(name: str, where: str, faults: FaultList) -> str | None:
    if name not in COHORTS:
        faults.add(where, f"cohort {name!r} is not one of {', '.join(COHORTS)}")
        return None
    return name
