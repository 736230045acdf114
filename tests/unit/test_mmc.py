"""MMC payloads of SMETS1 responses: every SRV of the device service renders a payload that the
official DUIS V5.4 / MMC V5.4 schemas accept, with the device's values converted exactly.

The official schemas are read here, in the tests, from ../shared/duis, never by the product.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from s1adopt.domain.duis import DSIG_NAMESPACE, DUIS_NAMESPACE, MMC_NAMESPACE
from s1adopt.formats.duis import schemas
from s1adopt.formats.duis.mmc import (
    RESPONSE_ELEMENTS,
    RenderContext,
    alert_payload,
    failure_payload,
    response_payload,
)

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "shared" / "duis" / "schema"
SR = f"{{{DUIS_NAMESPACE}}}"
RA = f"{{{MMC_NAMESPACE}}}"
DS = f"{{{DSIG_NAMESPACE}}}"
AT = datetime(2026, 11, 29, 9, 30, 15, tzinfo=UTC)
METER_HEX = "00DB1234567890A2"
HUB_HEX = "00DB1234567890A0"
IHD_HEX = "00DB1234567890B7"
PPMID_HEX = "00DB1234567890B8"
E, G = "ESME", "GSME"
METERS = (E, G)

# SPEC.md's last table: SRV -> the MMC response element.
EXPECTED: dict[str, str] = {
    "4.1.1": "ReadInstantaneousImportRegistersRsp",
    "4.1.2": "ReadInstantaneousImportTOUMatricesRsp",
    "4.1.3": "ReadInstantaneousImportTOUWithBlocksMatricesRsp",
    "4.3": "ReadInstantaneousPrepayValuesRsp",
    "4.6.1": "RetrieveImportDailyReadLogRsp",
    "4.8.1": "ReadActiveImportProfileDataRsp",
    "4.11.1": "ReadTariffPrimaryElementRsp",
    "4.13": "ReadPrepaymentConfigurationRsp",
    "4.15": "ReadLoadLimitDataRsp",
    "4.16": "ReadActivePowerImportRsp",
    "4.17": "RetrieveDailyConsumptionLogRsp",
    "4.18": "ReadMeterBalanceRsp",
    "1.1.1": "UpdateImportTariffPrimaryElementRsp",
    "1.2.1": "UpdatePricePrimaryElementRsp",
    "1.6": "UpdatePaymentModeRsp",
    "2.1": "UpdatePrepayConfigurationRsp",
    "2.2": "TopUpDeviceRsp",
    "2.3": "UpdateDebtRsp",
    "2.5": "ActivateEmergencyCreditRsp",
    "3.1": "DisplayMessageRsp",
    "3.2": "RestrictAccessForChangeOfTenancyRsp",
    "3.3": "ClearEventLogRsp",
    "3.4": "UpdateSupplierNameRsp",
    "3.5": "DisablePrivacyPINRsp",
    "6.2.1": "ReadDeviceConfigurationVoltageRsp",
    "6.2.2": "ReadDeviceConfigurationRandomisationRsp",
    "6.2.3": "ReadDeviceConfigurationDataBillingCalendarRsp",
    "6.2.4": "ReadDeviceConfigurationIdentityExcMPxNRsp",
    "6.2.5": "ReadDeviceConfigurationInstantaneousPowerThresholdsRsp",
    "6.2.7": "ReadDeviceConfigurationMPxNRsp",
    "6.2.8": "ReadDeviceConfigurationGasRsp",
    "6.2.9": "ReadDeviceConfigurationPaymentModeRsp",
    "6.2.10": "ReadDeviceConfigurationEventAndAlertBehavioursRsp",
    "6.4.1": "UpdateDeviceConfigurationLoadLimitingGeneralSettingsRsp",
    "6.4.2": "UpdateDeviceConfigurationLoadLimitingCounterResetRsp",
    "6.5": "UpdateDeviceConfigurationVoltageRsp",
    "6.6": "UpdateDeviceConfigurationGasConversionRsp",
    "6.7": "UpdateDeviceConfigurationGasFlowRsp",
    "6.8": "UpdateDeviceConfigurationBillingCalendarRsp",
    "6.11": "SynchroniseClockRsp",
    "6.12": "UpdateDeviceConfigurationInstantaneousPowerThresholdRsp",
    "6.13": "ReadEventOrSecurityLogRsp",
    "6.15.1": "UpdateSecurityCredentialsKRPRsp",
    "6.18.1": "SetMaximumDemandConfigurableTimePeriodRsp",
    "6.20.1": "SetDeviceConfigurationImportMPxNRsp",
    "6.22": "ConfigureAlertBehaviourRsp",
    "6.23": "UpdateSecurityCredentialsCoSRsp",
    "6.25": "SetElectricitySupplyTamperStateRsp",
    "7.1": "EnableSupplyRsp",
    "7.2": "DisableSupplyRsp",
    "7.3": "ArmSupplyRsp",
    "7.4": "ReadSupplyStatusRsp",
    "7.12": "SetRandomisedOffsetLimitRsp",
    "8.7.1": "JoinServiceCriticalRsp",
    "8.7.2": "JoinServiceNonCriticalRsp",
    "8.8.1": "UnjoinServiceCriticalRsp",
    "8.8.2": "UnjoinServiceNonCriticalRsp",
    "8.9": "ReadDeviceLogRsp",
    "8.11": "UpdateHANDeviceLogRsp",
    "11.2": "ReadFirmwareVersionRsp",
    "11.3": "ActivateFirmwareRsp",
}

# --- realistic answers, built by hand from the operations' shapes ------------------------------

Answers = list[dict[str, Any]]


def settings(**values: Any) -> Answers:
    return [{"settings": values}]


def written(**previous: Any) -> Answers:
    return [{"previous": previous}]


def identity(device_type: str) -> Answers:
    firmware = {"ESME": "1.7.2", "GSME": "V01.02.00", "CHF": "0x241", "GPF": "2.4.1"}
    return [
        {
            "deviceId": METER_HEX,
            "deviceType": device_type,
            "manufacturer": "Aurora Metering",
            "model": "AM-E310" if device_type != "GSME" else "SM-G4",
            "firmware": firmware.get(device_type, "0.9.8"),
        }
    ]


def configuration(device_type: str) -> Answers:
    if device_type == E:
        bands = [1] * 14 + [0] * 20 + [2] * 8 + [1] * 6  # night, day, peak, night
        tariff = {"bands": bands, "prices": [2450, 1320, 3775], "standingCharge": 60}
        return [
            {"mpxn": "1200023305967", "paymentMode": "credit", "tariff": tariff, "supply": "armed"}
        ]
    tariff = {"bands": [0] * 48, "prices": [700], "standingCharge": 30}
    return [
        {"mpxn": "7123456804", "paymentMode": "prepayment", "tariff": tariff, "supply": "enabled"}
    ]


def instantaneous(device_type: str) -> Answers:
    if device_type == E:
        tou = [9_012_345, 2_345_678, 1_000_000, 0]
        return [
            {
                "time": "2026-11-29T09:30:00Z",
                "unit": "Wh",
                "total": sum(tou),
                "tou": tou,
                "demand": 1840,
            }
        ]
    tou = [4_567_891, 0, 0, 0]
    return [
        {"time": "2026-11-29T09:30:00Z", "unit": "L", "total": 4_567_891, "tou": tou, "demand": 900}
    ]


def balance(_: str) -> Answers:
    return [
        {"balance": 1234, "debt": 500, "emergencyCreditAvailable": 1000, "emergencyCreditInUse": 0}
    ]


def profile(device_type: str, stamp: str = "start") -> Answers:
    unit = "Wh" if device_type == E else "L"
    start = datetime(2026, 11, 28, tzinfo=UTC)
    intervals = []
    for i, value in enumerate((120, 95, 0, 1234)):
        moment = start + timedelta(minutes=30 * (i + (stamp == "end")))
        intervals.append({stamp: moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": value})
    return [{"unit": unit, "intervals": intervals}]


def daily_log(device_type: str) -> Answers:
    unit = "Wh" if device_type == E else "L"
    values = (1_000_000, 1_008_432, 1_015_000, 1_015_000)
    days = [
        {"time": f"2026-11-{25 + i:02d}T00:00:00Z", "value": value}
        for i, value in enumerate(values)
    ]
    return [{"unit": unit, "days": days}]


PREPAYMENT = {
    "debtRecoveryRateCap": 0,
    "emergencyCreditLimit": 1000,
    "emergencyCreditThreshold": 500,
    "lowCreditThreshold": 500,
    "maxMeterBalance": 1_000_000,
    "maxCreditThreshold": 100_000,
}
VOLTAGE = {
    "averageRmsOverVoltageThreshold": 253,
    "averageRmsUnderVoltageThreshold": 216,
    "extremeOverVoltageThreshold": 264,
    "extremeUnderVoltageThreshold": 207,
    "averageRmsVoltageMeasurementPeriod": 600,
}
LOAD_LIMIT = {"powerThreshold": 10_000, "period": 60, "restorationPeriod": 60}
CALENDAR = {"start": "2026-01-01T00:00:00Z", "periodicity": "monthly"}
EVENTS = [
    {"time": "2026-11-29T09:00:00Z", "kind": "clock_synchronised", "detail": "was 3s off"},
    {"time": "2026-11-28T17:12:09Z", "kind": "credential_replaced", "detail": ""},
]
HAN = [
    {"device": METER_HEX, "deviceType": "ESME"},
    {"device": IHD_HEX, "deviceType": "IHD"},
    {"device": PPMID_HEX, "deviceType": "PPMID"},
]

Case = Callable[[str], tuple[Answers, Mapping[str, Any]]]


def fixed(answers: Answers, values: Mapping[str, Any] | None = None) -> Case:
    return lambda _: (answers, values or {})


def per_type(build: Callable[[str], Answers], values: Mapping[str, Any] | None = None) -> Case:
    return lambda device_type: (build(device_type), values or {})


PERIOD = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-28T00:00:00Z"}
CASES: dict[str, tuple[tuple[str, ...], Case]] = {
    "4.1.1": (METERS, per_type(instantaneous)),
    "4.1.2": (METERS, per_type(instantaneous)),
    "4.1.3": ((E,), per_type(instantaneous)),
    "4.3": (METERS, per_type(balance)),
    "4.6.1": (METERS, per_type(daily_log, PERIOD)),
    "4.8.1": (METERS, per_type(profile, PERIOD)),
    "4.11.1": (METERS, per_type(configuration)),
    "4.13": (METERS, lambda t: (settings(prepayment=PREPAYMENT) + balance(t), {})),
    "4.15": ((E,), fixed(settings(loadLimit=LOAD_LIMIT, loadLimitCounter=3))),
    "4.16": ((E,), per_type(instantaneous)),
    "4.17": (METERS, per_type(daily_log, PERIOD)),
    "4.18": (METERS, per_type(balance)),
    "1.1.1": (METERS, fixed([{"updated": True}, {"updated": True}])),
    "1.2.1": (METERS, fixed([{"updated": True}], {"prices": [2450], "standingCharge": 60})),
    "1.6": (METERS, fixed(written(paymentMode="credit"), {"paymentMode": "prepayment"})),
    "2.1": (METERS, fixed(written(prepayment=PREPAYMENT), {"prepayment": PREPAYMENT})),
    "2.2": (METERS, fixed([{"balance": 2234}], {"utrn": "00010001234567890123"})),
    "2.3": (METERS, fixed([{"debt": 1500}], {"amount": 1000})),
    "2.5": (METERS, fixed([{"balance": 1400, "emergencyCreditInUse": 1000}])),
    "3.1": (METERS, fixed([{"displayed": True}], {"text": "Hello"})),
    "3.2": (METERS, fixed(written(tenancyRestrictedFrom=None))),
    "3.3": (METERS, fixed([{"cleared": 12}])),
    "3.4": (METERS, fixed(written(supplierName="Supplier", supplierTelephone="0800 000 000"))),
    "3.5": (METERS, fixed(written(privacyPin=True))),
    "6.2.1": ((E,), fixed(settings(voltage=VOLTAGE))),
    "6.2.2": ((E,), fixed(settings(randomisationOffsetLimit=900))),
    "6.2.3": (METERS, fixed(settings(billingCalendar=CALENDAR))),
    "6.2.4": (METERS, per_type(identity)),
    "6.2.5": ((E,), fixed(settings(powerThresholds={"low": 1000, "medium": 3000}))),
    "6.2.7": (METERS, per_type(configuration)),
    "6.2.8": (
        (G,),
        fixed(
            settings(
                gasConversion={"calorificValue": 39_500, "conversionFactor": 1_022_640},
                gasFlow={"uncontrolledGasFlowRate": 6000, "period": 60},
            )
        ),
    ),
    "6.2.9": (METERS, fixed(settings(paymentMode="prepayment", prepayment=PREPAYMENT))),
    "6.2.10": (METERS, fixed(settings(alertBehaviours={"8119": False, "81B7": True}))),
    "6.4.1": ((E,), fixed(written(loadLimit=LOAD_LIMIT), {"loadLimit": LOAD_LIMIT})),
    "6.4.2": ((E,), fixed(written(loadLimitCounter=3))),
    "6.5": ((E,), fixed(written(voltage=VOLTAGE), {"voltage": VOLTAGE})),
    "6.6": ((G,), fixed(written(gasConversion={"calorificValue": 39_500, "conversionFactor": 1}))),
    "6.7": ((G,), fixed(written(gasFlow={"uncontrolledGasFlowRate": 6000, "period": 60}))),
    "6.8": (METERS, fixed(written(billingCalendar=CALENDAR), {"billingCalendar": CALENDAR})),
    "6.11": (METERS, fixed([{"offset": 3, "time": "2026-11-29T09:30:15Z"}])),
    "6.12": ((E,), fixed(written(powerThresholds={"low": 1000, "medium": 3000}))),
    "6.13": (METERS, fixed([{"events": EVENTS}], {"log": "Security", **PERIOD})),
    "6.15.1": (METERS, fixed([{"replaced": True}], {"role": "Supplier"})),
    "6.18.1": ((E,), fixed(written(maxDemandPeriod=1800), {"maxDemandPeriod": 3600})),
    "6.20.1": (METERS, fixed(written(importMpxn="1200023305967"))),
    "6.22": (METERS, fixed(written(alertBehaviours={}), {"alertBehaviours": {"810D": True}})),
    "6.23": (METERS, fixed([{"replaced": True}], {"importMpxn": "1200023305967"})),
    "6.25": ((E,), fixed(written(tamperState="unlocked"), {"tamperState": "locked"})),
    "7.1": ((E,), fixed([{"supply": "enabled"}])),
    "7.2": (METERS, fixed([{"supply": "disabled"}])),
    "7.3": (METERS, fixed([{"supply": "armed"}])),
    "7.4": (METERS, per_type(configuration)),
    "7.12": ((E,), fixed(written(randomisationOffsetLimit=0), {"randomisationOffsetLimit": 900})),
    "8.7.1": (METERS, fixed([{"joined": PPMID_HEX}], {"device": PPMID_HEX})),
    "8.7.2": (METERS, fixed([{"joined": IHD_HEX}], {"device": IHD_HEX})),
    "8.8.1": (METERS, fixed([{"unjoined": PPMID_HEX}], {"device": PPMID_HEX})),
    "8.8.2": (METERS, fixed([{"unjoined": IHD_HEX}], {"device": IHD_HEX})),
    "8.9": (("CHF", "GPF"), fixed([{"devices": HAN}])),
    "8.11": (("CHF",), fixed([{"joined": IHD_HEX}, {"unjoined": PPMID_HEX}])),
    "11.2": (("ESME", "GSME", "CHF", "GPF", "PPMID"), per_type(identity)),
    "11.3": (("ESME", "GSME", "CHF"), fixed([{"firmware": "1.7.3"}], {"version": "1.7.3"})),
}
RENDERED = [(srv, t) for srv in EXPECTED for t in CASES.get(srv, ((E,), fixed([])))[0]]


def context(
    srv: str,
    device_type: str = E,
    values: Mapping[str, Any] | None = None,
    stamp: str = "start",
    tou: int = 4,
) -> RenderContext:
    return RenderContext(srv, device_type, values or {}, tou, stamp, AT)


def render(srv: str, device_type: str) -> list[etree._Element]:
    answers, values = CASES[srv][1](device_type)
    return response_payload(context(srv, device_type, values), answers)


# --- the official envelope ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def official() -> schemas.OfficialSchemas:
    if not (SCHEMA_DIR / schemas.OFFICIAL_MAIN).is_file():
        pytest.fail(f"the official DUIS schemas are missing: expected them in {SCHEMA_DIR}")
    return schemas.OfficialSchemas(SCHEMA_DIR)


def placeholder_signature() -> etree._Element:
    """A syntactically valid ds:Signature whose values are placeholders."""
    signature = etree.Element(DS + "Signature", nsmap={"ds": DSIG_NAMESPACE})
    info = etree.SubElement(signature, DS + "SignedInfo")
    etree.SubElement(
        info,
        DS + "CanonicalizationMethod",
        Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    )
    etree.SubElement(
        info,
        DS + "SignatureMethod",
        Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    )
    reference = etree.SubElement(info, DS + "Reference", URI="")
    transforms = etree.SubElement(reference, DS + "Transforms")
    etree.SubElement(
        transforms,
        DS + "Transform",
        Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    )
    etree.SubElement(
        reference, DS + "DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"
    )
    etree.SubElement(reference, DS + "DigestValue").text = "ZGVmYXVsdA=="
    etree.SubElement(signature, DS + "SignatureValue").text = "ZGVmYXVsdA=="
    serial = etree.SubElement(
        etree.SubElement(etree.SubElement(signature, DS + "KeyInfo"), DS + "X509Data"),
        DS + "X509IssuerSerial",
    )
    etree.SubElement(serial, DS + "X509IssuerName").text = "CN=S1SP, OU=07"
    etree.SubElement(serial, DS + "X509SerialNumber").text = "1234567890"
    return signature


def envelope(payload: Sequence[etree._Element], srv: str | None, alert: bool = False) -> bytes:
    """``payload`` inside a complete signed SMETS1 DUIS response, serialised."""
    nsmap = {"sr": DUIS_NAMESPACE, "ra": MMC_NAMESPACE}
    root = etree.Element(SR + "Response", {"schemaVersion": "5.4"}, nsmap=nsmap)
    header = etree.SubElement(root, SR + "Header")
    etree.SubElement(header, SR + "ResponseCode").text = "I0"
    etree.SubElement(header, SR + "ResponseDateTime").text = "2026-11-29T09:30:16.000Z"
    message = etree.SubElement(etree.SubElement(root, SR + "Body"), SR + "SMETS1ResponseMessage")
    if srv is not None:
        etree.SubElement(message, SR + "ServiceReference").text = ".".join(srv.split(".")[:2])
        etree.SubElement(message, SR + "ServiceReferenceVariant").text = srv
    signed = etree.SubElement(message, SR + "SMETS1SignedResponse", {"schemaVersion": "5.4"})
    s1 = etree.SubElement(signed, SR + "SMETS1Response")
    s1_header = etree.SubElement(s1, SR + "Header")
    etree.SubElement(s1_header, RA + "BusinessOriginatorID").text = "00-DB-12-34-56-78-90-A2"
    etree.SubElement(s1_header, RA + "BusinessTargetID").text = "90-B3-D5-1F-30-01-00-00"
    etree.SubElement(s1_header, RA + "OriginatorCounter").text = "1000"
    if srv is not None:
        etree.SubElement(s1_header, RA + "ServiceReference").text = ".".join(srv.split(".")[:2])
        etree.SubElement(s1_header, RA + "ServiceReferenceVariant").text = srv
    body = etree.SubElement(s1, SR + "Body")
    holder = etree.SubElement(body, SR + ("DeviceAlertMessage" if alert else "ResponseMessage"))
    holder.extend(payload)
    signed.append(placeholder_signature())
    root.append(placeholder_signature())
    return etree.tostring(root)


def validate(
    official: schemas.OfficialSchemas,
    payload: Sequence[etree._Element],
    srv: str | None,
    alert: bool = False,
) -> None:
    # Serialise and parse again, so that the namespaces are checked as a receiver sees them.
    official.validate(etree.fromstring(envelope(payload, srv, alert)))


def rsp(payload: Sequence[etree._Element]) -> etree._Element:
    (smets,) = [e for e in payload if e.tag == RA + "SMETSData"]
    (found,) = list(smets)
    return found


def texts(payload: Sequence[etree._Element], path: str) -> list[str]:
    return [e.text or "" for e in rsp(payload).iterfind(path, {"ra": MMC_NAMESPACE})]


# --- the table ----------------------------------------------------------------------------------


def test_the_table_names_the_contracts_response_element_for_every_srv() -> None:
    assert dict(RESPONSE_ELEMENTS) == EXPECTED


@pytest.mark.parametrize("srv", EXPECTED)
def test_every_srv_of_the_contract_has_a_realistic_case_here(srv: str) -> None:
    assert srv in CASES, f"SRV {srv} has no test case: add one to CASES"


@pytest.mark.parametrize(("srv", "device_type"), RENDERED)
def test_a_success_renders_a_payload_the_official_schemas_accept(
    srv: str, device_type: str, official: schemas.OfficialSchemas
) -> None:
    payload = render(srv, device_type)
    found = rsp(payload)
    assert found.tag == RA + EXPECTED[srv]
    assert found.get("MessageSuccess") == "true"
    validate(official, payload, srv)


@pytest.mark.parametrize(("srv", "device_type"), RENDERED)
def test_a_failure_renders_a_payload_the_official_schemas_accept(
    srv: str, device_type: str, official: schemas.OfficialSchemas
) -> None:
    payload = failure_payload(context(srv, device_type), 2, 3, "the device refused: REJECTED")
    validate(official, payload, srv)
    assert rsp(payload).get("MessageSuccess") == "false"
    (status,) = payload[-1].iter(RA + "SMETS1Response")
    assert (status.get("ResponseCode"), status.get("Position")) == ("3", "2")
    assert status.findtext(RA + "Error") == "the device refused: REJECTED"


def test_an_srv_without_an_mmc_response_is_refused() -> None:
    with pytest.raises(ValueError, match=r"SRV 4\.4\.2 has no SMETS1 MMC response"):
        response_payload(context("4.4.2"), [{}])


# --- failures and alerts ------------------------------------------------------------------------


def test_a_failure_message_is_made_xml_safe_and_cut_to_250_characters(
    official: schemas.OfficialSchemas,
) -> None:
    payload = failure_payload(context("4.1.1"), 1, -7, "bad\x00byte " + "x" * 400)
    validate(official, payload, "4.1.1")
    error = payload[-1].findtext(f".//{RA}Error")
    assert error is not None
    assert len(error) == 250
    assert error.startswith("bad?byte x")
    assert error.endswith("...")


def test_a_failure_of_a_branching_rsp_on_a_device_that_is_no_meter_reports_only_the_debug(
    official: schemas.OfficialSchemas,
) -> None:
    payload = failure_payload(context("4.1.1", "CHF"), 1, 5, "not a meter")
    assert [e.tag for e in payload] == [RA + "DebugInfo"]
    validate(official, payload, "4.1.1")


@pytest.mark.parametrize("position", [0, -1, True])
def test_a_failure_position_counts_from_one(position: int) -> None:
    with pytest.raises(ValueError, match="position"):
        failure_payload(context("4.1.1"), position, 1, "x")


def test_a_join_failure_reports_the_status_not_known_with_the_code() -> None:
    payload = failure_payload(context("8.7.1"), 1, 12, "the hub refused")
    status = rsp(payload).find(RA + "joinResponseCode")
    assert status is not None
    assert status.get("ResponseCode") == "12"
    assert status.findtext(RA + "ASN1Status") == "notKnown"


@pytest.mark.parametrize("code", [None, "8F35", "81a0"])
def test_an_alert_payload_validates_with_and_without_its_code(
    code: str | None, official: schemas.OfficialSchemas
) -> None:
    payload = alert_payload("Supply outage\x07 " + "y" * 300, AT, code)
    validate(official, payload, None, alert=True)
    (content,) = payload
    assert content.tag == RA + "DeviceAlertContent"
    assert content.findtext(RA + "GBCSHexAlertCode") == (code.upper() if code else None)
    description = content.findtext(RA + "AlertDescription")
    assert description is not None
    assert len(description) == 250
    assert description.startswith("Supply outage? y")
    assert content.findtext(RA + "Timestamp") == "2026-11-29T09:30:15Z"


@pytest.mark.parametrize("code", ["8F3", "zz", ""])
def test_an_alert_code_must_be_hex_in_pairs(code: str) -> None:
    with pytest.raises(ValueError, match="GBCS alert code"):
        alert_payload("x", AT, code)


def test_an_alert_time_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        alert_payload("x", datetime(2026, 11, 29, 9, 30))


# --- readings: units and the model's rules ------------------------------------------------------


def test_electricity_registers_are_written_in_wh_unchanged() -> None:
    payload = render("4.1.1", E)
    assert texts(payload, "ra:Electricity/ra:ActiveImportRegister/ra:Value") == ["12358023"]
    assert texts(payload, ".//ra:ActiveEnergyUnit") == ["Wh"]


def test_gas_registers_are_written_in_cubic_metres_with_three_exact_decimals() -> None:
    payload = render("4.1.1", G)
    assert texts(payload, "ra:Gas/ra:ConsumptionRegister/ra:Value") == ["4567.891"]
    assert texts(payload, ".//ra:Unit") == ["m3"]
    small = response_payload(context("4.1.1", G), [{"unit": "L", "total": 7, "tou": [7, 0, 0, 0]}])
    assert texts(small, ".//ra:Value") == ["0.007"]


def test_tou_matrices_hold_exactly_the_models_registers_indexed_from_one() -> None:
    payload = render("4.1.2", E)
    found = rsp(payload).findall(f".//{RA}TOUPrimaryRegisterValue")
    assert [(e.get("index"), e.text) for e in found] == [
        ("1", "9012345"),
        ("2", "2345678"),
        ("3", "1000000"),
        ("4", "0"),
    ]
    gas = rsp(render("4.1.2", G)).findall(f".//{RA}TOURegisterMatrixValue")
    assert (gas[0].get("index"), gas[0].text) == ("1", "4567.891")
    blocks = rsp(render("4.1.3", E)).findall(f".//{RA}TariffBlock/{RA}RegisterMatrixTOUValue")
    assert [e.text for e in blocks] == ["9012345", "2345678", "1000000", "0"]


def test_a_tou_answer_that_differs_from_the_models_register_count_is_refused() -> None:
    answers, _ = CASES["4.1.2"][1](E)
    with pytest.raises(ValueError, match="the model has 8 time-of-use registers, the answer 4"):
        response_payload(context("4.1.2", E, tou=8), answers)


def test_a_start_stamping_model_stamps_each_entry_with_its_intervals_start() -> None:
    payload = response_payload(context("4.8.1", E, stamp="start"), profile(E, "start"))
    assert texts(payload, "ra:LogEntry/ra:Timestamp") == [
        "2026-11-28T00:00:00Z",
        "2026-11-28T00:30:00Z",
        "2026-11-28T01:00:00Z",
        "2026-11-28T01:30:00Z",
    ]
    assert texts(payload, "ra:LogEntry/ra:Electricity/ra:PrimaryValue") == [
        "120",
        "95",
        "0",
        "1234",
    ]


def test_an_end_stamping_model_stamps_each_entry_with_its_intervals_end(
    official: schemas.OfficialSchemas,
) -> None:
    payload = response_payload(context("4.8.1", G, stamp="end"), profile(G, "end"))
    validate(official, payload, "4.8.1")
    assert texts(payload, "ra:LogEntry/ra:Timestamp")[0] == "2026-11-28T00:30:00Z"
    assert texts(payload, "ra:LogEntry/ra:Gas/ra:PrimaryValue") == [
        "0.120",
        "0.095",
        "0.000",
        "1.234",
    ]


def test_a_profile_stamped_against_the_models_rule_is_refused() -> None:
    with pytest.raises(ValueError, match=r"lacks its 'start' stamp.*it has 'end'"):
        response_payload(context("4.8.1", E, stamp="start"), profile(E, "end"))


def test_a_profile_longer_than_the_mmc_holds_is_refused() -> None:
    intervals = [{"start": "2026-01-01T00:00:00Z", "value": 1}] * 19_057
    with pytest.raises(ValueError, match=r"19057 profile intervals; .* at most 19056"):
        response_payload(context("4.8.1"), [{"unit": "Wh", "intervals": intervals}])


def test_a_daily_read_log_lists_each_midnight_register() -> None:
    payload = render("4.6.1", G)
    assert texts(payload, "ra:LogEntry/ra:Timestamp")[0] == "2026-11-25T00:00:00Z"
    assert texts(payload, ".//ra:GasActiveImportRegisterConsumption") == [
        "1000.000",
        "1008.432",
        "1015.000",
        "1015.000",
    ]


def test_daily_consumption_is_the_difference_of_consecutive_midnights() -> None:
    electricity = render("4.17", E)
    assert texts(electricity, "ra:Electricity/ra:LogEntry/ra:Value") == ["8432", "6568", "0"]
    assert texts(electricity, "ra:Electricity/ra:LogEntry/ra:Timestamp") == [
        "2026-11-26T00:00:00Z",
        "2026-11-27T00:00:00Z",
        "2026-11-28T00:00:00Z",
    ]
    gas = render("4.17", G)
    assert texts(gas, "ra:Gas/ra:LogEntry/ra:Value") == ["8.432", "6.568", "0.000"]


def test_daily_consumption_refuses_registers_that_are_not_a_day_apart_or_go_down() -> None:
    gap = [{"unit": "Wh", "days": [
        {"time": "2026-11-25T00:00:00Z", "value": 1},
        {"time": "2026-11-27T00:00:00Z", "value": 2},
    ]}]  # fmt: skip
    with pytest.raises(ValueError, match="not a day apart"):
        response_payload(context("4.17"), gap)
    down = [{"unit": "Wh", "days": [
        {"time": "2026-11-25T00:00:00Z", "value": 5},
        {"time": "2026-11-26T00:00:00Z", "value": 2},
    ]}]  # fmt: skip
    with pytest.raises(ValueError, match="went down"):
        response_payload(context("4.17"), down)


def test_an_answer_in_the_other_meters_unit_is_refused() -> None:
    answers, _ = CASES["4.1.1"][1](G)
    with pytest.raises(ValueError, match="a ESME answers in Wh, not 'L'"):
        response_payload(context("4.1.1", E), answers)


# --- tariff, money and settings -----------------------------------------------------------------


def test_an_electricity_tariff_is_written_in_gbp_with_the_schemas_scales() -> None:
    payload = render("4.11.1", E)
    assert texts(payload, "ra:Electricity/ra:StandingCharge") == ["60"]
    assert texts(payload, "ra:Electricity/ra:StandingChargeScale") == ["-2"]
    assert texts(payload, "ra:Electricity/ra:PriceScale") == ["-4"]
    assert texts(payload, ".//ra:TariffTOUPrice") == ["2450", "1320", "3775"]
    schedule = rsp(payload).findall(f".//{RA}ProfileSchedule")
    starts = [(s.findtext(RA + "StartTime"), s.findtext(RA + "TOUTariffAction")) for s in schedule]
    assert starts == [
        ("00:00:00Z", "2"),
        ("07:00:00Z", "1"),
        ("17:00:00Z", "3"),
        ("21:00:00Z", "2"),
    ]
    assert len(rsp(payload).findall(f".//{RA}ReferencedElecDay")) == 7


def test_an_electricity_price_too_large_for_the_schema_moves_its_zeros_into_the_scale() -> None:
    tariff = {"bands": [0] * 48, "prices": [100_000, 50_000], "standingCharge": 100_000}
    payload = response_payload(context("4.11.1"), [{"tariff": tariff}])
    assert texts(payload, ".//ra:TariffTOUPrice") == ["10000", "5000"]
    assert texts(payload, ".//ra:PriceScale") == ["-3"]
    assert texts(payload, ".//ra:StandingCharge") == ["10000"]
    assert texts(payload, ".//ra:StandingChargeScale") == ["-1"]
    inexact = {"bands": [0] * 48, "prices": [123_457], "standingCharge": 1}
    with pytest.raises(ValueError, match="cannot be written exactly"):
        response_payload(context("4.11.1"), [{"tariff": inexact}])


def test_a_gas_tariff_is_written_in_millipence() -> None:
    payload = render("4.11.1", G)
    assert texts(payload, "ra:Gas/ra:StandingCharge") == ["30000"]
    assert texts(payload, "ra:Gas/ra:TOUTariff/ra:TariffTOUPrice") == ["7000"]
    assert texts(payload, ".//ra:DayProfile/ra:TOUTariffAction") == ["1"]


def test_a_gas_tariff_switching_within_the_day_has_no_gas_switching_table(
    official: schemas.OfficialSchemas,
) -> None:
    tariff = {"bands": [0] * 24 + [1] * 24, "prices": [700, 650], "standingCharge": 30}
    payload = response_payload(context("4.11.1", G), [{"tariff": tariff}])
    validate(official, payload, "4.11.1")
    assert rsp(payload).find(f".//{RA}TariffSwitchingTable") is None
    assert texts(payload, ".//ra:TariffTOUPrice") == ["7000", "6500"]


def test_money_is_written_in_pence_as_the_device_holds_it() -> None:
    assert texts(render("4.3", E), "ra:MeterBalance") == ["1234"]
    assert texts(render("4.3", E), "ra:AccumulatedDebtRegister") == ["500"]
    assert texts(render("4.18", G), "ra:MeterBalance") == ["1234"]
    configuration = render("4.13", E)
    assert texts(configuration, "ra:EmergencyCreditLimit") == ["1000"]
    assert texts(configuration, "ra:MaxCreditMaxMeterBalance") == ["1000000"]
    assert texts(configuration, "ra:CreditMaxCreditThreshold") == ["100000"]


def test_gas_settings_are_written_as_exact_decimals() -> None:
    payload = render("6.2.8", G)
    assert texts(payload, "ra:CalorificValue") == ["39.500"]
    assert texts(payload, "ra:ConversionFactor") == ["1.022640"]
    assert texts(payload, "ra:UncontrolledGasFlowRate") == ["6.000"]
    assert texts(payload, "ra:FlowMeasurementPeriod") == ["60"]


@pytest.mark.parametrize(
    ("periodicity", "start", "expected"),
    [
        ("daily", "2026-01-01T06:30:00Z", ("Daily", "")),
        ("weekly", "2026-01-05T00:00:00Z", ("Weekly", "1")),
        ("monthly", "2026-01-28T00:00:00Z", ("Monthly", "28")),
        ("quarterly", "2026-02-03T00:00:00Z", ("Quarterly", "32")),
        ("half-yearly", "2026-04-01T00:00:00Z", ("SixMonthly", "14")),
        ("yearly", "2026-12-25T00:00:00Z", ("Yearly", "2512")),
    ],
)
def test_an_electricity_billing_calendar_follows_its_start_and_periodicity(
    periodicity: str,
    start: str,
    expected: tuple[str, str],
    official: schemas.OfficialSchemas,
) -> None:
    calendar = {"start": start, "periodicity": periodicity}
    payload = response_payload(context("6.2.3"), settings(billingCalendar=calendar))
    validate(official, payload, "6.2.3")
    found = rsp(payload).find(f".//{RA}ElectricityBillingCalendar")
    assert found is not None
    assert found.findtext(RA + "BillingTime") == start[11:19] + "Z"
    kind = found[1]
    assert (etree.QName(kind).localname, "".join(str(text) for text in kind.itertext())) == expected


def test_an_electricity_billing_day_past_the_28th_is_refused() -> None:
    calendar = {"start": "2026-01-31T00:00:00Z", "periodicity": "monthly"}
    with pytest.raises(ValueError, match="day 1 to 28 of a month, not 31"):
        response_payload(context("6.2.3"), settings(billingCalendar=calendar))


def test_a_gas_billing_calendar_keeps_its_start_and_names_its_periodicity() -> None:
    calendar = {"start": "2026-01-01T00:00:00Z", "periodicity": "half-yearly"}
    payload = response_payload(context("6.2.3", G), settings(billingCalendar=calendar))
    assert texts(payload, ".//ra:BillingPeriodStart") == ["2026-01-01T00:00:00Z"]
    assert texts(payload, ".//ra:Periodicity") == ["SixMonthly"]


def test_alert_behaviours_report_every_supplier_alert_enabled_unless_disabled() -> None:
    electricity = rsp(render("6.2.10", E))
    common = electricity.find(f".//{RA}SupplierESMECommon")
    assert common is not None
    assert len(common) == 42
    assert common.findtext(RA + "x8119") == "Disable"
    assert common.findtext(RA + "x810D") == "Enable"
    assert electricity.findtext(f".//{RA}SupplierESMEPolyPhase/{RA}x81B7") == "Enable"
    gas = rsp(render("6.2.10", G)).find(f"{RA}GasSupplierAlertEventSettings/{RA}x8119")
    assert gas is not None
    assert [e.text for e in gas] == ["Disable"] * 4


def test_identity_texts_longer_than_their_mmc_fields_are_left_out_not_cut(
    official: schemas.OfficialSchemas,
) -> None:
    answer = {**identity(E)[0], "model": "EDM-Atlas-Mk10A", "firmware": "V01.07.02"}
    payload = response_payload(context("6.2.4"), [answer])
    validate(official, payload, "6.2.4")
    assert texts(payload, "ra:DeviceIdentifier") == ["00-DB-12-34-56-78-90-A2"]
    assert rsp(payload).find(RA + "ModelType") is None
    activated = response_payload(context("11.3"), [{"firmware": "V01.07.02"}])
    assert rsp(activated).find(RA + "FirmwareVersion") is None
    assert texts(activated, "ra:ActivateImageResponseCode/ra:ASN1Status") == ["success"]
    assert texts(response_payload(context("11.2"), [answer]), "ra:FirmwareVersion") == ["V01.07.02"]


def test_reads_of_settings_map_each_value_to_its_field() -> None:
    assert texts(render("4.15", E), "ra:LoadLimitCounterValue") == ["3"]
    assert texts(render("4.15", E), "ra:LoadLimitPowerThreshold") == ["10000"]
    assert texts(render("6.2.1", E), ".//ra:AverageRMSOverVoltageThreshold") == ["253"]
    assert texts(render("6.2.1", E), ".//ra:RMSExtremeUnderVoltageThreshold") == ["207"]
    assert texts(render("6.2.2", E), "ra:RandomisedOffsetLimit") == ["900"]
    assert texts(render("6.2.5", E), "ra:LowMediumPowerThreshold") == ["1000"]
    assert texts(render("6.2.5", E), "ra:MediumHighPowerThreshold") == ["3000"]
    assert texts(render("6.2.9", G), "ra:PaymentMode") == ["Prepayment"]
    assert texts(render("6.2.7", E), "ra:Electricity/ra:ImportMPAN") == ["1200023305967"]
    assert texts(render("6.2.7", G), "ra:Gas/ra:MPRN") == ["7123456804"]
    assert texts(render("7.4", E), "ra:SupplyState") == ["Armed"]


def test_logs_clock_and_han_answers_are_written_as_the_device_gave_them() -> None:
    log = render("6.13", G)
    assert texts(log, ".//ra:Timestamp") == ["2026-11-29T09:00:00Z", "2026-11-28T17:12:09Z"]
    assert texts(log, ".//ra:LogMeaning") == ["clock_synchronised", "credential_replaced"]
    assert texts(log, ".//ra:OtherInformationLogMeaning") == ["was 3s off"]
    assert texts(render("6.11", E), "ra:DeviceTime") == ["2026-11-29T09:30:15Z"]
    han = rsp(render("8.9", "CHF")).findall(f".//{RA}LogEntry")
    assert [(e.findtext(RA + "DeviceID"), e.findtext(RA + "DeviceType")) for e in han] == [
        ("00-DB-12-34-56-78-90-A2", "ESME"),
        ("00-DB-12-34-56-78-90-B7", "Type2"),
        ("00-DB-12-34-56-78-90-B8", "PPMID"),
    ]
    joined = rsp(render("8.7.2", E)).find(RA + "joinResponseCode")
    assert joined is not None
    assert (joined.get("ResponseCode"), joined.findtext(RA + "ASN1Status")) == ("0", "success")


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("srv", "device_type", "answers", "problem"),
    [
        ("4.1.1", E, [{"unit": "Wh", "tou": [1]}], "SRV 4.1.1: the answer lacks 'total'"),
        ("4.1.1", E, [{"unit": "Wh", "total": "12"}], "'total' must be an integer"),
        ("4.1.1", E, [{"unit": "Wh", "total": True}], "'total' must be an integer"),
        ("4.1.1", E, [], "the device gave no answer"),
        ("4.3", E, [{"debt": 0}], "lacks 'balance'"),
        ("4.6.1", E, [{"unit": "Wh"}], "lacks 'days'"),
        ("4.8.1", E, [{"unit": "Wh", "intervals": [{"start": "x", "value": 1}]}], "ISO 8601"),
        ("4.11.1", E, [{"mpxn": None}], "lacks 'tariff'"),
        ("4.13", E, [{"balance": 1}], "lacks the setting 'prepayment'"),
        ("6.2.1", E, settings(voltage={}), "lacks 'averageRmsOverVoltageThreshold'"),
        ("6.2.1", G, settings(voltage=VOLTAGE), "is read from an ESME only"),
        ("6.2.4", E, [{"deviceId": "nope", "model": "m", "manufacturer": "x"}], "EUI-64"),
        ("6.2.7", E, [{"mpxn": "12345678901234"}], "longer than the MMC's 13 digits"),
        ("6.2.10", E, settings(alertBehaviours={"81": True}), "not 4 hex digits"),
        ("6.11", E, [{"offset": 3}], "lacks 'time'"),
        ("6.13", E, [{"events": [{"time": "2026-11-29T09:00:00Z"}]}], "lacks 'kind'"),
        ("7.4", E, [{"supply": "open"}], "unknown supply state"),
        ("8.7.1", E, [{"unjoined": IHD_HEX}], "lacks 'joined'"),
        ("8.9", "CHF", [{"devices": [{"device": IHD_HEX, "deviceType": "Toaster"}]}], "Toaster"),
        ("11.3", E, [{}], "lacks 'firmware'"),
        ("3.1", E, [], "the device gave no answer"),
    ],
)
def test_an_answer_lacking_what_the_rsp_needs_is_refused_naming_the_problem(
    srv: str, device_type: str, answers: Answers, problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        response_payload(context(srv, device_type), answers)


def test_an_event_log_longer_than_the_mmc_holds_is_refused() -> None:
    events = [{"time": "2026-11-29T09:00:00Z", "kind": "k", "detail": ""}] * 101
    with pytest.raises(ValueError, match="101 log entries"):
        response_payload(context("6.13"), [{"events": events}])
