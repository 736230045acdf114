"""The bodies of the DCC schedule requests: 5.1 Create Schedule and 5.3 Delete Schedule.

Rules: every field is checked as the DUIS V5.4 schema types it (dates, times, the frequency
enumeration, the EUI-64, offsets of 0 to -400 days, a schedule id of 0 to 10^12); the DSP
element must be the one of the scheduled SRV (``domain.schedules.SCHEDULED_COMMANDS``), and a
log read's element must hold its period. A field that is wrong raises ``InvalidField``
naming it. ``create_schedule_body`` builds the body for users' tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time

from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.domain.schedules import FREQUENCIES, SCHEDULED_COMMANDS, LogPeriod, ScheduleInvalid
from s1adopt.formats.duis.requests import InvalidField
from s1adopt.formats.duis.responses import service_reference_of

_NS = "{" + DUIS_NAMESPACE + "}"
_DIGITS = re.compile(r"-?[0-9]{1,4}")
MAX_SCHEDULE_ID = 10**12


@dataclass(frozen=True, slots=True)
class ScheduleRequest:
    """What a Create Schedule (5.1) asks for."""

    frequency: str
    start_date: date
    end_date: date | None
    execution_time: time | None
    srv: str
    device_id: Eui64
    command: str
    period: LogPeriod | None


def read_create_schedule(body: etree._Element) -> ScheduleRequest:
    """The schedule a CreateSchedule body asks for (``InvalidField`` names what is wrong)."""
    where = "CreateSchedule"
    fields = _children(body, where)
    frequency = _text(fields, where, "ScheduleFrequency")
    if frequency not in FREQUENCIES:
        raise InvalidField(f"{where}/ScheduleFrequency", f"{frequency[:40]!r} is not a frequency")
    start = _date(fields, where, "ScheduleStartDate")
    assert start is not None  # required
    end = _date(fields, where, "ScheduleEndDate", required=False)
    if end is not None and end < start:
        raise InvalidField(f"{where}/ScheduleEndDate", "comes before the start date")
    at = _time(fields, where, "ScheduleExecutionStartTime", required=False)
    srv = _text(fields, where, "DSPScheduledServiceReferenceVariant")
    reference = _text(fields, where, "DSPScheduledServiceReference")
    if reference != service_reference_of(srv):
        raise InvalidField(f"{where}/DSPScheduledServiceReference", f"does not go with {srv}")
    device = _eui(fields, where, "DeviceID")
    known = SCHEDULED_COMMANDS.get(srv)
    if known is None:
        scheduled = ", ".join(sorted(SCHEDULED_COMMANDS))
        raise InvalidField(
            f"{where}/DSPScheduledServiceReferenceVariant",
            f"SRV {srv} cannot be scheduled for SMETS1 devices here (these can: {scheduled})",
        )
    command, reads_log = known
    element = fields.get(command)
    if element is None:
        raise InvalidField(where, f"SRV {srv} is scheduled with a {command} element")
    period = _period(element, f"{where}/{command}") if reads_log else None
    return ScheduleRequest(frequency, start, end, at, srv, device, command, period)


def read_delete_schedule(body: etree._Element) -> tuple[int | None, Eui64 | None]:
    """(DSPScheduleID, DeviceID) of a DeleteSchedule body: exactly one of them is given."""
    where = "DeleteSchedule"
    fields = _children(body, where)
    if len(fields) != 1 or not set(fields) <= {"DSPScheduleID", "DeviceID"}:
        raise InvalidField(where, "must hold exactly one of DSPScheduleID or DeviceID")
    if "DeviceID" in fields:
        return None, _eui(fields, where, "DeviceID")
    text = _text(fields, where, "DSPScheduleID")
    if not text.isdigit() or int(text) > MAX_SCHEDULE_ID:
        raise InvalidField(f"{where}/DSPScheduleID", f"{text[:40]!r} is not a schedule id")
    return int(text), None


def create_schedule_body(request: ScheduleRequest) -> etree._Element:
    """A CreateSchedule body for ``request`` (for users' tools)."""
    root = etree.Element(_NS + "CreateSchedule", nsmap={"sr": DUIS_NAMESPACE})
    _add(root, "ScheduleFrequency", request.frequency)
    _add(root, "ScheduleStartDate", request.start_date.isoformat())
    if request.end_date is not None:
        _add(root, "ScheduleEndDate", request.end_date.isoformat())
    if request.execution_time is not None:
        _add(root, "ScheduleExecutionStartTime", request.execution_time.isoformat())
    _add(root, "DSPScheduledServiceReference", service_reference_of(request.srv))
    _add(root, "DSPScheduledServiceReferenceVariant", request.srv)
    _add(root, "DeviceID", request.device_id.value)
    command = etree.SubElement(root, _NS + request.command)
    if request.period is not None:
        p = request.period
        _add(command, "StartDateOffset", str(p.start_offset_days))
        _add(command, "StartTime", p.start_time.isoformat())
        _add(command, "EndDateOffset", str(p.end_offset_days))
        _add(command, "EndTime", p.end_time.isoformat())
    return root


def delete_schedule_body(
    schedule_id: int | None = None, device: Eui64 | None = None
) -> etree._Element:
    """A DeleteSchedule body naming one schedule or every schedule of a device."""
    if (schedule_id is None) == (device is None):
        raise ValueError("name either the schedule or the device")
    root = etree.Element(_NS + "DeleteSchedule", nsmap={"sr": DUIS_NAMESPACE})
    if schedule_id is not None:
        _add(root, "DSPScheduleID", str(schedule_id))
    else:
        assert device is not None
        _add(root, "DeviceID", device.value)
    return root


# --- helpers ------------------------------------------------------------------------------------


def _children(element: etree._Element, where: str) -> dict[str, etree._Element]:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag != _NS + where:
        raise InvalidField(where, f"expected a {where} element")
    found: dict[str, etree._Element] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if not child.tag.startswith(_NS):
            raise InvalidField(where, "holds an element outside the DUIS namespace")
        name = child.tag[len(_NS) :]
        if name in found:
            raise InvalidField(f"{where}/{name}", "appears more than once")
        found[name] = child
    return found


def _text(fields: dict[str, etree._Element], where: str, name: str) -> str:
    element = fields.get(name)
    if element is None:
        raise InvalidField(f"{where}/{name}", "is missing")
    text = (element.text or "").strip()
    if not text or len(text) > 64 or len(element):
        raise InvalidField(f"{where}/{name}", "must hold 1 to 64 characters of text")
    return text


def _date(
    fields: dict[str, etree._Element], where: str, name: str, required: bool = True
) -> date | None:
    if not required and name not in fields:
        return None
    text = _text(fields, where, name)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidField(f"{where}/{name}", f"{text!r} is not a date (YYYY-MM-DD)") from exc


def _time(
    fields: dict[str, etree._Element], where: str, name: str, required: bool = True
) -> time | None:
    if not required and name not in fields:
        return None
    text = _text(fields, where, name)
    try:
        value = time.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidField(f"{where}/{name}", f"{text!r} is not a time (HH:MM:SS)") from exc
    return value.replace(tzinfo=None)


def _eui(fields: dict[str, etree._Element], where: str, name: str) -> Eui64:
    text = _text(fields, where, name)
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        raise InvalidField(f"{where}/{name}", str(exc)) from exc


def _period(element: etree._Element, where: str) -> LogPeriod:
    fields = {
        c.tag[len(_NS) :]: c for c in element if isinstance(c.tag, str) and c.tag.startswith(_NS)
    }
    offsets = []
    for name in ("StartDateOffset", "EndDateOffset"):
        text = _text(fields, where, name)
        if _DIGITS.fullmatch(text) is None:
            raise InvalidField(f"{where}/{name}", f"{text!r} is not a day offset")
        offsets.append(int(text))
    start_time = _time(fields, where, "StartTime")
    end_time = _time(fields, where, "EndTime")
    assert start_time is not None
    assert end_time is not None
    period = LogPeriod(offsets[0], start_time, offsets[1], end_time)
    try:
        period.check()
    except ScheduleInvalid as exc:
        raise InvalidField(where, str(exc)) from exc
    return period


def _add(parent: etree._Element, name: str, text: str) -> None:
    etree.SubElement(parent, _NS + name).text = text
