"""Building DUIS responses, and the project's problem document for requests past answering.

Rules:
- a response is a DUIS V5.4 ``Response`` (prefix ``sr``, ``schemaVersion`` 5.4): Header
  (RequestID?, ResponseID?, ResponseCode, ResponseDateTime in UTC with milliseconds and ``Z``),
  then Body/ResponseMessage (ServiceReference, ServiceReferenceVariant, then at most one body
  element), in the schema's order, ready for ``xmldsig.sign``;
- documents are compact: no whitespace between elements, because DCC's tools sign and check
  the compact form;
- what a Response must name (its service reference variant) the caller gives; a request so
  broken that none can be named is answered with ``problem_document`` instead (HTTP 400);
- texts that may echo hostile input (the problem message) are made XML-safe and cut to their
  schema's bound, never refused; times must be timezone-aware.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, SCHEMA_VERSION, InventoryDevice, ResponseCode
from s1adopt.domain.identities import Eui64

PROBLEM_NAMESPACE = "urn:s1adopt:duis-problem:v1"
PROBLEM_SCHEMA_VERSION = "1.0"
MAX_INVENTORY_DEVICES = 17  # DSPInventory holds 1 to 17 devices
MAX_SCHEDULES = 99  # DSPSchedulesRead holds 1 to 99 schedules
_NS = "{" + DUIS_NAMESPACE + "}"
_NSMAP = {"sr": DUIS_NAMESPACE}
_P = "{" + PROBLEM_NAMESPACE + "}"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
_PROBLEM_TEXT_LIMIT = 1000
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SRV = re.compile(r"[1-9][0-9]?\.[1-9][0-9]?(\.[1-9][0-9]?)?")
# The SMI statuses DUIS's DeviceStatus can carry (NotApplicable is the SMI's own: left out).
_DEVICE_STATUSES = frozenset(
    {
        "Pending",
        "Whitelisted",
        "InstalledNotCommissioned",
        "Commissioned",
        "Decommissioned",
        "Withdrawn",
        "Suspended",
        "Recovery",
        "Recovered",
    }
)


@dataclass(frozen=True, slots=True)
class LogPeriodOffset:
    """The period a scheduled log read covers, in days before the run and times of day."""

    start_offset_days: int  # 0 to -400
    start_time: time
    end_offset_days: int
    end_time: time


@dataclass(frozen=True, slots=True)
class ScheduleEntry:
    """A DCC schedule as Read Schedule (5.2) lists it."""

    schedule_id: int
    device_id: Eui64
    service_reference_variant: str  # of the scheduled request, e.g. 4.8.1
    command: str  # the DSP element naming what runs, e.g. DSPReadActiveImportProfileData
    frequency: str  # Daily, Weekly, Monthly, Quarterly, Half-Yearly, Yearly
    start_date: date
    end_date: date | None = None
    execution_start_time: time | None = None
    period: LogPeriodOffset | None = None  # for the commands reading a log


def response(
    request_id: str | None,
    code: ResponseCode,
    srv: str | None,
    service_reference: str | None,
    at: datetime,
    body: etree._Element | None = None,
    response_id: str | None = None,
) -> etree._Element:
    """A DUIS ``Response`` naming the request, the code and the SRV, with an optional body.

    ``service_reference`` None means the SRV's first two parts (4.1 for 4.1.1). ``srv`` must
    be given: a DUIS Response cannot be valid without it (use ``problem_document``).
    """
    if srv is None or _SRV.fullmatch(srv) is None:
        raise ValueError(
            f"a DUIS Response must name a service reference variant, not {srv!r}; "
            "answer with problem_document instead"
        )
    root = etree.Element(_NS + "Response", {"schemaVersion": SCHEMA_VERSION}, nsmap=_NSMAP)
    header = etree.SubElement(root, _NS + "Header")
    if request_id is not None:
        etree.SubElement(header, _NS + "RequestID").text = request_id
    if response_id is not None:
        etree.SubElement(header, _NS + "ResponseID").text = response_id
    etree.SubElement(header, _NS + "ResponseCode").text = code.value
    etree.SubElement(header, _NS + "ResponseDateTime").text = _timestamp(at)
    message = etree.SubElement(etree.SubElement(root, _NS + "Body"), _NS + "ResponseMessage")
    reference = service_reference if service_reference is not None else service_reference_of(srv)
    etree.SubElement(message, _NS + "ServiceReference").text = reference
    etree.SubElement(message, _NS + "ServiceReferenceVariant").text = srv
    if body is not None:
        message.append(body)
    return root


def service_reference_of(srv: str) -> str:
    """The service reference of a service reference variant: ``4.1`` for ``4.1.1``."""
    return ".".join(srv.split(".")[:2])


def inventory(devices: Sequence[InventoryDevice]) -> etree._Element:
    """The ``DSPInventory`` of a Read Inventory (8.2) success: 1 to 17 devices.

    An empty or longer list raises ``ValueError``: the caller answers those otherwise.
    """
    if not 1 <= len(devices) <= MAX_INVENTORY_DEVICES:
        raise ValueError(
            f"a DSPInventory lists 1 to {MAX_INVENTORY_DEVICES} devices, not {len(devices)}"
        )
    root = etree.Element(_NS + "DSPInventory", nsmap=_NSMAP)
    for device in devices:
        _device(etree.SubElement(root, _NS + "Device"), device)
    return root


def schedules(entries: Sequence[ScheduleEntry]) -> etree._Element:
    """The ``DSPSchedulesRead`` of a Read Schedule (5.2) success: 1 to 99 schedules.

    With no schedule there is no body: the caller answers without one.
    """
    if not 1 <= len(entries) <= MAX_SCHEDULES:
        raise ValueError(
            f"DSPSchedulesRead lists 1 to {MAX_SCHEDULES} schedules, not {len(entries)}"
        )
    root = etree.Element(_NS + "DSPSchedulesRead", nsmap=_NSMAP)
    for entry in entries:
        item = etree.SubElement(root, _NS + "DSPSchedules")
        _add(item, "DSPScheduleID", str(entry.schedule_id))
        details = etree.SubElement(item, _NS + "DSPScheduleDetails")
        _add(details, "ScheduleFrequency", entry.frequency)
        _add(details, "ScheduleStartDate", entry.start_date.isoformat())
        if entry.end_date is not None:
            _add(details, "ScheduleEndDate", entry.end_date.isoformat())
        if entry.execution_start_time is not None:
            _add(details, "ScheduleExecutionStartTime", _time(entry.execution_start_time))
        srv = entry.service_reference_variant
        _add(details, "DSPScheduledServiceReference", service_reference_of(srv))
        _add(details, "DSPScheduledServiceReferenceVariant", srv)
        _add(details, "DeviceID", entry.device_id.value)
        command = etree.SubElement(details, _NS + entry.command)
        if entry.period is not None:
            period = entry.period
            _add(command, "StartDateOffset", str(period.start_offset_days))
            _add(command, "StartTime", _time(period.start_time))
            _add(command, "EndDateOffset", str(period.end_offset_days))
            _add(command, "EndTime", _time(period.end_time))
    return root


def serialise(root: etree._Element) -> bytes:
    """The document as compact UTF-8 with an XML declaration (for unsigned documents)."""
    return _DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def problem_document(code: ResponseCode, message: str) -> bytes:
    """The project's own answer (namespace ``urn:s1adopt:duis-problem:v1``, schema
    ``xsd/duis-problem-v1.xsd``) to a request no DUIS Response can answer: its code, what the
    code means, and what is wrong with this request."""
    root = etree.Element(
        _P + "Problem", {"schemaVersion": PROBLEM_SCHEMA_VERSION}, nsmap={"p": PROBLEM_NAMESPACE}
    )
    etree.SubElement(root, _P + "Code").text = code.value
    etree.SubElement(root, _P + "Meaning").text = _safe_text(code.meaning)
    etree.SubElement(root, _P + "Message").text = _safe_text(message)
    return serialise(root)


# --- helpers ------------------------------------------------------------------------------------


def _device(element: etree._Element, device: InventoryDevice) -> None:
    """The Device elements in the schema's order (the optional ones left out when unknown)."""
    _add(element, "DeviceID", device.device_id.value)
    _add(element, "DeviceType", device.device_type)
    if device.status in _DEVICE_STATUSES:
        _add(element, "DeviceStatus", device.status)
    _add(element, "DeviceManufacturer", device.manufacturer)
    _add(element, "DeviceModel", device.model)
    if device.firmware_version:
        _add(element, "DeviceFirmwareVersion", device.firmware_version)
    if device.date_commissioned is not None:
        _add(element, "DateCommissioned", device.date_commissioned.isoformat())
    if device.import_mpxn:
        _add(element, "ImportMPxN", device.import_mpxn)
    if device.csp_region:
        _add(element, "CSPRegion", device.csp_region)
    if device.s1sp:
        _add(element, "S1SP", device.s1sp)


def _add(parent: etree._Element, name: str, text: str) -> None:
    etree.SubElement(parent, _NS + name).text = text


def _timestamp(at: datetime) -> str:
    """``at`` in UTC with milliseconds and ``Z``, as DCC writes ResponseDateTime."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a response time must be timezone-aware")
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _time(value: time) -> str:
    return value.replace(microsecond=0, tzinfo=None).isoformat()


def _safe_text(text: str) -> str:
    """``text`` without characters XML cannot hold, cut to the problem schema's bound."""
    cleaned = _NOT_XML.sub("?", text).strip() or "-"
    if len(cleaned) > _PROBLEM_TEXT_LIMIT:
        cleaned = cleaned[: _PROBLEM_TEXT_LIMIT - 3] + "..."
    return cleaned
