"""The SRV catalogue against the public DUIS material: the request matrix, the V5.4 schema and
the official request templates (read here, in the tests, never by the product)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, CommandVariant
from s1adopt.domain.parties import Role
from s1adopt.domain.srv import (
    CATALOGUE,
    SIGNED_PRE_COMMAND,
    FutureDatedResponsePattern,
    ServiceRequestVariant,
    body_allowed,
    by_body_element,
    eligible,
    lookup,
)

DUIS = Path(__file__).resolve().parents[3] / "shared" / "duis"
MATRIX = DUIS / "request-matrix.json"
SCHEMA = DUIS / "schema" / "DUIS_Schema_V5.4.xsd"
TEMPLATES = sorted((DUIS / "templates").glob("*.XML"))
XS = {"xs": "http://www.w3.org/2001/XMLSchema"}
SR = f"{{{DUIS_NAMESPACE}}}"

# Where the catalogue departs from the matrix on purpose: (SRV, field) -> the matrix's value.
MATRIX_CORRECTIONS: dict[tuple[str, str], object] = {
    # The matrix prints the service reference of 6.20.x as "6.2", a decimal-number truncation:
    # the schema's ServiceReference enumeration has "6.20", and "6.2" is Read Device Configuration.
    ("6.20.1", "service_reference"): "6.2",
    ("6.20.2", "service_reference"): "6.2",
}

# Body elements that carry more than one SRV, and why.
SHARED_BODY_ELEMENTS: dict[str, tuple[str, ...]] = {
    # 4.10 Read Network Data accepts the gas network data request beside ReadNetworkData;
    # 14.1 Record Network Data (GAS) has no other body element.
    "RecordNetworkDataGAS": ("4.10", "14.1"),
}

# Body elements that carry no SRV, and why: none (SignedPreCommand carries any critical SRV
# after its transform and is checked by rule).
UNCLAIMED_BODY_ELEMENTS: dict[str, str] = {}

# Where the schema's per-SRV "CV = ..." notes differ from the catalogue's command variants.
SCHEMA_COMMAND_VARIANT_NOTES_DIFFERING: dict[str, str] = {
    # The notes of 7.12-7.15 are swapped in pairs: the matrix makes 7.12 and 7.13 critical (the
    # official templates send them as command variant 4) and 7.14 and 7.15 not.
    "7.12": "the matrix makes it critical; its templates use command variant 4",
    "7.13": "the matrix makes it critical; its templates use command variant 4",
    "7.14": "the matrix makes it non-critical",
    "7.15": "the matrix makes it non-critical",
    # Narrower than the general rule; the catalogue keeps the rule until the project decides.
    "8.1.1": "the schema notes only 4 and 5: no local delivery of Commission Device",
    "8.5": "the schema notes only 1 for Service Opt Out",
}

# Where the schema's list of variants a DCC schedule may name differs from the matrix's flag.
SCHEMA_SCHEDULABLE_DIFFERING: dict[str, str] = {
    "4.2": "V5.4 lets a schedule name it (DSPReadInstantaneousExportRegisters); the matrix "
    "says not DCC scheduled, and the catalogue keeps the matrix",
}

_FUTURE_DATED = {
    "No": FutureDatedResponsePattern.NONE,
    "Device": FutureDatedResponsePattern.DEVICE,
    "DSP": FutureDatedResponsePattern.DSP,
    "DSP & Device": FutureDatedResponsePattern.DSP_AND_DEVICE,
}
_YES_NO = {"Yes": True, "No": False}


def _parse(path: Path) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(path), parser)


@cache
def _matrix() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(MATRIX.read_text(encoding="utf-8"))
    return rows


@cache
def _schema() -> Any:
    return _parse(SCHEMA)


def _request_body_choices() -> list[str]:
    names: list[str] = _schema().xpath(
        "/xs:schema/xs:complexType[@name='Request']/xs:sequence/xs:element[@name='Body']"
        "/xs:complexType/xs:choice/xs:element/@name",
        namespaces=XS,
    )
    return [str(name) for name in names]


def _enumeration(simple_type: str) -> list[str]:
    values: list[str] = _schema().xpath(
        f"/xs:schema/xs:simpleType[@name='{simple_type}']/xs:restriction/xs:enumeration/@value",
        namespaces=XS,
    )
    return [str(value) for value in values]


def _matrix_facts(row: Mapping[str, Any]) -> dict[str, object]:
    return {
        "variant": row["Service Reference Variant"],
        "service_reference": row["Service Reference"],
        "name": " ".join(row["Service Request Name"].split()),
        "critical": _YES_NO[row["Critical"]],
        "on_demand": _YES_NO[row["On Demand"]],
        "future_dated_response": _FUTURE_DATED[row["Future Dated Response Pattern"]],
        "dcc_scheduled": _YES_NO[row["DCC Scheduled"]],
        "non_device": _YES_NO[row["Non-Device Request"]],
        "eligible_roles": frozenset(Role(code) for code in row["Eligible User Roles"]),
    }


def _catalogue_facts(srv: ServiceRequestVariant) -> dict[str, object]:
    facts = {
        field.name: getattr(srv, field.name)
        for field in dataclasses.fields(srv)
        if field.name != "body_elements"
    }
    facts["name"] = " ".join(srv.name.split())
    return facts


def _srv(text: str) -> ServiceRequestVariant:
    srv = lookup(text)
    assert srv is not None, text
    return srv


# The catalogue is the public matrix, fact by fact.


def test_the_catalogue_lists_the_variants_of_the_public_matrix_in_its_order() -> None:
    assert [srv.variant for srv in CATALOGUE] == [
        row["Service Reference Variant"] for row in _matrix()
    ]
    assert len(CATALOGUE) == 129


def test_every_variant_states_the_facts_of_the_public_matrix_but_the_documented_corrections() -> (
    None
):
    differences = []
    for row, srv in zip(_matrix(), CATALOGUE, strict=True):
        ours, theirs = _catalogue_facts(srv), _matrix_facts(row)
        for field, value in theirs.items():
            corrected = MATRIX_CORRECTIONS.get((srv.variant, field))
            if corrected is not None:
                assert value == corrected, f"{srv.variant} {field}: the matrix changed"
                assert ours[field] != value
            elif ours[field] != value:
                differences.append(f"{srv.variant} {field}: ours {ours[field]!r}, matrix {value!r}")
    assert differences == []


def test_each_service_reference_and_variant_is_one_the_schema_enumerates() -> None:
    assert {srv.variant for srv in CATALOGUE} == set(_enumeration("ServiceReferenceVariant"))
    assert {srv.service_reference for srv in CATALOGUE} == set(_enumeration("ServiceReference"))


def test_a_variant_belongs_to_the_service_reference_its_number_begins_with() -> None:
    for srv in CATALOGUE:
        parts = srv.variant.split(".")
        assert srv.service_reference == ".".join(parts[:2]), srv.variant


# The body elements are the schema's Request/Body choices.


def test_every_body_element_named_is_a_choice_of_the_schema_request_body() -> None:
    choices = set(_request_body_choices())
    unknown = [
        (srv.variant, element)
        for srv in CATALOGUE
        for element in srv.body_elements
        if element not in choices
    ]
    assert unknown == []
    assert SIGNED_PRE_COMMAND in choices


def test_every_choice_of_the_request_body_but_the_signed_pre_command_carries_one_variant() -> None:
    claims = {
        element: tuple(srv.variant for srv in by_body_element(element))
        for element in _request_body_choices()
        if element != SIGNED_PRE_COMMAND
    }
    unclaimed = {element for element, variants in claims.items() if not variants}
    shared = {element: variants for element, variants in claims.items() if len(variants) > 1}
    assert unclaimed == set(UNCLAIMED_BODY_ELEMENTS)
    assert shared == SHARED_BODY_ELEMENTS


# Every official template is a request the catalogue allows.


@pytest.mark.parametrize("template", TEMPLATES, ids=[path.name for path in TEMPLATES])
def test_each_template_carries_a_body_and_command_variant_its_variant_allows(
    template: Path,
) -> None:
    request = _parse(template).getroot()
    header = request.find(f"{SR}Header")
    body_elements = [child for child in request.find(f"{SR}Body") if isinstance(child.tag, str)]
    srv = _srv(header.findtext(f"{SR}ServiceReferenceVariant"))
    variant = CommandVariant(int(header.findtext(f"{SR}CommandVariant")))
    assert header.findtext(f"{SR}ServiceReference") == srv.service_reference
    assert variant in srv.command_variants
    assert len(body_elements) == 1
    assert body_allowed(srv, variant, etree.QName(body_elements[0]).localname)


def test_the_templates_exercise_a_hundred_catalogued_variants() -> None:
    covered = {
        _parse(path).getroot().findtext(f"{SR}Header/{SR}ServiceReferenceVariant")
        for path in TEMPLATES
    }
    assert len(TEMPLATES) > 150
    assert covered <= {srv.variant for srv in CATALOGUE}
    assert len(covered) >= 100


# The schema's own notes, where they differ from the matrix, differ only where listed.


def _schema_command_variant_notes() -> dict[str, frozenset[int]]:
    restriction = _schema().xpath(
        "/xs:schema/xs:simpleType[@name='ServiceReferenceVariant']/xs:restriction",
        namespaces=XS,
    )[0]
    notes: dict[str, frozenset[int]] = {}
    current = None
    for child in restriction:
        if child.tag is etree.Comment and current is not None:
            match = re.search(r"CV\s*=\s*([\d,\s]+)", child.text)
            assert match is not None, child.text
            notes[current] = frozenset(int(cv) for cv in re.findall(r"\d+", match[1]))
            current = None
        elif isinstance(child.tag, str):
            current = child.get("value")
    return notes


def test_the_command_variants_agree_with_the_schema_notes_but_where_listed() -> None:
    notes = _schema_command_variant_notes()
    assert set(notes) == {srv.variant for srv in CATALOGUE}
    differing = {
        srv.variant
        for srv in CATALOGUE
        if notes[srv.variant] != {int(cv) for cv in srv.command_variants}
    }
    assert differing == set(SCHEMA_COMMAND_VARIANT_NOTES_DIFFERING)


def test_the_dcc_scheduled_variants_are_those_a_schedule_may_name_but_where_listed() -> None:
    schedulable = set(_enumeration("DSPScheduledServiceReferenceVariant"))
    scheduled = {srv.variant for srv in CATALOGUE if srv.dcc_scheduled}
    assert schedulable ^ scheduled == set(SCHEMA_SCHEDULABLE_DIFFERING)


# The derived rules on hand-picked rows.


def test_a_non_device_request_goes_only_as_command_variant_8() -> None:
    for text in ("8.2", "5.1", "12.2", "11.1"):
        assert _srv(text).command_variants == {CommandVariant.NON_DEVICE}


def test_a_critical_request_is_transformed_and_then_sent_as_a_signed_pre_command() -> None:
    for text in ("1.1.1", "7.1", "6.15.1", "8.1.1"):
        assert _srv(text).command_variants == {
            CommandVariant.TRANSFORM,
            CommandVariant.SIGNED_SEND,
            CommandVariant.SIGNED_LOCAL,
            CommandVariant.SIGNED_SEND_AND_LOCAL,
        }


def test_a_non_critical_device_request_is_sent_returned_for_local_delivery_or_both() -> None:
    for text in ("4.1.1", "6.23", "8.5", "14.1"):
        assert _srv(text).command_variants == {
            CommandVariant.SEND,
            CommandVariant.LOCAL,
            CommandVariant.SEND_AND_LOCAL,
        }


def test_a_critical_request_is_transformed_with_its_own_body_and_sent_with_a_signed_one() -> None:
    tariff = _srv("1.1.1")
    assert body_allowed(tariff, CommandVariant.TRANSFORM, "UpdateImportTariffPrimaryElement")
    assert not body_allowed(tariff, CommandVariant.TRANSFORM, SIGNED_PRE_COMMAND)
    for variant in (
        CommandVariant.SIGNED_SEND,
        CommandVariant.SIGNED_LOCAL,
        CommandVariant.SIGNED_SEND_AND_LOCAL,
    ):
        assert body_allowed(tariff, variant, SIGNED_PRE_COMMAND)
        assert not body_allowed(tariff, variant, "UpdateImportTariffPrimaryElement")


def test_a_non_critical_variant_never_carries_a_signed_pre_command() -> None:
    read = _srv("4.1.1")
    assert not body_allowed(read, CommandVariant.SIGNED_SEND, SIGNED_PRE_COMMAND)
    assert not body_allowed(read, CommandVariant.SEND, SIGNED_PRE_COMMAND)


def test_a_variant_carries_only_its_own_body_elements() -> None:
    assert body_allowed(_srv("8.2"), CommandVariant.NON_DEVICE, "ReadInventory")
    assert not body_allowed(_srv("8.2"), CommandVariant.NON_DEVICE, "UpdateInventory")
    assert not body_allowed(_srv("4.1.1"), CommandVariant.SEND, "ReadInstantaneousExportRegisters")
    network = _srv("4.10")
    assert body_allowed(network, CommandVariant.SEND, "ReadNetworkData")
    assert body_allowed(network, CommandVariant.SEND, "RecordNetworkDataGAS")


def test_a_user_is_eligible_when_one_of_its_roles_is() -> None:
    export_read = _srv("4.2")
    assert eligible(export_read, {Role.EXPORT_SUPPLIER})
    assert eligible(export_read, [Role.IMPORT_SUPPLIER, Role.ELECTRICITY_DISTRIBUTOR])
    assert not eligible(export_read, {Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
    assert not eligible(export_read, ())
    assert eligible(_srv("8.2"), {Role.REGISTERED_SUPPLIER_AGENT})


def test_a_variant_without_eligible_roles_admits_no_user() -> None:
    for text in ("7.16", "8.5", "8.6"):
        assert not eligible(_srv(text), set(Role))


def test_lookup_finds_a_variant_by_its_text_and_nothing_for_an_unknown_one() -> None:
    assert _srv("4.1.1").name == "Read Instantaneous Import Registers"
    assert _srv(" 8.2\n").body_elements == ("ReadInventory",)
    for unknown in ("4.1", "4.5", "6.19", "", "4.1.1.1"):
        assert lookup(unknown) is None


def test_by_body_element_names_the_variants_a_body_element_carries() -> None:
    assert by_body_element("ReadInventory") == (_srv("8.2"),)
    assert by_body_element("CommissionDeviceSynchroniseClock") == (_srv("8.1.1"),)
    assert by_body_element("RecordNetworkDataGAS") == (_srv("4.10"), _srv("14.1"))
    assert by_body_element(SIGNED_PRE_COMMAND) == ()
    assert by_body_element("NoSuchElement") == ()


def test_the_future_dated_pattern_says_whether_a_request_may_be_future_dated() -> None:
    assert _srv("6.23").future_dated_response is FutureDatedResponsePattern.DSP_AND_DEVICE
    assert _srv("1.1.1").future_datable
    assert _srv("4.1.1").future_datable
    assert not _srv("1.5").future_datable


def test_a_service_request_variant_cannot_be_changed() -> None:
    srv = _srv("4.1.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        srv.critical = True  # type: ignore[misc]
    assert not hasattr(srv, "__dict__")
