"""DUIS documents: the gateway's safe reading of requests, its schemas (its own, and the official
V5.4 ones configured from the public material), and the responses it builds.

The official schemas, templates and samples are read here, in the tests, never by the product.
"""

from __future__ import annotations

import re
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from s1adopt.domain.duis import (
    DUIS_NAMESPACE,
    DeviceTarget,
    InventoryDevice,
    InventoryQuery,
    InventoryUpdate,
    InventoryUpdateKind,
    PreNotification,
    RequestRejected,
    ResponseCode,
    ScheduleQuery,
)
from s1adopt.domain.errors import ConfigurationError, S1AdoptError
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.formats.duis import responses, schemas
from s1adopt.formats.duis.requests import (
    InvalidField,
    MalformedRequest,
    parse_request,
    read_device_target,
    read_header,
    read_inventory_query,
    read_inventory_update,
    read_pre_notification,
    read_schedule_query,
)

DUIS = Path(__file__).resolve().parents[3] / "shared" / "duis"
SCHEMA_DIR = DUIS / "schema"
TEMPLATES = sorted((DUIS / "templates").glob("*.XML"))
SAMPLES = sorted((DUIS / "samples").iterdir())
SR = f"{{{DUIS_NAMESPACE}}}"
LIMIT = 64 * 1024
REQUEST_ID = "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1000"
AT = datetime(2026, 11, 29, 9, 30, 15, 123456, tzinfo=UTC)
METER = Eui64.parse("00-DB-12-34-56-78-90-A2")
MPAN = Mpan.with_check_digit("123456789012").core
MPRN = Mprn.with_check_digits("12345678").value


@pytest.fixture(scope="module")
def official() -> schemas.OfficialSchemas:
    return schemas.OfficialSchemas(SCHEMA_DIR)


def template(name: str) -> bytes:
    (path,) = (DUIS / "templates").glob(f"{name}_*REQUEST_DUIS.XML")
    return path.read_bytes()


def request(srv: str, body: str, variant: int = 8) -> bytes:
    """A request of the templates' form with ``body`` (DUIS elements, prefix sr) as its body."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sr:Request xmlns:sr="{DUIS_NAMESPACE}" schemaVersion="5.4"><sr:Header>'
        f"<sr:RequestID>{REQUEST_ID}</sr:RequestID>"
        f"<sr:CommandVariant>{variant}</sr:CommandVariant>"
        f"<sr:ServiceReference>{srv}</sr:ServiceReference>"
        f"<sr:ServiceReferenceVariant>{srv}</sr:ServiceReferenceVariant>"
        f"</sr:Header><sr:Body>{body}</sr:Body></sr:Request>"
    ).encode()


def is_compact(root: etree._Element) -> bool:
    """No whitespace-only text between elements anywhere in the document."""
    for element in root.iter():
        if len(element) and element.text is not None and not element.text.strip():
            return False
        if element is not root and element.tail is not None and not element.tail.strip():
            return False
    return True


def smets1_device(
    number: int, device_type: str = "ESME", status: str = "Commissioned"
) -> InventoryDevice:
    return InventoryDevice(
        device_id=Eui64.from_int(0x00DB123456780000 + number),
        device_type=device_type,
        status=status,
        manufacturer="AB01",
        model="010A030B",
        firmware_version="0002012F" if device_type != "IHD" else None,
        date_commissioned=date(2024, 3, 1),
        import_mpxn=MPAN if device_type == "ESME" else None,
    )


# --- templates ----------------------------------------------------------------------------------


def test_the_public_templates_are_there() -> None:
    assert len(TEMPLATES) > 150
    assert SCHEMA_DIR.joinpath("DUIS_Schema_V5.4.xsd").is_file()


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: path.name)
def test_every_template_parses_reads_its_header_and_validates_against_both_schemas(
    path: Path, official: schemas.OfficialSchemas
) -> None:
    root = parse_request(path.read_bytes(), LIMIT)
    header = read_header(root)
    expected = etree.parse(str(path)).getroot()
    for field in ("RequestID", "CommandVariant", "ServiceReference", "ServiceReferenceVariant"):
        assert expected.findtext(f"{SR}Header/{SR}{field}") is not None
    assert header.request_id == expected.findtext(f"{SR}Header/{SR}RequestID")
    assert header.command_variant == expected.findtext(f"{SR}Header/{SR}CommandVariant")
    assert header.service_reference == expected.findtext(f"{SR}Header/{SR}ServiceReference")
    assert header.service_reference_variant == expected.findtext(
        f"{SR}Header/{SR}ServiceReferenceVariant"
    )
    expected_body = expected.find(f"{SR}Body")
    assert expected_body is not None
    (body,) = expected_body
    assert header.body_name == etree.QName(body).localname
    assert header.body is not None
    assert header.body.tag == body.tag
    assert header.schema_version == "5.4"
    official.validate(root)
    schemas.own_schema().validate(root)


# --- body readers -------------------------------------------------------------------------------


def body_of(data: bytes) -> etree._Element:
    body = read_header(parse_request(data, LIMIT)).body
    assert body is not None
    return body


def test_read_inventory_by_device_reads_the_8_2_template() -> None:
    assert read_inventory_query(body_of(template("8.2_READ_INVENTORY"))) == InventoryQuery(
        device_id=METER
    )


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (f"<sr:MPxN>{MPAN}</sr:MPxN>", InventoryQuery(mpxn=MPAN)),
        (f"<sr:MPxN>{MPRN}</sr:MPxN>", InventoryQuery(mpxn=MPRN)),
        ("<sr:UPRN>123456789012</sr:UPRN>", InventoryQuery(uprn="123456789012")),
        (
            "<sr:PropertyFilter><sr:PostCode>AB1 2CD</sr:PostCode>"
            "<sr:AddressIdentifier>Flat 3</sr:AddressIdentifier></sr:PropertyFilter>",
            InventoryQuery(postcode="AB1 2CD", address_identifier="Flat 3"),
        ),
        (
            "<sr:DeviceID>00-db-12-34-56-78-90-a2</sr:DeviceID>",
            InventoryQuery(device_id=METER),
        ),
    ],
)
def test_read_inventory_reads_each_selector(
    selector: str, expected: InventoryQuery, official: schemas.OfficialSchemas
) -> None:
    data = request("8.2", f"<sr:ReadInventory>{selector}</sr:ReadInventory>")
    root = parse_request(data, LIMIT)
    official.validate(root)
    schemas.own_schema().validate(root)
    assert read_inventory_query(body_of(data)) == expected


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ("<sr:DeviceID>00-DB-12-34-56-78-90</sr:DeviceID>", "ReadInventory/DeviceID"),
        ("<sr:MPxN>1234567890120</sr:MPxN>", "ReadInventory/MPxN"),  # check digit is 8
        ("<sr:MPxN>12345</sr:MPxN>", "ReadInventory/MPxN"),
        ("<sr:UPRN>0</sr:UPRN>", "ReadInventory/UPRN"),
        (f"<sr:DeviceID>{METER}</sr:DeviceID><sr:MPxN>{MPAN}</sr:MPxN>", "ReadInventory"),
        ("", "ReadInventory"),
        (
            "<sr:PropertyFilter><sr:PostCode>AB1 2CD</sr:PostCode></sr:PropertyFilter>",
            "ReadInventory/PropertyFilter/AddressIdentifier",
        ),
    ],
)
def test_read_inventory_names_the_field_that_is_wrong(selector: str, field: str) -> None:
    data = request("8.2", f"<sr:ReadInventory>{selector}</sr:ReadInventory>")
    with pytest.raises(InvalidField) as caught:
        read_inventory_query(body_of(data))
    assert caught.value.field == field
    assert caught.value.code is ResponseCode.SCHEMA_INVALID
    assert str(caught.value).startswith(field + ": ")


def test_decommission_reads_the_8_3_template() -> None:
    assert read_device_target(body_of(template("8.3_DECOMMISSION_DEVICE"))) == DeviceTarget(
        Eui64.parse("00-DB-12-34-56-78-90-A0")
    )


def test_a_body_without_its_device_is_refused_naming_the_field() -> None:
    data = request("8.3", "<sr:DecommissionDevice/>")
    with pytest.raises(InvalidField, match=r"^DecommissionDevice/DeviceID: is missing"):
        read_device_target(body_of(data))


def test_pre_notification_reads_the_12_2_template() -> None:
    body = body_of(template("12.2_DEVICE_PRE_NOTIFICATION"))
    assert read_pre_notification(body) == PreNotification(
        device_id=Eui64.parse("00-DB-12-34-56-78-90-A0"),
        manufacturer="AB01",
        model="010A030B",
        device_type="ESME",
        smets_chts_version="SMETS V1.58",
        firmware_version="0002012F",
        esme_variant="AD",
    )


def test_pre_notification_reads_the_associated_gpf_and_refuses_a_bad_one() -> None:
    fields = (
        "<sr:DeviceID>00-DB-12-34-56-78-90-B0</sr:DeviceID><sr:DeviceManufacturer>AB01"
        "</sr:DeviceManufacturer><sr:DeviceModel>0B01</sr:DeviceModel><sr:DeviceType>GSME"
        "</sr:DeviceType>"
    )
    good = request(
        "12.2",
        f"<sr:DevicePrenotification>{fields}<sr:AssociatedGPFDeviceID>00-DB-12-34-56-78-90-B1"
        "</sr:AssociatedGPFDeviceID></sr:DevicePrenotification>",
    )
    notice = read_pre_notification(body_of(good))
    assert notice.associated_gpf == Eui64.parse("00-DB-12-34-56-78-90-B1")
    assert notice.firmware_version is None
    bad = good.replace(b"90-B1<", b"90-ZZ<")
    with pytest.raises(InvalidField) as caught:
        read_pre_notification(body_of(bad))
    assert caught.value.field == "DevicePrenotification/AssociatedGPFDeviceID"


def test_read_schedule_reads_the_5_2_template_and_a_device_query() -> None:
    assert read_schedule_query(body_of(template("5.2_READ_SCHEDULE"))) == ScheduleQuery(
        schedule_id=123
    )
    data = request("5.2", f"<sr:ReadSchedule><sr:DeviceID>{METER}</sr:DeviceID></sr:ReadSchedule>")
    assert read_schedule_query(body_of(data)) == ScheduleQuery(device_id=METER)


def test_read_schedule_refuses_an_id_out_of_range() -> None:
    data = request(
        "5.2",
        "<sr:ReadSchedule><sr:DSPScheduleID>1000000000001</sr:DSPScheduleID></sr:ReadSchedule>",
    )
    with pytest.raises(InvalidField) as caught:
        read_schedule_query(body_of(data))
    assert caught.value.field == "ReadSchedule/DSPScheduleID"


UPDATES = [
    (
        "<sr:UpdateDeviceStatusExceptCH>InstalledNotCommissioned</sr:UpdateDeviceStatusExceptCH>",
        InventoryUpdate(METER, InventoryUpdateKind.STATUS, status="InstalledNotCommissioned"),
    ),
    (
        "<sr:UpdateDeviceStatusCH>Withdrawn</sr:UpdateDeviceStatusCH>",
        InventoryUpdate(METER, InventoryUpdateKind.STATUS, status="Withdrawn"),
    ),
    (
        "<sr:UpdateDeviceDetails><sr:DeviceModel>010A030C</sr:DeviceModel>"
        "<sr:FirmwareVersion>00020130</sr:FirmwareVersion></sr:UpdateDeviceDetails>",
        InventoryUpdate(
            METER, InventoryUpdateKind.DETAILS, model="010A030C", firmware_version="00020130"
        ),
    ),
    (
        "<sr:UpdateDeviceDetails><sr:DeviceManufacturer>CD02</sr:DeviceManufacturer>"
        "<sr:SMETSCHTSVersion>SMETS V1.58</sr:SMETSCHTSVersion><sr:ESMEVariant>A</sr:ESMEVariant>"
        "</sr:UpdateDeviceDetails>",
        InventoryUpdate(
            METER,
            InventoryUpdateKind.DETAILS,
            manufacturer="CD02",
            smets_chts_version="SMETS V1.58",
            esme_variant="A",
        ),
    ),
    ("<sr:DeleteDevice/>", InventoryUpdate(METER, InventoryUpdateKind.DELETE)),
    (
        f"<sr:UpdateMPxN><sr:ImportMPxN>{MPRN}</sr:ImportMPxN></sr:UpdateMPxN>",
        InventoryUpdate(METER, InventoryUpdateKind.MPXN, import_mpxn=MPRN),
    ),
    (
        f"<sr:UpdateMPxN><sr:SecondaryImportMPAN>{MPAN}</sr:SecondaryImportMPAN></sr:UpdateMPxN>",
        InventoryUpdate(METER, InventoryUpdateKind.MPXN, secondary_import_mpan=MPAN),
    ),
    (
        f"<sr:UpdateMPxN><sr:ExportMPAN>{MPAN}</sr:ExportMPAN></sr:UpdateMPxN>",
        InventoryUpdate(METER, InventoryUpdateKind.MPXN, export_mpan=MPAN),
    ),
]


def update_request(change: str) -> bytes:
    """An Update Inventory (8.4) request of the meter making ``change``."""
    return request(
        "8.4",
        f"<sr:UpdateInventory><sr:DeviceID>{METER}</sr:DeviceID>{change}</sr:UpdateInventory>",
    )


@pytest.mark.parametrize(("change", "expected"), UPDATES)
def test_update_inventory_reads_each_kind_of_change(
    change: str, expected: InventoryUpdate, official: schemas.OfficialSchemas
) -> None:
    data = request(
        "8.4",
        f"<sr:UpdateInventory><sr:DeviceID>{METER}</sr:DeviceID>{change}</sr:UpdateInventory>",
    )
    root = parse_request(data, LIMIT)
    official.validate(root)
    schemas.own_schema().validate(root)
    assert read_inventory_update(body_of(data)) == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            "<sr:UpdateDeviceStatusExceptCH>Commissioned</sr:UpdateDeviceStatusExceptCH>",
            "UpdateInventory/UpdateDeviceStatusExceptCH",
        ),
        (
            "<sr:UpdateDeviceStatusCH>Pending</sr:UpdateDeviceStatusCH>",
            "UpdateInventory/UpdateDeviceStatusCH",
        ),
        (
            "<sr:UpdateMPxN><sr:ExportMPAN>1234567890120</sr:ExportMPAN></sr:UpdateMPxN>",
            "UpdateInventory/UpdateMPxN/ExportMPAN",
        ),
        (
            "<sr:UpdateMPxN><sr:ImportMPxN>1234567</sr:ImportMPxN></sr:UpdateMPxN>",
            "UpdateInventory/UpdateMPxN/ImportMPxN",
        ),
        ("<sr:UpdateMPxN/>", "UpdateInventory/UpdateMPxN"),
        ("", "UpdateInventory"),
        ("<sr:DeleteDevice/><sr:DeleteDevice/>", "UpdateInventory/DeleteDevice"),
        ("<sr:DeleteDevice>now</sr:DeleteDevice>", "UpdateInventory/DeleteDevice"),
        ("<sr:Elsewhere/>", "UpdateInventory"),
    ],
)
def test_update_inventory_names_the_field_that_is_wrong(change: str, field: str) -> None:
    data = request(
        "8.4",
        f"<sr:UpdateInventory><sr:DeviceID>{METER}</sr:DeviceID>{change}</sr:UpdateInventory>",
    )
    with pytest.raises(InvalidField) as caught:
        read_inventory_update(body_of(data))
    assert caught.value.field == field


def test_a_reader_given_another_body_says_so() -> None:
    with pytest.raises(InvalidField, match="expected a ReadInventory element"):
        read_inventory_query(body_of(template("8.3_DECOMMISSION_DEVICE")))


# --- hostile and broken input -------------------------------------------------------------------

VALID = template("8.2_READ_INVENTORY")
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><lolz>&lol9;</lolz>"
)
HOSTILE = {
    "internal DTD": (b"<!DOCTYPE r [<!ELEMENT r ANY>]><r/>", "DTD"),
    "external entity": (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        "DTD",
    ),
    "external DTD": (b'<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r/>', "DTD"),
    "parameter entity": (
        b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://example.invalid/p">%p;]><r/>',
        "DTD",
    ),
    "billion laughs": (BILLION_LAUGHS, "DTD"),
    "DTD after a comment and a PI": (
        b'<?xml version="1.0"?><!-- hello --><?pi x?>\n<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
        "DTD",
    ),
    "undeclared entity": (b"<r>&x;</r>", "not well-formed"),
    "UTF-16": ("<?xml version='1.0' encoding='UTF-16'?><r/>".encode("utf-16"), "UTF-8"),
    "UTF-16 without BOM": ("<r/>".encode("utf-16-le"), "UTF-8"),
    "declared Latin-1": (b'<?xml version="1.0" encoding="ISO-8859-1"?><r>\xe9</r>', "UTF-8"),
    "declared UTF-7": (b'<?xml version="1.0" encoding="UTF-7"?><r/>', "UTF-8"),
    "bytes that are not UTF-8": (b"<r>\xe9t\xe9</r>", "not well-formed"),
    "garbage": (b"\x00\x01\x02garbage", "UTF-8"),
    "text": (b"hello, DCC", "not an XML document"),
    "JSON": (b'{"RequestID": "1"}', "not an XML document"),
    "empty": (b"", "empty"),
    "whitespace": (b"   \n", "not an XML document"),
    "truncated": (VALID[: len(VALID) // 2], "not well-formed"),
    "two roots": (b"<r/><r/>", "not well-formed"),
    "deep nesting": (b"<a>" * 5000 + b"</a>" * 5000, "not well-formed"),
    "unclosed comment": (b"<!-- forever", "never ends"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_broken_input_is_a_malformed_request_with_a_clear_message(case: str) -> None:
    data, says = HOSTILE[case]
    with pytest.raises(MalformedRequest) as caught:
        parse_request(data, LIMIT)
    message = str(caught.value)
    assert says in message
    assert caught.value.code is ResponseCode.MALFORMED
    assert isinstance(caught.value, S1AdoptError)
    assert isinstance(caught.value, RequestRejected)
    assert len(message) < 400
    assert not re.search(r"lxml|XMLSyntaxError|<string>|column \d", message)
    assert "root:" not in message
    assert "passwd" not in message


def test_a_request_over_the_size_limit_is_refused_before_parsing() -> None:
    with pytest.raises(MalformedRequest, match=r"larger than the limit of 1,000"):
        parse_request(VALID, 1000)
    assert parse_request(VALID, len(VALID)) is not None


def test_a_utf8_bom_and_an_ascii_declaration_are_accepted() -> None:
    header = read_header(parse_request(b"\xef\xbb\xbf" + VALID, LIMIT))
    assert header.service_reference_variant == "8.2"
    ascii_form = VALID.replace(b'encoding="UTF-8"', b'encoding="US-ASCII"')
    assert read_header(parse_request(ascii_form, LIMIT)).request_id == REQUEST_ID


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b'<Request xmlns="urn:elsewhere"/>', "the root element is Request in the namespace urn:"),
        (b"<Request/>", "the root element is Request;"),
        (f'<sr:Response xmlns:sr="{DUIS_NAMESPACE}"/>'.encode(), "the root element is Response"),
        (f'<sr:Request xmlns:sr="{DUIS_NAMESPACE}"><sr:Body/></sr:Request>'.encode(), "no Header"),
    ],
)
def test_a_document_that_is_not_a_duis_request_is_malformed(data: bytes, says: str) -> None:
    with pytest.raises(MalformedRequest, match=re.escape(says)) as caught:
        read_header(parse_request(data, LIMIT))
    assert caught.value.code is ResponseCode.MALFORMED


def test_the_header_of_a_schema_invalid_request_is_still_read_for_the_answer() -> None:
    data = (
        f'<sr:Request xmlns:sr="{DUIS_NAMESPACE}"><sr:Header><!-- no command variant -->'
        "<sr:ServiceReferenceVariant> 8.2 </sr:ServiceReferenceVariant>"
        f"<sr:RequestID>{REQUEST_ID}</sr:RequestID></sr:Header>"
        '<sr:Body><x:ReadInventory xmlns:x="urn:elsewhere"/></sr:Body></sr:Request>'
    ).encode()
    root = parse_request(data, LIMIT)
    header = read_header(root)
    assert header.request_id == REQUEST_ID
    assert header.service_reference_variant == "8.2"
    assert header.command_variant is None
    assert header.service_reference is None
    assert header.schema_version is None
    assert header.body_name is None  # not in the DUIS namespace: never routed by its name
    assert header.body is not None
    with pytest.raises(schemas.SchemaInvalid):
        schemas.own_schema().validate(root)


# --- the project's own schema -------------------------------------------------------------------


def own_problem(data: bytes) -> str:
    with pytest.raises(schemas.SchemaInvalid) as caught:
        schemas.own_schema().validate(parse_request(data, LIMIT))
    assert caught.value.code is ResponseCode.SCHEMA_INVALID
    return str(caught.value)


def test_the_own_schema_takes_a_sequenced_request_and_any_other_duis_body_laxly() -> None:
    header_extra = (
        f"<sr:RequestID>{REQUEST_ID}</sr:RequestID><sr:FirstInSequence>false</sr:FirstInSequence>"
        f"<sr:PrecedingServiceRequestID>{REQUEST_ID[:-4]}999</sr:PrecedingServiceRequestID>"
    )
    data = request("4.1", "<sr:SomethingNew><sr:Whatever>1</sr:Whatever></sr:SomethingNew>", 1)
    data = data.replace(
        f"<sr:RequestID>{REQUEST_ID}</sr:RequestID>".encode(), header_extra.encode()
    )
    root = parse_request(data, LIMIT)
    schemas.own_schema().validate(root)
    header = read_header(root)
    assert header.first_in_sequence == "false"
    assert header.preceding_request_id == REQUEST_ID[:-4] + "999"
    assert header.body_name == "SomethingNew"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (b"00-DB-12-34-56-78-90-A2", b"not-an-eui", "line 11: Element 'sr:DeviceID'"),
        (b"<sr:CommandVariant>8", b"<sr:CommandVariant>9", "sr:CommandVariant"),
        (b"<sr:CommandVariant>8", b"<sr:CommandVariant>0", "sr:CommandVariant"),
        (b">8.2</sr:ServiceReferenceVariant>", b">8.2.x</sr:ServiceReferenceVariant>", "Variant"),
        (b":1000<", b":18446744073709551616<", "sr:RequestID"),
        (b"<sr:ReadInventory>", b"<sr:ReadInventory><sr:UPRN>1</sr:UPRN>", "sr:DeviceID"),
        (b"</sr:ReadInventory>", b"</sr:ReadInventory><sr:ReadInventory/>", "not expected"),
        (b"<sr:ReadInventory>", b'<x:Other xmlns:x="urn:x"/><sr:ReadInventory>', "{urn:x}Other"),
        (b'schemaVersion="5.4"', b'schemaVersion="five"', "schemaVersion"),
        (b"<ds:X509Data>", b"<ds:X509Data><ds:X509SKI>AA==</ds:X509SKI>", "ds:X509SKI"),
        (b"</ds:SignedInfo>", b"<ds:Reference URI=''/></ds:SignedInfo>", "ds:Reference"),
        (b"</sr:Header>", b"<sr:Extra/></sr:Header>", "sr:Extra"),
    ],
)
def test_the_own_schema_names_the_first_problem_without_paths_or_duis_namespace_uris(
    old: bytes, new: bytes, says: str
) -> None:
    assert old in VALID
    message = own_problem(VALID.replace(old, new, 1))
    assert says in message
    assert "{" + "http" not in message
    assert "/work" not in message
    assert "file:" not in message
    assert len(message) < 400


def test_the_largest_request_counter_is_valid() -> None:
    data = VALID.replace(b":1000<", b":18446744073709551615<")
    schemas.own_schema().validate(parse_request(data, LIMIT))


def test_a_long_hostile_value_is_cut_in_the_message() -> None:
    message = own_problem(VALID.replace(b"00-DB-12-34-56-78-90-A2", b"A\rB\n" + b"X" * 5000))
    assert len(message) < 400
    assert message.endswith("...")
    assert "\n" not in message
    assert "\r" not in message


@pytest.mark.parametrize(
    "root",
    [
        f'<sr:ReadInventory xmlns:sr="{DUIS_NAMESPACE}"><sr:UPRN>1</sr:UPRN></sr:ReadInventory>',
        f'<sr:RequestID xmlns:sr="{DUIS_NAMESPACE}">{REQUEST_ID}</sr:RequestID>',
    ],
)
def test_a_schema_takes_only_the_roots_it_is_for(
    root: str, official: schemas.OfficialSchemas
) -> None:
    element = etree.fromstring(root)
    for schema in (schemas.own_schema(), official):
        with pytest.raises(schemas.SchemaInvalid, match="the document's root element is sr:"):
            schema.validate(element)


def test_validators_used_from_many_threads_keep_their_messages_apart(
    official: schemas.OfficialSchemas,
) -> None:
    good = VALID
    bad = VALID.replace(b"<sr:CommandVariant>8", b"<sr:CommandVariant>9")

    def check(index: int) -> str:
        data = bad if index % 2 else good
        try:
            for schema in (schemas.own_schema(), official):
                schema.validate(parse_request(data, LIMIT))
        except schemas.SchemaInvalid as exc:
            return str(exc)
        return "valid"

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(check, range(400)))
    assert results[0::2] == ["valid"] * 200
    assert all("sr:CommandVariant" in result for result in results[1::2])


# --- the official schemas ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_the_shared_samples_validate_against_the_official_schemas(
    path: Path, official: schemas.OfficialSchemas
) -> None:
    official.validate(etree.parse(str(path)).getroot())


def test_official_schemas_are_loaded_once_per_directory() -> None:
    first = schemas.OfficialSchemas(SCHEMA_DIR)
    again = schemas.OfficialSchemas(str(SCHEMA_DIR) + "/")
    assert first._validator is again._validator
    assert "DUIS V5.4" in first.name


def test_official_schemas_load_whole_while_other_threads_parse(tmp_path: Path) -> None:
    # lxml's loader hook is process-wide: a parse in another thread may swap it out while a
    # schema compiles, and an import would then go missing (or past the confined resolver).
    stop = threading.Event()

    def parse_until_stopped() -> int:
        count = 0
        while not stop.is_set():
            parse_request(VALID, LIMIT)
            count += 1
        return count

    with ThreadPoolExecutor(max_workers=3) as pool:
        parsers = [pool.submit(parse_until_stopped) for _ in range(3)]
        try:
            for copy in range(4):
                directory = tmp_path / f"copy{copy}"
                shutil.copytree(SCHEMA_DIR, directory)
                schemas.OfficialSchemas(directory).validate(parse_request(VALID, LIMIT))
        finally:
            stop.set()
        assert all(parser.result() > 0 for parser in parsers)


def malicious_schema_dir(tmp_path: Path, reference: str) -> Path:
    """A copy of the official schemas whose main schema imports ``reference`` as well."""
    directory = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, directory)
    main = directory / "DUIS_Schema_V5.4.xsd"
    text = main.read_text("utf-8")
    anchor = 'schemaLocation="MMC_Schema_V5.4.xsd"/>'
    assert anchor in text
    main.write_text(
        text.replace(
            anchor, anchor + f'<xs:import namespace="urn:evil" schemaLocation="{reference}"/>'
        ),
        "utf-8",
    )
    return directory


OUTSIDE = (
    '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:evil">'
    '<xs:element name="x"/></xs:schema>'
)


@pytest.mark.parametrize(
    "reference",
    [
        "../outside.xsd",
        "{tmp}/outside.xsd",
        "file://{tmp}/outside.xsd",
        "http://example.invalid/x.xsd",
    ],
)
def test_the_official_schemas_cannot_refer_outside_their_directory(
    tmp_path: Path, reference: str
) -> None:
    (tmp_path / "outside.xsd").write_text(OUTSIDE, "utf-8")
    reference = reference.format(tmp=tmp_path)
    directory = malicious_schema_dir(tmp_path, reference)
    with pytest.raises(schemas.SchemaUnavailable, match="refused to load") as caught:
        schemas.OfficialSchemas(directory)
    assert isinstance(caught.value, ConfigurationError)
    assert "outside.xsd" in str(caught.value) or "example.invalid" in str(caught.value)


def test_an_entity_in_an_official_schema_cannot_read_a_file_outside_the_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "secret.txt").write_text("the secret", "utf-8")
    directory = malicious_schema_dir(tmp_path, "evil.xsd")
    (directory / "evil.xsd").write_text(
        '<?xml version="1.0"?><!DOCTYPE xs:schema [<!ENTITY s SYSTEM "../secret.txt">]>'
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:evil">'
        "<xs:annotation><xs:documentation>&s;</xs:documentation></xs:annotation>"
        '<xs:element name="x"/></xs:schema>',
        "utf-8",
    )
    with pytest.raises(schemas.SchemaUnavailable, match=r"refused to load .*secret\.txt"):
        schemas.OfficialSchemas(directory)


def test_a_schema_inside_the_directory_may_be_imported(tmp_path: Path) -> None:
    directory = malicious_schema_dir(tmp_path, "extra/inside.xsd")
    (directory / "extra").mkdir()
    (directory / "extra" / "inside.xsd").write_text(OUTSIDE, "utf-8")
    schemas.OfficialSchemas(directory).validate(parse_request(VALID, LIMIT))


def test_a_directory_without_the_official_schemas_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(schemas.SchemaUnavailable, match=r"no DUIS_Schema_V5\.4\.xsd"):
        schemas.OfficialSchemas(tmp_path)


# --- responses ----------------------------------------------------------------------------------


def test_a_read_inventory_success_lists_smets1_devices_and_validates(
    official: schemas.OfficialSchemas,
) -> None:
    devices = [
        smets1_device(1, "CHF"),
        smets1_device(2, "ESME"),
        smets1_device(3, "GPF"),
        smets1_device(4, "GSME"),
        smets1_device(5, "IHD", status="NotApplicable"),
    ]
    root = responses.response(
        REQUEST_ID, ResponseCode.SUCCESS, "8.2", "8.2", AT, responses.inventory(devices)
    )
    official.validate(root)
    assert is_compact(root)
    data = responses.serialise(root)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?><sr:Response ')
    assert not re.search(rb">\s+<", data)
    listed = root.findall(f".//{SR}DSPInventory/{SR}Device")
    assert len(listed) == 5
    esme = listed[1]
    assert [etree.QName(child).localname for child in esme] == [
        "DeviceID",
        "DeviceType",
        "DeviceStatus",
        "DeviceManufacturer",
        "DeviceModel",
        "DeviceFirmwareVersion",
        "DateCommissioned",
        "ImportMPxN",
        "CSPRegion",
        "S1SP",
    ]
    assert esme.findtext(f"{SR}CSPRegion") == "SMETS1"
    assert esme.findtext(f"{SR}ImportMPxN") == MPAN
    ihd = listed[4]
    assert ihd.find(f"{SR}DeviceStatus") is None  # NotApplicable is not a DUIS device status
    assert ihd.find(f"{SR}DeviceFirmwareVersion") is None


def test_the_response_header_is_in_the_schema_order_with_a_utc_millisecond_time() -> None:
    plus_two = timezone(timedelta(hours=2))
    root = responses.response(
        REQUEST_ID,
        ResponseCode.SUCCESS,
        "4.1.1",
        None,
        datetime(2026, 11, 29, 11, 30, 15, 987654, tzinfo=plus_two),
        response_id="00-DB-12-34-56-78-90-A2:90-B3-D5-1F-30-01-00-00:1000",
    )
    header = root.find(f"{SR}Header")
    assert header is not None
    assert [etree.QName(child).localname for child in header] == [
        "RequestID",
        "ResponseID",
        "ResponseCode",
        "ResponseDateTime",
    ]
    assert header.findtext(f"{SR}ResponseDateTime") == "2026-11-29T09:30:15.987Z"
    assert root.findtext(f".//{SR}ServiceReference") == "4.1"
    assert root.get("schemaVersion") == "5.4"
    assert root.prefix == "sr"


@pytest.mark.parametrize("srv", ["8.3", "8.4", "12.2", "5.2", "8.2"])
def test_a_success_without_a_body_validates(srv: str, official: schemas.OfficialSchemas) -> None:
    root = responses.response(REQUEST_ID, ResponseCode.SUCCESS, srv, srv, AT)
    official.validate(root)
    assert is_compact(root)


@pytest.mark.parametrize("code", list(ResponseCode), ids=lambda code: code.value)
def test_every_response_code_makes_a_valid_response(
    code: ResponseCode, official: schemas.OfficialSchemas
) -> None:
    root = responses.response(REQUEST_ID, code, "8.2", "8.2", AT)
    official.validate(root)
    without_request = responses.response(None, code, "4.1.1", None, AT)
    official.validate(without_request)
    assert root.findtext(f"{SR}Header/{SR}ResponseCode") == code.value


def test_an_inventory_holds_one_to_seventeen_devices(official: schemas.OfficialSchemas) -> None:
    most = [smets1_device(n) for n in range(responses.MAX_INVENTORY_DEVICES)]
    root = responses.response(
        REQUEST_ID, ResponseCode.SUCCESS, "8.2", "8.2", AT, responses.inventory(most)
    )
    official.validate(root)
    with pytest.raises(ValueError, match="1 to 17 devices"):
        responses.inventory([])
    with pytest.raises(ValueError, match="1 to 17 devices"):
        responses.inventory([*most, smets1_device(99)])


def test_read_schedule_lists_schedules_that_validate(official: schemas.OfficialSchemas) -> None:
    entries = [
        responses.ScheduleEntry(
            schedule_id=7,
            device_id=METER,
            service_reference_variant="4.8.1",
            command="DSPReadActiveImportProfileData",
            frequency="Daily",
            start_date=date(2026, 12, 1),
            end_date=date(2027, 12, 1),
            execution_start_time=time(1, 30),
            period=responses.LogPeriodOffset(-1, time(0, 0), 0, time(0, 0)),
        ),
        responses.ScheduleEntry(
            schedule_id=8,
            device_id=METER,
            service_reference_variant="4.10",
            command="DSPReadMaximumDemandImportRegisters",
            frequency="Monthly",
            start_date=date(2026, 12, 1),
        ),
    ]
    root = responses.response(
        REQUEST_ID, ResponseCode.SUCCESS, "5.2", "5.2", AT, responses.schedules(entries)
    )
    official.validate(root)
    assert is_compact(root)
    with pytest.raises(ValueError, match="1 to 99 schedules"):
        responses.schedules([])


def test_a_response_needs_an_srv_and_an_aware_time() -> None:
    with pytest.raises(ValueError, match="problem_document"):
        responses.response(REQUEST_ID, ResponseCode.MALFORMED, None, None, AT)
    with pytest.raises(ValueError, match="problem_document"):
        responses.response(REQUEST_ID, ResponseCode.MALFORMED, "<x/>", None, AT)
    with pytest.raises(ValueError, match="timezone-aware"):
        responses.response(REQUEST_ID, ResponseCode.SUCCESS, "8.2", None, datetime(2026, 1, 1))


def test_a_signed_response_still_validates(official: schemas.OfficialSchemas) -> None:
    from s1adopt.formats.duis import xmldsig
    from s1adopt.formats.duis.certificates import load_private_key

    key = load_private_key((DUIS / "keys" / "dsp-xml-sign-90B3D51F30000002-ds.key").read_bytes())
    root = responses.response(
        REQUEST_ID, ResponseCode.SUCCESS, "8.2", "8.2", AT, responses.inventory([smets1_device(1)])
    )
    signed = xmldsig.sign(root, key, "CN=Z1,OU=07", 123456789)
    official.validate(etree.fromstring(signed))
    assert not re.search(rb">\s+<", signed)


def test_serialise_writes_compact_utf8_with_a_declaration() -> None:
    root = responses.response(REQUEST_ID, ResponseCode.SCHEMA_INVALID, "8.2", "8.2", AT)
    data = responses.serialise(root)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?><sr:Response')
    assert etree.fromstring(data).findtext(f"{SR}Header/{SR}ResponseCode") == "E1001"
    assert b"\n" not in data


# --- the problem document -----------------------------------------------------------------------


def test_the_problem_document_validates_against_its_own_schema() -> None:
    data = responses.problem_document(ResponseCode.MALFORMED, "request: not well-formed XML")
    root = etree.fromstring(data)
    schemas.problem_schema().validate(root)
    problem = f"{{{responses.PROBLEM_NAMESPACE}}}"
    assert root.tag == problem + "Problem"
    assert root.findtext(problem + "Code") == "E1000"
    assert root.findtext(problem + "Meaning") == ResponseCode.MALFORMED.meaning
    assert root.findtext(problem + "Message") == "request: not well-formed XML"
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_a_hostile_message_is_made_safe_and_cut_in_the_problem_document() -> None:
    message = "bad \x00\x1b\ud800 bytes <&> " + "x" * 5000
    data = responses.problem_document(ResponseCode.SCHEMA_INVALID, message)
    root = etree.fromstring(data)
    schemas.problem_schema().validate(root)
    text = root.findtext(f"{{{responses.PROBLEM_NAMESPACE}}}Message") or ""
    assert text.startswith("bad ??? bytes <&> ")
    assert text.endswith("...")
    assert len(text) == 1000


def test_the_problem_schema_refuses_other_documents() -> None:
    with pytest.raises(schemas.SchemaInvalid):
        schemas.problem_schema().validate(parse_request(VALID, LIMIT))
    broken = responses.problem_document(ResponseCode.MALFORMED, "x").replace(b"E1000", b"oops")
    with pytest.raises(schemas.SchemaInvalid, match="p:Code"):
        schemas.problem_schema().validate(etree.fromstring(broken))
