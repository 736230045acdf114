"""Reading DUIS service requests: the safe parse, the header, and the bodies the gateway answers.

Rules:
- a request is bounded in size, UTF-8 (or declared UTF-8 or ASCII), and has no document type
  declaration, so no entity can be declared, expanded or fetched (``formats.safe_xml``'s
  prolog check); libxml2 then parses it with entity resolution, DTD loading and network access
  off and its default limits on depth and text size (``huge_tree`` off);
- every problem with the bytes raises ``MalformedRequest`` (answered E1000) with a short
  message free of lxml's wording; a body field that is not a valid identity or value raises
  ``InvalidField`` (answered E1001, ``code`` says so) naming the field;
- ``read_header`` works on documents no schema has accepted yet (an E1001 answer must still
  name the request's service reference variant), so it assumes no structure it does not check;
- the body readers return the domain's values, identities canonical; they check what they
  read even after schema validation, as a second line;
- parsing is on the hot path: one parser per thread, no copy of the input beyond the prolog.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lxml import etree

from s1adopt.domain.duis import (
    DUIS_NAMESPACE,
    DeviceTarget,
    InventoryQuery,
    InventoryUpdate,
    InventoryUpdateKind,
    PreNotification,
    RequestRejected,
    ResponseCode,
    ScheduleQuery,
)
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.formats.safe_xml import PROLOG_LIMIT, DocumentRejected, check_prolog

_NS = "{" + DUIS_NAMESPACE + "}"
_REQUEST, _HEADER, _BODY = _NS + "Request", _NS + "Header", _NS + "Body"
_HEADER_FIELDS = {
    _NS + name: name
    for name in (
        "RequestID",
        "FirstInSequence",
        "PrecedingServiceRequestID",
        "CommandVariant",
        "ServiceReference",
        "ServiceReferenceVariant",
    )
}
_MESSAGE_LIMIT = 300
_POSITION = re.compile(r",? line \d+, column \d+\s*$")  # libxml2's suffix: the line is said first
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_DIGITS = re.compile(r"[0-9]+")
_MAX_SCHEDULE_ID = 10**12
DEVICE_TYPES = frozenset({"ESME", "GSME", "GPF", "CHF", "HCALCS", "PPMID", "IHD", "CAD"})
STATUSES_EXCEPT_CH = frozenset({"Pending", "InstalledNotCommissioned"})
STATUSES_CH = frozenset({"Commissioned", "Withdrawn", "InstalledNotCommissioned"})
_local = threading.local()


class MalformedRequest(RequestRejected):
    """The request is not safe, well-formed XML of the right size and encoding, or not a DUIS
    request at all (answered E1000; ``code`` says which code to answer)."""

    def __init__(self, message: str) -> None:
        super().__init__(ResponseCode.MALFORMED, message)


class InvalidField(MalformedRequest):
    """A field of the request is not a valid value (an EUI-64, an MPAN, a selector missing):
    answered E1001 like a schema failure; ``field`` names it as ``Body/Field``."""

    def __init__(self, field: str, message: str) -> None:
        RequestRejected.__init__(self, ResponseCode.SCHEMA_INVALID, f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """What the gateway reads of a request before any check: texts as sent (stripped), or None
    where the request lacks them."""

    request_id: str | None
    command_variant: str | None
    service_reference: str | None
    service_reference_variant: str | None
    body_name: str | None  # the body element's local name, when it is in the DUIS namespace
    body: etree._Element | None  # the body element (the Body's first element)
    schema_version: str | None
    first_in_sequence: str | None = None
    preceding_request_id: str | None = None


def parse_request(data: bytes, max_bytes: int) -> etree._Element:
    """The root element of a request, parsed safely; ``MalformedRequest`` says what is wrong.

    Refused: more than ``max_bytes``, another encoding than UTF-8 (or ASCII), a DTD, anything
    that is not well-formed XML.
    """
    size = len(data)
    if size == 0:
        raise MalformedRequest("request: empty; send a DUIS request as XML")
    if size > max_bytes:
        raise MalformedRequest(f"request: {size:,} bytes, larger than the limit of {max_bytes:,}")
    try:
        check_prolog(data[:PROLOG_LIMIT], "request")
    except DocumentRejected as exc:
        raise MalformedRequest(str(exc)) from exc
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MalformedRequest(_syntax_problem(exc)) from exc
    except (etree.LxmlError, ValueError) as exc:
        raise MalformedRequest("request: not well-formed XML") from exc
    if root.getroottree().docinfo.internalDTD is not None:  # the prolog check's second line
        raise MalformedRequest("request: document type declarations (DTDs) are not allowed")
    return root


def read_header(root: etree._Element) -> RequestHeader:
    """The header fields, the body element and the schema version of a parsed request.

    ``MalformedRequest`` when the root is not a DUIS ``Request`` or it has no ``Header``; a
    missing field is None (the schema names it).
    """
    if root.tag != _REQUEST:
        raise MalformedRequest(
            f"request: the root element is {_display(root)}; a DUIS request's is Request in "
            f"the namespace {DUIS_NAMESPACE}"
        )
    header = body = None
    for child in root:  # faster than find(), which goes through ElementPath
        tag = child.tag
        if tag == _HEADER and header is None:
            header = child
        elif tag == _BODY and body is None:
            body = child
    if header is None:
        raise MalformedRequest("request: there is no Header (RequestID, CommandVariant, ...)")
    fields: dict[str, str] = {}
    for child in header:
        name = _HEADER_FIELDS.get(child.tag)  # None for a comment: its tag is not a string
        if name is not None and name not in fields:
            fields[name] = (child.text or "").strip()
    body_element = None
    if body is not None:
        for child in body:
            if isinstance(child.tag, str):
                body_element = child
                break
    body_name = None
    if body_element is not None and body_element.tag.startswith(_NS):
        body_name = body_element.tag[len(_NS) :]
    get = fields.get
    return RequestHeader(
        request_id=get("RequestID"),
        command_variant=get("CommandVariant"),
        service_reference=get("ServiceReference"),
        service_reference_variant=get("ServiceReferenceVariant"),
        body_name=body_name,
        body=body_element,
        schema_version=root.get("schemaVersion"),
        first_in_sequence=get("FirstInSequence"),
        preceding_request_id=get("PrecedingServiceRequestID"),
    )


# --- bodies -------------------------------------------------------------------------------------


def read_inventory_query(body: etree._Element) -> InventoryQuery:
    """8.2 Read Inventory: exactly one of DeviceID, MPxN, UPRN or PropertyFilter."""
    fields = _fields(body, "ReadInventory", ("DeviceID", "MPxN", "UPRN", "PropertyFilter"))
    if len(fields) != 1:
        raise InvalidField(
            "ReadInventory", "must hold exactly one of DeviceID, MPxN, UPRN or PropertyFilter"
        )
    if "DeviceID" in fields:
        return InventoryQuery(device_id=_eui("ReadInventory/DeviceID", fields["DeviceID"]))
    if "MPxN" in fields:
        return InventoryQuery(mpxn=_mpxn("ReadInventory/MPxN", fields["MPxN"]))
    if "UPRN" in fields:
        return InventoryQuery(uprn=_uprn("ReadInventory/UPRN", fields["UPRN"]))
    where = "ReadInventory/PropertyFilter"
    parts = _fields(fields["PropertyFilter"], where, ("PostCode", "AddressIdentifier"))
    postcode = _text(where + "/PostCode", _required(parts, where, "PostCode"), 6, 8)
    address = _text(where + "/AddressIdentifier", _required(parts, where, "AddressIdentifier"))
    return InventoryQuery(postcode=postcode, address_identifier=address)


def read_device_target(body: etree._Element) -> DeviceTarget:
    """8.3 Decommission Device, and any body naming its one device in a DeviceID child."""
    where = _local_name(body)
    device = body.find(_NS + "DeviceID")
    if device is None:
        raise InvalidField(where + "/DeviceID", "is missing")
    return DeviceTarget(_eui(where + "/DeviceID", device))


def read_pre_notification(body: etree._Element) -> PreNotification:
    """12.2 Device Pre-notification: the device a user will install."""
    where = "DevicePrenotification"
    fields = _fields(
        body,
        where,
        (
            "DeviceID",
            "DeviceManufacturer",
            "DeviceModel",
            "DeviceType",
            "SMETSCHTSVersion",
            "FirmwareVersion",
            "ESMEVariant",
            "AssociatedGPFDeviceID",
        ),
    )
    device_type = _text(where + "/DeviceType", _required(fields, where, "DeviceType"))
    if device_type not in DEVICE_TYPES:
        raise InvalidField(where + "/DeviceType", f"{device_type[:40]!r} is not a device type")
    gpf = fields.get("AssociatedGPFDeviceID")
    return PreNotification(
        device_id=_eui(where + "/DeviceID", _required(fields, where, "DeviceID")),
        manufacturer=_text(
            where + "/DeviceManufacturer", _required(fields, where, "DeviceManufacturer"), 0, 30
        ),
        model=_text(where + "/DeviceModel", _required(fields, where, "DeviceModel"), 0, 30),
        device_type=device_type,
        smets_chts_version=_optional(fields, where, "SMETSCHTSVersion", 20),
        firmware_version=_optional(fields, where, "FirmwareVersion", 8),
        esme_variant=_optional(fields, where, "ESMEVariant", 4),
        associated_gpf=_eui(where + "/AssociatedGPFDeviceID", gpf) if gpf is not None else None,
    )


def read_inventory_update(body: etree._Element) -> InventoryUpdate:
    """8.4 Update Inventory: the device, then one change (its status, its details, its deletion
    or its meter point)."""
    where = "UpdateInventory"
    changes = (
        "UpdateDeviceStatusExceptCH",
        "UpdateDeviceStatusCH",
        "UpdateDeviceDetails",
        "DeleteDevice",
        "UpdateMPxN",
    )
    fields = _fields(body, where, ("DeviceID", *changes))
    device_id = _eui(where + "/DeviceID", _required(fields, where, "DeviceID"))
    given = [name for name in changes if name in fields]
    if len(given) != 1:
        raise InvalidField(where, f"must hold exactly one of {', '.join(changes)}")
    change = given[0]
    element = fields[change]
    if change in ("UpdateDeviceStatusExceptCH", "UpdateDeviceStatusCH"):
        allowed = STATUSES_CH if change == "UpdateDeviceStatusCH" else STATUSES_EXCEPT_CH
        status = _text(f"{where}/{change}", element)
        if status not in allowed:
            raise InvalidField(
                f"{where}/{change}",
                f"{status[:40]!r} is not one of {', '.join(sorted(allowed))}",
            )
        return InventoryUpdate(device_id, InventoryUpdateKind.STATUS, status=status)
    if change == "DeleteDevice":
        if len(element) or (element.text or "").strip():
            raise InvalidField(f"{where}/DeleteDevice", "must be empty")
        return InventoryUpdate(device_id, InventoryUpdateKind.DELETE)
    if change == "UpdateDeviceDetails":
        inner = f"{where}/UpdateDeviceDetails"
        details = _fields(
            element,
            inner,
            (
                "DeviceManufacturer",
                "DeviceModel",
                "SMETSCHTSVersion",
                "FirmwareVersion",
                "ESMEVariant",
            ),
        )
        return InventoryUpdate(
            device_id,
            InventoryUpdateKind.DETAILS,
            manufacturer=_optional(details, inner, "DeviceManufacturer", 30, 0),
            model=_optional(details, inner, "DeviceModel", 30, 0),
            smets_chts_version=_optional(details, inner, "SMETSCHTSVersion", 20),
            firmware_version=_optional(details, inner, "FirmwareVersion", 8),
            esme_variant=_optional(details, inner, "ESMEVariant", 4),
        )
    inner = f"{where}/UpdateMPxN"
    points = _fields(element, inner, ("ImportMPxN", "SecondaryImportMPAN", "ExportMPAN"))
    if len(points) != 1:
        raise InvalidField(
            inner, "must hold exactly one of ImportMPxN, SecondaryImportMPAN or ExportMPAN"
        )
    (name, point), *_ = points.items()
    if name == "ImportMPxN":
        return InventoryUpdate(
            device_id, InventoryUpdateKind.MPXN, import_mpxn=_mpxn(f"{inner}/{name}", point)
        )
    mpan = _mpan(f"{inner}/{name}", point)
    if name == "SecondaryImportMPAN":
        return InventoryUpdate(device_id, InventoryUpdateKind.MPXN, secondary_import_mpan=mpan)
    return InventoryUpdate(device_id, InventoryUpdateKind.MPXN, export_mpan=mpan)


def read_schedule_query(body: etree._Element) -> ScheduleQuery:
    """5.2 Read Schedule: by DSPScheduleID or by DeviceID."""
    where = "ReadSchedule"
    fields = _fields(body, where, ("DSPScheduleID", "DeviceID"))
    if len(fields) != 1:
        raise InvalidField(where, "must hold exactly one of DSPScheduleID or DeviceID")
    if "DeviceID" in fields:
        return ScheduleQuery(device_id=_eui(where + "/DeviceID", fields["DeviceID"]))
    text = _text(where + "/DSPScheduleID", fields["DSPScheduleID"])
    if _DIGITS.fullmatch(text) is None or int(text) > _MAX_SCHEDULE_ID:
        raise InvalidField(
            where + "/DSPScheduleID", f"{text[:40]!r} is not a schedule id (0 to 10^12)"
        )
    return ScheduleQuery(schedule_id=int(text))


# --- helpers ------------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    """This thread's parser (an lxml parser must not be used by two threads at once)."""
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        # The encoding is forced so that libxml2 reads the same characters as the prolog check.
        parser = _local.parser = etree.XMLParser(
            encoding="UTF-8",
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            collect_ids=False,
        )
    return parser


def _syntax_problem(exc: etree.XMLSyntaxError) -> str:
    message = _POSITION.sub("", _CONTROL.sub(" ", exc.msg or "")).strip() or "syntax error"
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "..."
    line = exc.lineno
    where = f"line {line}: " if line else ""
    return f"request: not well-formed XML: {where}{message}"


def _display(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return "not an element"
    name = etree.QName(tag)
    text = f"{name.localname} in the namespace {name.namespace}" if name.namespace else tag
    return _CONTROL.sub(" ", text)[:200]


def _local_name(element: etree._Element) -> str:
    tag = element.tag
    return tag[len(_NS) :] if isinstance(tag, str) and tag.startswith(_NS) else "Body"


def _fields(
    element: etree._Element, where: str, allowed: tuple[str, ...]
) -> dict[str, etree._Element]:
    """The element children of ``element`` by local name; each DUIS, allowed and single."""
    expected = where.rsplit("/", 1)[-1]
    if _local_name(element) != expected:
        raise InvalidField(where, f"expected a {expected} element, found {_display(element)}")
    found: dict[str, etree._Element] = {}
    for child in element:
        tag = child.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        name = tag[len(_NS) :] if tag.startswith(_NS) else None
        if name is None or name not in allowed:
            raise InvalidField(where, f"{_display(child)} is not expected here")
        if name in found:
            raise InvalidField(f"{where}/{name}", "appears more than once")
        found[name] = child
    return found


def _required(fields: dict[str, etree._Element], where: str, name: str) -> etree._Element:
    element = fields.get(name)
    if element is None:
        raise InvalidField(f"{where}/{name}", "is missing")
    return element


def _text(field: str, element: etree._Element, least: int = 1, most: int = 1000) -> str:
    if len(element):
        raise InvalidField(field, "must hold text only")
    text = (element.text or "").strip()
    if not least <= len(text) <= most:
        limits = f"at most {most}" if least == 0 else f"{least} to {most}"
        raise InvalidField(field, f"must be {limits} characters long")
    return text


def _optional(
    fields: dict[str, etree._Element], where: str, name: str, most: int, least: int = 1
) -> str | None:
    element = fields.get(name)
    return None if element is None else _text(f"{where}/{name}", element, least, most)


def _eui(field: str, element: etree._Element) -> Eui64:
    text = _text(field, element, 1, 64)
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        raise InvalidField(field, str(exc)) from exc


def _mpxn(field: str, element: etree._Element) -> str:
    """An import meter point: an MPAN core (13 digits) or an MPRN (6 to 10), checked."""
    text = _text(field, element, 1, 13)
    try:
        if len(text) == 13:
            return Mpan.parse(text).core
        return Mprn.parse(text).value
    except InvalidIdentity as exc:
        raise InvalidField(field, f"not an MPAN core or an MPRN: {exc}") from exc


def _mpan(field: str, element: etree._Element) -> str:
    try:
        return Mpan.parse(_text(field, element, 13, 13)).core
    except InvalidIdentity as exc:
        raise InvalidField(field, str(exc)) from exc


def _uprn(field: str, element: etree._Element) -> str:
    text = _text(field, element, 1, 64)
    if _DIGITS.fullmatch(text) is None or not 0 < int(text) < 10**12:
        raise InvalidField(field, f"{text!r} is not a UPRN (a positive number of 1 to 12 digits)")
    return str(int(text))
