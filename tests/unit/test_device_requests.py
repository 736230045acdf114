"""Device request bodies (formats.duis.device_requests): read into request values and built
from them, each built body valid against the official DUIS V5.4 schema inside a complete
Request, the public templates read into their values or refused naming the field, and hostile
bodies refused with InvalidField, never another exception.

The official schemas and templates are read here, in the tests, never by the product; when
they are missing the tests fail.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE
from s1adopt.domain.identities import Mpan, Mprn
from s1adopt.domain.srv import lookup
from s1adopt.formats.duis import schemas
from s1adopt.formats.duis.device_requests import (
    SUPPORTED,
    build_body,
    device_types,
    example_values,
    read_values,
)
from s1adopt.formats.duis.requests import InvalidField, parse_request, read_header

DUIS = Path(__file__).resolve().parents[3] / "shared" / "duis"
SCHEMA_DIR = DUIS / "schema"
TEMPLATE_DIR = DUIS / "templates"
SR = f"{{{DUIS_NAMESPACE}}}"
LIMIT = 1024 * 1024
NOW = datetime(2026, 3, 14, 9, 26, 53, 123456, tzinfo=UTC)
REQUEST_ID = "90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:1000"
M, E, G = ("ESME", "GSME"), ("ESME",), ("GSME",)

# The contract's table: every SRV the device service reads, with the device types its
# Equivalent Steps serve.
TARGETS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(["4.1.1", "4.1.2", "4.3", "4.6.1", "4.8.1", "4.11.1", "4.13"], M),
    **dict.fromkeys(["4.17", "4.18", "1.1.1", "1.2.1", "1.6", "2.1", "2.2", "2.3", "2.5"], M),
    **dict.fromkeys(["3.1", "3.2", "3.3", "3.4", "3.5", "6.2.3", "6.2.4", "6.2.7"], M),
    **dict.fromkeys(["6.2.9", "6.2.10", "6.8", "6.11", "6.13", "6.15.1", "6.20.1"], M),
    **dict.fromkeys(["6.22", "6.23", "7.2", "7.3", "7.4", "8.7.1", "8.7.2", "8.8.1"], M),
    **dict.fromkeys(["8.8.2"], M),
    **dict.fromkeys(["4.1.3", "4.15", "4.16", "6.2.1", "6.2.2", "6.2.5", "6.4.1"], E),
    **dict.fromkeys(["6.4.2", "6.5", "6.12", "6.18.1", "6.25", "7.1", "7.12"], E),
    **dict.fromkeys(["6.2.8", "6.6", "6.7"], G),
    "8.9": ("CHF", "GPF"),
    "8.11": ("CHF",),
    "11.2": ("ESME", "GSME", "CHF", "GPF", "PPMID"),
    "11.3": ("ESME", "GSME", "CHF"),
}
CASES = [(srv, device) for srv, devices in TARGETS.items() for device in devices]
FUTURE_DATABLE = [
    *["4.1.1", "4.1.2", "4.1.3", "4.3", "4.6.1", "4.8.1", "4.13", "4.15", "4.17", "4.18"],
    *["1.1.1", "1.2.1", "1.6", "2.1", "3.1", "3.2", "3.4", "6.4.1", "6.4.2", "6.5", "6.12"],
    *["6.15.1", "6.18.1", "6.20.1", "6.23", "8.9", "8.11", "11.2", "11.3"],
]
MPAN = Mpan.with_check_digit("123456789012").core
MPRN = Mprn.with_check_digits("12345678").value


@pytest.fixture(scope="module")
def official() -> schemas.OfficialSchemas:
    return schemas.OfficialSchemas(SCHEMA_DIR)


def request(srv: str, body: etree._Element) -> etree._Element:
    """A complete Request of the templates' form around (a copy of) ``body``."""
    row = lookup(srv)
    assert row is not None
    root = etree.Element(SR + "Request", nsmap={"sr": DUIS_NAMESPACE}, schemaVersion="5.4")
    header = etree.SubElement(root, SR + "Header")
    for name, text in (
        ("RequestID", REQUEST_ID),
        ("CommandVariant", "4" if row.critical else "1"),
        ("ServiceReference", row.service_reference),
        ("ServiceReferenceVariant", srv),
    ):
        etree.SubElement(header, SR + name).text = text
    etree.SubElement(root, SR + "Body").append(copy.deepcopy(body))
    return root


def xml(text: str) -> etree._Element:
    """A body element written as DUIS XML with the prefix sr."""
    wrapper = etree.fromstring(f'<sr:Body xmlns:sr="{DUIS_NAMESPACE}">{text}</sr:Body>')
    return wrapper[0]


def refusal(srv: str, body: etree._Element) -> InvalidField:
    with pytest.raises(InvalidField) as caught:
        read_values(srv, body)
    return caught.value


def srv_order(srv: str) -> tuple[int, ...]:
    return tuple(int(part) for part in srv.split("."))


# --- the table and the round trip ---------------------------------------------------------


def test_the_supported_srvs_are_the_contracts_table() -> None:
    assert sorted(SUPPORTED, key=srv_order) == sorted(TARGETS, key=srv_order)


@pytest.mark.parametrize("srv", sorted(TARGETS, key=srv_order))
def test_each_srv_serves_the_device_types_of_its_equivalent_steps(srv: str) -> None:
    assert srv in SUPPORTED
    assert device_types(srv) == frozenset(TARGETS[srv])


@pytest.mark.parametrize(("srv", "device_type"), CASES)
def test_a_built_body_is_schema_valid_and_reads_back_its_values(
    srv: str, device_type: str, official: schemas.OfficialSchemas
) -> None:
    assert srv in SUPPORTED
    values = example_values(srv, device_type, now=NOW)
    body = build_body(srv, values, device_type)

    row = lookup(srv)
    assert row is not None
    assert etree.QName(body).localname in row.body_elements
    assert etree.QName(body).namespace == DUIS_NAMESPACE
    document = request(srv, body)
    official.validate(document)
    assert read_values(srv, body) == values

    # the same through the gateway's own reading of the bytes
    header = read_header(parse_request(etree.tostring(document, xml_declaration=True), LIMIT))
    assert header.service_reference_variant == srv
    assert header.body is not None
    assert read_values(srv, header.body) == values


@pytest.mark.parametrize("srv", FUTURE_DATABLE)
def test_a_future_dated_body_carries_its_execution_time(
    srv: str, official: schemas.OfficialSchemas
) -> None:
    device_type = TARGETS[srv][0]
    values = {
        **example_values(srv, device_type, now=NOW),
        "executionDateTime": "2030-01-15T09:00:00Z",
    }
    body = build_body(srv, values, device_type)
    official.validate(request(srv, body))
    assert read_values(srv, body) == values


@pytest.mark.parametrize("srv", sorted(set(TARGETS) - set(FUTURE_DATABLE), key=srv_order))
def test_a_body_without_an_execution_time_in_the_schema_cannot_carry_one(srv: str) -> None:
    device_type = TARGETS[srv][0]
    values = {
        **example_values(srv, device_type, now=NOW),
        "executionDateTime": "2030-01-15T09:00:00Z",
    }
    with pytest.raises(ValueError, match="executionDateTime"):
        build_body(srv, values, device_type)

    body = build_body(srv, example_values(srv, device_type, now=NOW), device_type)
    body.insert(0, etree.Element(SR + "ExecutionDateTime"))
    body[0].text = "2030-01-15T09:00:00Z"
    assert refusal(srv, body).field == etree.QName(body).localname


def test_example_values_are_refused_for_a_device_type_the_srv_does_not_serve() -> None:
    with pytest.raises(ValueError, match="ESME"):
        example_values("6.5", "GSME")
    with pytest.raises(ValueError, match="CHF"):
        example_values("8.9", "ESME")
    with pytest.raises(ValueError, match="not a device request SRV"):
        example_values("11.1", "ESME")  # non-device: not this module's


def test_the_profile_window_is_the_two_days_before_nows_day() -> None:
    assert example_values("4.8.1", "ESME", now=NOW) == {
        "from": "2026-03-12T00:00:00Z",
        "to": "2026-03-14T00:00:00Z",
    }
    assert example_values("6.11", "GSME", now=NOW)["time"] == "2026-03-14T09:26:53Z"
    naive = datetime(2026, 3, 14, 9, 26, 53)  # read as UTC
    assert example_values("6.11", "GSME", now=naive)["time"] == "2026-03-14T09:26:53Z"


# --- the official templates -----------------------------------------------------------------


class Refused:
    """A template the SMETS1 equivalent cannot carry: refused naming this field."""

    def __init__(self, field: str, words: str) -> None:
        self.field = field
        self.words = words


TARIFF = "UpdateImportTariffPrimaryElement/"
ELEC_DAY = TARIFF + "ElecTariffElements/SwitchingTable/DayProfiles/DayProfile[1]/"
PRICE = "UpdatePricePrimaryElement/PriceElements/"
PREPAY = "UpdatePrepayConfiguration/"
ELEC_CALENDAR = PREPAY + "UpdatePrepayConfigElectricity/ElectricityNonDisablementCalendar/"
ALERTS = "ConfigureAlertBehaviour/"
LOAD_LIMIT = "UpdateDeviceConfigurationLoadLimitingGeneralSettings/LoadLimitSupplyState"
HASH = "aa758690730934ff0685aa758690730934ff0685657788990011223344556677"
DAY_1 = {"from": "2014-12-31T00:00:00Z", "to": "2015-01-01T00:00:00Z"}
VOLTAGE = {
    "voltage": {
        "extremeOverVoltageThreshold": 287,
        "extremeUnderVoltageThreshold": 180,
        "averageRmsOverVoltageThreshold": 264,
        "averageRmsUnderVoltageThreshold": 200,
        "averageRmsVoltageMeasurementPeriod": 30,
    }
}
TEMPLATES: dict[str, dict[str, Any] | Refused] = {
    "CCS01_8.11_SUCCESS": {"add": ["00DB1234567890A0"], "remove": []},
    "CCS02_8.11_SUCCESS": {"add": [], "remove": ["00DB1234567890A0"]},
    "CCS07_8.9_SUCCESS": Refused("ReadDeviceLog/ReadSecurityDetails", "security details"),
    "CS01a_2.2_SUCCESS": {"utrn": "73946144332040217315"},
    "CS02bNOByNO_6.15.1_SUCCESS": {"role": "NetworkOperator"},
    "CS02bSupplierBySupplier_6.15.1_CANCELLATION_SUCCESS": {
        "role": "Supplier",
        "executionDateTime": "3000-12-31T00:00:00Z",
    },
    "CS02bSupplierBySupplier_6.15.1_FUTURE_DATED_SUCCESS": {
        "role": "Supplier",
        "executionDateTime": "2030-01-15T00:00:00Z",
    },
    "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS": {"role": "Supplier"},
    "CS02bSupplierByTransCoS_6.23_CANCELLATION_SUCCESS": Refused(
        "UpdateSecurityCredentialsCoS/ImportMPxN", "check digit"
    ),
    "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS": Refused(
        "UpdateSecurityCredentialsCoS/ImportMPxN", "check digit"
    ),
    "CS02gLoadControllerBySupplier_6.15.1_FUTURE_DATED_SUCCESS": {
        "role": "LoadController",
        "executionDateTime": "2030-01-15T00:00:00Z",
    },
    "CS03B_8.7.2_SUCCESS": {"device": "00DB12345678909C"},
    "CS03CCritical_8.7.1_SUCCESS": {"device": "00DB123456789098"},
    "CS03CNonCritical_8.7.2_SUCCESS": {"device": "00DB123456789094"},
    "CS04ACCritical_8.8.1_SUCCESS": {"device": "00DB123456789099"},
    "CS04B_8.8.2_SUCCESS": {"device": "0102030405060708"},
    "CS06_11.3_FUTURE_DATED_SUCCESS": {
        "firmwareHash": HASH,
        "executionDateTime": "2030-01-15T09:00:00Z",
    },
    "CS06_11.3_IMMEDIATE_SUCCESS": {"firmwareHash": HASH},
    "CS07_8.9_SUCCESS": {},
    "CS08_11.2_SUCCESS": {},
    "CS10a_6.13_SUCCESS": {
        "from": "2014-12-31T00:00:00Z",
        "to": "2030-01-01T00:00:00Z",
        "log": "Event",
    },
    "CS10b_6.13_SUCCESS": {**DAY_1, "log": "Security"},
    "CS11_3.3_SUCCESS": {},
    "ECS01a_1.1.1_CANCELLATION_TOU_BLOCK_SUCCESS": Refused(
        ELEC_DAY + "ProfileSchedule[1]/BlockTariffAction", "time-of-use"
    ),
    "ECS01a_1.1.1_FUTURE_DATED_TOU_BLOCK_SUCCESS": Refused(
        ELEC_DAY + "ProfileSchedule[1]/BlockTariffAction", "time-of-use"
    ),
    "ECS01a_1.1.1_IMMEDIATE_BLOCK_SUCCESS": Refused(
        ELEC_DAY + "ProfileSchedule[1]/BlockTariffAction", "time-of-use"
    ),
    "ECS01b_1.2.1_CANCELLATION_TOU_BLOCK_SUCCESS": Refused(
        PRICE + "ElectricityPriceElements/HybridTariff", "time-of-use"
    ),
    "ECS01b_1.2.1_FUTURE_DATED_TOU_BLOCK_SUCCESS": Refused(
        PRICE + "ElectricityPriceElements/HybridTariff", "time-of-use"
    ),
    "ECS01b_1.2.1_IMMEDIATE_TOU_SUCCESS": Refused(
        PRICE + "ElectricityPriceElements/TOUTariff/TOUPrice[1]",
        "3221 x 10^-5 GBP a kWh is not a whole number of hundredths of a penny",
    ),
    "ECS02_1.6_CANCELLATION_TWIN_SUCCESS": {
        "paymentMode": "credit",
        "executionDateTime": "3000-12-31T00:00:00Z",
    },
    "ECS03_1.6_FUTURE_DATED_TWIN_SUCCESS": Refused(
        "UpdatePaymentMode/Prepayment/SuspendDebtDisabled", "suspend debt"
    ),
    "ECS07_2.3_SUCCESS": Refused("UpdateDebt/DebtRecoveryPerPayment", "must be 0"),
    "ECS08_2.1_CANCELLATION_SUCCESS": Refused(
        ELEC_CALENDAR + "ElectricityNonDisablementSchedule[1]", "non-disablement"
    ),
    "ECS08_2.1_FUTURE_DATED_SUCCESS": Refused(
        ELEC_CALENDAR + "ElectricityNonDisablementSchedule[1]", "non-disablement"
    ),
    "ECS08a_2.1_IMMEDIATE_SUCCESS": Refused(
        ELEC_CALENDAR + "ElectricityNonDisablementSchedule[1]", "non-disablement"
    ),
    "ECS09_2.5_SUCCESS": {},
    "ECS12_3.2_SUCCESS": {"restrictionDateTime": "2014-03-27T15:45:32Z"},
    "ECS15a_3.3_SUCCESS": {},
    "ECS15c_3.3_SUCCESS": {"log": "ALCS"},
    "ECS17b_4.1.1_DSP_FUTURE_DATED": {"executionDateTime": "2015-01-15T09:00:00Z"},
    "ECS17b_4.1.1_SINGLE_SUCCESS": {},
    "ECS17b_4.1.1_TWIN_SUCCESS": {},
    "ECS17d_4.1.2_SINGLE_SUCCESS": {},
    "ECS17d_4.1.2_TWIN_SUCCESS": {},
    "ECS17e_4.1.3_SUCCESS": {},
    "ECS19_4.3_SUCCESS": {},
    "ECS22b_4.8.1_SINGLE_SUCCESS": DAY_1,
    "ECS22b_4.8.1_TWIN_SUCCESS": DAY_1,
    "ECS24_4.11.1_SUCCESS": {},
    "ECS25a1_6.22_SUCCESS": Refused(ALERTS + "ElectricitySupplierHANAlertSettings", "HAN alerts"),
    "ECS25a3_6.22_SUCCESS": Refused(ALERTS + "ElectricitySupplierLoggingSettings", "logging"),
    "ECS25b3_6.22_SUCCESS": Refused(
        ALERTS + "ElectricityNetworkOperatorLoggingSettings", "logging"
    ),
    "ECS25r2_6.2.10_SUCCESS": {},
    "ECS26a_4.13_TWIN_SUCCESS": {},
    "ECS26e_6.2.4_SUCCESS": {},
    "ECS26f_6.2.5_SUCCESS": {},
    "ECS26j_6.2.9_SUCCESS": {},
    "ECS26k_6.2.1_SUCCESS": {},
    "ECS26l_6.2.3_SUCCESS": {},
    "ECS26m_6.2.4_SUCCESS": {},
    "ECS26n_6.2.4_SUCCESS": {},
    "ECS27_4.15_SUCCESS": {},
    "ECS28a_6.4.1_CANCELLATION_SUCCESS": Refused(LOAD_LIMIT, "Unchanged"),
    "ECS28a_6.4.1_FUTURE_DATED_SUCCESS": {
        "loadLimit": {"period": 300, "powerThreshold": 6900, "restorationPeriod": 30},
        "executionDateTime": "2030-01-15T09:00:00Z",
    },
    "ECS28a_6.4.1_IMMEDIATE_SUCCESS": Refused(LOAD_LIMIT, "Unchanged"),
    "ECS28b_6.4.2_SUCCESS": {},
    "ECS29a_6.5_SUCCESS": VOLTAGE,
    "ECS29b_6.5_SUCCESS": Refused(
        "UpdateDeviceConfigurationVoltage/PolyPhaseVoltageSettings[2]", "every phase"
    ),
    "ECS29c_6.5_SUCCESS": VOLTAGE,
    "ECS30_6.8_SUCCESS": {
        "billingCalendar": {"start": "2026-01-01T12:00:00Z", "periodicity": "monthly"},
        "fuel": "electricity",
    },
    "ECS30a_6.8_SUCCESS": {
        "billingCalendar": {"start": "2026-01-01T00:00:00Z", "periodicity": "quarterly"},
        "fuel": "electricity",
    },
    "ECS34_6.12_SUCCESS": {"powerThresholds": {"low": 2300, "medium": 4600}},
    "ECS35a_6.13_SUCCESS": {**DAY_1, "log": "Event"},
    "ECS35b_6.13_SUCCESS": {**DAY_1, "log": "Security"},
    "ECS35e_6.13_SUCCESS": {**DAY_1, "log": "PowerEvent"},
    "ECS35f_6.13_SUCCESS": {
        "from": "2014-12-15T00:00:00Z",
        "to": "2015-01-01T00:00:00Z",
        "log": "ALCSEvent",
    },
    "ECS37_6.18.1_SUCCESS": Refused(
        "SetMaximumDemandConfigurableTimePeriod/MaximumDemandTimePeriodSchedule/StartTime",
        "midnight",
    ),
    "ECS38_7.12_SUCCESS": {"randomisationOffsetLimit": 900},
    "ECS40_6.2.7_SINGLE_SUCCESS": {},
    "ECS40_6.2.7_TWIN_SUCCESS": {},
    "ECS42_7.1_SUCCESS": {},
    "ECS43_7.2_SUCCESS": {},
    "ECS44_7.3_SUCCESS": {},
    "ECS45_7.4_SUCCESS": {},
    "ECS52_11.2_SUCCESS": {},
    "ECS66_4.17_SUCCESS": {"from": "2014-12-01T09:00:00Z", "to": "2014-12-05T11:05:00Z"},
    "ECS70_6.11_SUCCESS": {"time": "2014-12-31T23:59:10Z", "tolerance": 60},
    "ECS81_6.25_SUCCESS": {"tamperState": "locked"},
    "GCS01a_1.1.1_CANCELLATION_BLOCK_SUCCESS": Refused(
        TARIFF + "GasTariffElements/SwitchingTable/DayProfiles/DayProfile[1]/BlockTariff",
        "time-of-use",
    ),
    "GCS01b_1.2.1_CANCELLATION_BLOCK_SUCCESS": Refused(
        PRICE + "GasPriceElements/CurrencyUnits", "GBP"
    ),
    "GCS01b_1.2.1_FUTURE_DATED_BLOCK_SUCCESS": Refused(
        PRICE + "GasPriceElements/BlockTariff", "time-of-use"
    ),
    "GCS01b_1.2.1_IMMEDIATE_TOU_SUCCESS": Refused(
        PRICE + "GasPriceElements/StandingCharge", "22465 x 10^-5 GBP a day is not a whole"
    ),
    "GCS03_1.6_CANCELLATION_SUCCESS": Refused(
        "UpdatePaymentMode/Prepayment/SuspendDebtDisabled", "suspend debt"
    ),
    "GCS03_1.6_IMMEDIATE_SUCCESS": {"paymentMode": "prepayment"},
    "GCS05_2.1_CANCELLATION_SUCCESS": Refused(
        PREPAY + "UpdatePrepayConfigGas/MaxMeterBalance", "0 to 10000000"
    ),
    "GCS05_2.1_FUTURE_DATED_SUCCESS": Refused(
        PREPAY + "UpdatePrepayConfigGas/MaxMeterBalance", "0 to 10000000"
    ),
    "GCS05_2.1_IMMEDIATE_SUCCESS": Refused(
        PREPAY + "UpdatePrepayConfigGas/MaxMeterBalance", "0 to 10000000"
    ),
    "GCS06_2.5_SUCCESS": {},
    "GCS07_3.1_SUCCESS": {"text": "Reset"},
    "GCS11_3.5_SUCCESS": {},
    "GCS13a_4.1.1_SUCCESS_RELIABLE_GPF": {},
    "GCS13a_4.1.1_SUCCESS_RELIABLE_GSME": {},
    "GCS13c_4.1.2_SUCCESS_UNRELIABLE": {},
    "GCS14_4.3_SUCCESS_RELIABLE_GPF": {},
    "GCS14_4.3_SUCCESS_RELIABLE_GSME": {},
    "GCS17_4.8.1_SUCCESS": {"from": "2014-12-30T00:00:00Z", "to": "2015-01-01T00:00:00Z"},
    "GCS21e_6.2.4_SUCCESS": {},
    "GCS21f_4.11.1_SUCCESS": {},
    "GCS21j_6.2.9_SUCCESS": {},
    "GCS21k_6.2.3_SUCCESS": {},
    "GCS21m_6.2.4_SUCCESS": {},
    "GCS23_6.6_SUCCESS": {"gasConversion": {"calorificValue": 40000, "conversionFactor": 1022640}},
    "GCS24_6.7_SUCCESS": {"gasFlow": {"uncontrolledGasFlowRate": 6168, "period": 300}},
    "GCS25a_6.8_SUCCESS": {
        "billingCalendar": {"start": "2015-01-01T00:00:00Z", "periodicity": "half-yearly"},
        "fuel": "gas",
    },
    "GCS28_6.11_SUCCESS": {"time": "2014-12-31T23:30:00Z", "tolerance": 3600},
    "GCS32_7.2_SUCCESS": {},
    "GCS39_7.3_SUCCESS": {},
    "GCS44_3.4_SUCCESS": {"supplierName": "E-ON", "supplierTelephone": "0333 202 4650"},
    "GCS46_6.2.7_SUCCESS": {},
    "GCS60a_4.18_SUCCESS_RELIABLE_GPF": {},
    "GCS60a_4.18_SUCCESS_RELIABLE_GSME": {},
    "GCS60a_4.18_SUCCESS_UNRELIABLE_GSME": {},
    "GCS61_4.17_SUCCESS": Refused(
        "RetrieveDailyConsumptionLog/KAPublicSecurityCredentials", "unknown remote party"
    ),
}


def template_body(name: str) -> tuple[str, etree._Element]:
    data = (TEMPLATE_DIR / f"{name}_REQUEST_DUIS.XML").read_bytes()
    header = read_header(parse_request(data, LIMIT))
    assert header.service_reference_variant is not None
    assert header.body is not None
    return header.service_reference_variant, header.body


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_an_official_template_reads_into_its_values_or_is_refused_naming_the_field(
    name: str,
) -> None:
    srv, body = template_body(name)
    expected = TEMPLATES[name]
    if isinstance(expected, Refused):
        problem = refusal(srv, body)
        assert problem.field == expected.field
        assert expected.words in str(problem)
    else:
        assert read_values(srv, body) == expected


def test_every_template_of_a_supported_srv_is_asserted() -> None:
    names = set()
    for path in TEMPLATE_DIR.glob("*_REQUEST_DUIS.XML"):
        header = read_header(parse_request(path.read_bytes(), LIMIT))
        if header.service_reference_variant in SUPPORTED:
            names.add(path.name.removesuffix("_REQUEST_DUIS.XML"))
    assert len(names) > 100
    assert names == set(TEMPLATES)


def test_a_template_that_reads_builds_again_into_a_schema_valid_body(
    official: schemas.OfficialSchemas,
) -> None:
    for name, expected in TEMPLATES.items():
        if isinstance(expected, Refused):
            continue
        srv, _ = template_body(name)
        device_type = "GSME" if expected.get("fuel") == "gas" else TARGETS[srv][0]
        body = build_body(srv, expected, device_type)
        official.validate(request(srv, body))
        assert read_values(srv, body) == expected, name


# --- tariffs and prices ----------------------------------------------------------------------


def day_profile(name: int, switches: list[tuple[str, int]]) -> str:
    schedules = "".join(
        f"<sr:ProfileSchedule><sr:StartTime>{start}</sr:StartTime>"
        f"<sr:TOUTariffAction>{action}</sr:TOUTariffAction></sr:ProfileSchedule>"
        for start, action in switches
    )
    return f"<sr:DayProfile><sr:DayName>{name}</sr:DayName>{schedules}</sr:DayProfile>"


def elec_tariff(
    profiles: list[str],
    prices: list[int],
    price_scale: int = -5,
    week: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 1),
    currency: str = "GBP",
) -> etree._Element:
    days = "".join(
        f'<sr:ReferencedDayName index="{index}">{day}</sr:ReferencedDayName>'
        for index, day in enumerate(week, 1)
    )
    date = (
        "<sr:Year><sr:NonSpecifiedYear/></sr:Year><sr:Month><sr:SpecifiedMonth>1</sr:SpecifiedMonth>"
        "</sr:Month><sr:DayOfMonth><sr:SpecifiedDayOfMonth>1</sr:SpecifiedDayOfMonth>"
        "</sr:DayOfMonth><sr:DayOfWeek><sr:NonSpecifiedDayOfWeek/></sr:DayOfWeek>"
    )
    thresholds = "".join(
        f'<sr:Thresholds index="{i}"><sr:BlockThreshold index="1">4294967295</sr:BlockThreshold>'
        "</sr:Thresholds>"
        for i in range(1, 9)
    )
    tou = "".join(
        f'<sr:TOUPrice index="{i}">{price}</sr:TOUPrice>' for i, price in enumerate(prices, 1)
    )
    return xml(
        "<sr:UpdateImportTariffPrimaryElement><sr:ElecTariffElements>"
        f"<sr:CurrencyUnits>{currency}</sr:CurrencyUnits><sr:SwitchingTable>"
        f"<sr:DayProfiles>{''.join(profiles)}</sr:DayProfiles>"
        f"<sr:WeekProfiles><sr:WeekProfile><sr:WeekName>1</sr:WeekName>{days}</sr:WeekProfile>"
        "</sr:WeekProfiles><sr:Seasons><sr:Season><sr:SeasonName>all</sr:SeasonName>"
        f"<sr:SeasonStartDate>{date}</sr:SeasonStartDate>"
        "<sr:ReferencedWeekName>1</sr:ReferencedWeekName></sr:Season></sr:Seasons>"
        "</sr:SwitchingTable><sr:SpecialDays/>"
        f"<sr:ThresholdMatrix>{thresholds}</sr:ThresholdMatrix></sr:ElecTariffElements>"
        "<sr:PriceElements><sr:ElectricityPriceElements><sr:StandingCharge>5300</sr:StandingCharge>"
        f"<sr:StandingChargeScale>-4</sr:StandingChargeScale><sr:PriceScale>{price_scale}"
        f"</sr:PriceScale><sr:TOUTariff>{tou}</sr:TOUTariff></sr:ElectricityPriceElements>"
        "</sr:PriceElements></sr:UpdateImportTariffPrimaryElement>"
    )


def test_tariff_bands_are_the_first_day_profiles_switches_from_midnight(
    official: schemas.OfficialSchemas,
) -> None:
    # no switch at 00:00: the night band of 23:00 runs on until 07:00
    night_and_day = [("07:00:00Z", 2), ("23:00:00.00Z", 1)]
    body = elec_tariff(
        [day_profile(1, night_and_day), day_profile(2, list(reversed(night_and_day)))],
        [15200, 30500],
        week=(1, 2, 1, 2, 1, 2, 2),
    )
    official.validate(request("1.1.1", body))
    assert read_values("1.1.1", body) == {
        "bands": [0] * 14 + [1] * 32 + [0] * 2,
        "prices": [1520, 3050],  # 15200 x 10^-5 GBP = 1520 hundredths of a penny
        "standingCharge": 53,  # 5300 x 10^-4 GBP = 53 pence
        "fuel": "electricity",
    }


def test_a_tariff_whose_day_profiles_differ_is_refused_as_one_profile_every_day() -> None:
    body = elec_tariff(
        [day_profile(1, [("00:00:00Z", 1)]), day_profile(2, [("00:00:00Z", 2)])],
        [1000, 2000],
        week=(1, 1, 1, 1, 1, 2, 2),
    )
    problem = refusal("1.1.1", body)
    assert problem.field.endswith("DayProfiles/DayProfile[2]")
    assert "one day profile (48 half-hour bands) every day" in str(problem)


@pytest.mark.parametrize(
    ("profiles", "prices", "field", "words"),
    [
        ([day_profile(1, [("00:15:00Z", 1)])], [1000], "ProfileSchedule[1]/StartTime", "half"),
        (
            [day_profile(1, [("00:00:00Z", 2)])],
            [1000],
            "ProfileSchedule[1]/TOUTariffAction",
            "TOU price 2",
        ),
        ([day_profile(1, [("00:00:00Z", 1)])], [1001], "TOUTariff/TOUPrice[1]", "whole number"),
        ([day_profile(1, [("00:00:00Z", 1)])], [-10], "TOUTariff/TOUPrice[1]", "negative"),
        ([day_profile(1, [("00:00:00Z", 1), ("00:00:00Z", 1)])], [1000], "StartTime", "twice"),
        ([day_profile(1, [("00:00:00Z", 1)])] * 2, [1000], "DayProfile[2]/DayName", "twice"),
        (
            [day_profile(1, [(f"{h:02d}:00:00Z", 1) for h in range(24)] * 3)],
            [1000],
            "DayProfile[1]/ProfileSchedule",
            "1 to 48",
        ),
        ([day_profile(1, [("00:00:00Z", 1)])], [10] * 49, "TOUTariff/TOUPrice", "1 to 48"),
    ],
)
def test_a_tariff_the_smets1_equivalent_cannot_carry_is_refused_naming_the_field(
    profiles: list[str], prices: list[int], field: str, words: str
) -> None:
    problem = refusal("1.1.1", elec_tariff(profiles, prices))
    assert problem.field.endswith(field)
    assert words in str(problem)


def test_a_tariff_in_another_currency_or_naming_an_unknown_day_profile_is_refused() -> None:
    one_day = [day_profile(1, [("00:00:00Z", 1)])]
    assert refusal("1.1.1", elec_tariff(one_day, [1000], currency="ECB")).field.endswith(
        "ElecTariffElements/CurrencyUnits"
    )
    problem = refusal("1.1.1", elec_tariff(one_day, [1000], week=(1, 1, 1, 1, 1, 1, 3)))
    assert problem.field.endswith("WeekProfile[1]/ReferencedDayName[7]")
    assert "day profile 3" in str(problem)


def test_gas_prices_are_thousandths_of_a_penny_and_must_match_the_tariffs_fuel() -> None:
    gas = xml(
        "<sr:UpdatePricePrimaryElement><sr:PriceElements><sr:GasPriceElements>"
        "<sr:CurrencyUnits>GBP</sr:CurrencyUnits><sr:StandingCharge>31000</sr:StandingCharge>"
        '<sr:TOUTariff><sr:TOUPrice index="2">7000</sr:TOUPrice>'
        '<sr:TOUPrice index="1">6500</sr:TOUPrice></sr:TOUTariff>'
        "</sr:GasPriceElements></sr:PriceElements></sr:UpdatePricePrimaryElement>"
    )
    assert read_values("1.2.1", gas) == {"prices": [650, 700], "standingCharge": 31, "fuel": "gas"}

    tariff = build_body("1.1.1", example_values("1.1.1", "ESME"), "ESME")
    prices = tariff.find(SR + "PriceElements")
    assert prices is not None
    prices[0] = copy.deepcopy(gas[0][0])  # gas prices under an electricity tariff
    assert "gas prices for an electricity tariff" in str(refusal("1.1.1", tariff))


def test_large_electricity_prices_are_written_with_a_coarser_scale(
    official: schemas.OfficialSchemas,
) -> None:
    values = {"prices": [40000, 500000], "standingCharge": 60000, "fuel": "electricity"}
    body = build_body("1.2.1", values)
    official.validate(request("1.2.1", body))
    assert body.findtext(f".//{SR}PriceScale") == "-2"  # 500000 / 100 fits 16 bits
    assert body.findtext(f".//{SR}StandingChargeScale") == "-1"
    assert read_values("1.2.1", body) == values
    with pytest.raises(ValueError, match="prices"):
        build_body("1.2.1", {"prices": [40001], "standingCharge": 1})


def test_values_a_body_cannot_carry_are_refused_when_building() -> None:
    gas_day = {"bands": [0] * 24 + [1] * 24, "prices": [600, 700], "standingCharge": 30}
    with pytest.raises(ValueError, match="one TOU price all day"):
        build_body("1.1.1", gas_day, "GSME")
    with pytest.raises(ValueError, match="fuel"):
        build_body("1.2.1", example_values("1.2.1", "ESME"), "GSME")
    with pytest.raises(ValueError, match="ESME or GSME"):
        build_body("2.3", {"amount": 1}, "CHF")
    with pytest.raises(ValueError, match="bands"):
        build_body("1.1.1", {"bands": [0] * 47, "prices": [1], "standingCharge": 1})
    with pytest.raises(ValueError, match="surprise"):
        build_body("2.2", {"utrn": "1" * 20, "surprise": 1})
    with pytest.raises(ValueError, match="utrn"):
        build_body("2.2", {})
    with pytest.raises(ValueError, match="randomisationOffsetLimit"):
        build_body("7.12", {"randomisationOffsetLimit": True})
    with pytest.raises(ValueError, match="exactly one device"):
        build_body("8.11", {"add": ["00DB1234567890A4"], "remove": ["00DB1234567890A5"]})
    with pytest.raises(ValueError, match="gasConversion"):
        build_body("6.6", {"gasConversion": {"calorificValue": 39550, "conversionFactor": 1}})
    loads = {"powerThreshold": 1, "period": 1, "restorationPeriod": 1, "extra": 2}
    with pytest.raises(ValueError, match=r"loadLimit\.extra"):
        build_body("6.4.1", {"loadLimit": loads})
    with pytest.raises(ValueError, match="alertBehaviours"):
        build_body("6.22", {"alertBehaviours": {"8119": True, "8014": False}})
    with pytest.raises(ValueError, match="importMpxn"):
        build_body("6.20.1", {"importMpxn": "1312345678333"})
    with pytest.raises(ValueError, match="from"):
        build_body("4.8.1", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValueError, match="YYYY-MM-DDTHH:MM:SSZ"):
        build_body("3.2", {"restrictionDateTime": "2026-01-02 00:00"})
    with pytest.raises(ValueError, match="not a device request SRV"):
        build_body("11.1", {})


@pytest.mark.parametrize(
    ("srv", "values", "device_type"),
    [
        ("6.20.1", {"importMpxn": MPRN}, "GSME"),
        ("6.20.1", {"importMpxn": MPAN}, "ESME"),
        ("6.22", {"alertBehaviours": {"8014": True, "8003": False}, "fuel": "electricity"}, "ESME"),
        ("6.22", {"alertBehaviours": {"8002": True}, "fuel": "electricity"}, "ESME"),
        ("6.22", {"alertBehaviours": {"81B7": True, "810D": False}, "fuel": "electricity"}, "ESME"),
        ("6.22", {"alertBehaviours": {"8184": True}, "fuel": "gas"}, "GSME"),
        ("3.3", {"log": "ALCS"}, "ESME"),
        ("1.6", {"paymentMode": "credit"}, "ESME"),
        ("6.25", {"tamperState": "unlocked"}, "ESME"),
        ("6.18.1", {"maxDemandPeriod": 86400}, "ESME"),
        ("8.11", {"add": [], "remove": ["00DB1234567890A4"]}, "CHF"),
        ("2.3", {"amount": -1500, "fuel": "gas"}, "GSME"),
        (
            "6.8",
            {
                "billingCalendar": {"start": "2026-01-03T06:30:00Z", "periodicity": "weekly"},
                "fuel": "electricity",
            },
            "ESME",
        ),
        (
            "6.8",
            {
                "billingCalendar": {"start": "2026-01-01T23:00:00Z", "periodicity": "daily"},
                "fuel": "electricity",
            },
            "ESME",
        ),
        (
            "6.8",
            {
                "billingCalendar": {"start": "2026-03-28T00:00:00Z", "periodicity": "yearly"},
                "fuel": "electricity",
            },
            "ESME",
        ),
        (
            "6.8",
            {
                "billingCalendar": {"start": "2026-02-15T00:00:00Z", "periodicity": "half-yearly"},
                "fuel": "electricity",
            },
            "ESME",
        ),
        (
            "6.13",
            {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "log": "GSMESecurity"},
            "GSME",
        ),
    ],
)
def test_other_shapes_of_a_body_round_trip_too(
    srv: str, values: dict[str, Any], device_type: str, official: schemas.OfficialSchemas
) -> None:
    body = build_body(srv, values, device_type)
    official.validate(request(srv, body))
    assert read_values(srv, body) == values


def test_an_electricity_calendar_starts_at_its_first_billing_time_in_2026() -> None:
    quarterly = xml(
        "<sr:UpdateDeviceConfigurationBillingCalendar><sr:ElectricityBillingCalendar>"
        "<sr:BillingTime>01:00:00+01:00</sr:BillingTime><sr:Quarterly><sr:DayOfMonth>5"
        "</sr:DayOfMonth><sr:BillingPeriodStartMonth>11</sr:BillingPeriodStartMonth>"
        "</sr:Quarterly></sr:ElectricityBillingCalendar></sr:UpdateDeviceConfigurationBillingCalendar>"
    )
    assert read_values("6.8", quarterly)["billingCalendar"] == {
        "start": "2026-02-05T00:00:00Z",  # quarters from November: February is the first of 2026
        "periodicity": "quarterly",
    }


def test_times_are_read_as_utc_to_the_second() -> None:
    clock = xml(
        "<sr:SynchroniseClock><sr:CurrentDateTime>2026-03-14T10:26:53.987+01:00"
        "</sr:CurrentDateTime><sr:TolerancePeriod>5</sr:TolerancePeriod></sr:SynchroniseClock>"
    )
    assert read_values("6.11", clock) == {"time": "2026-03-14T09:26:53Z", "tolerance": 5}
    clock[0].text = "2026-03-14T09:26:53"  # no zone: UTC
    assert read_values("6.11", clock)["time"] == "2026-03-14T09:26:53Z"


def test_a_poly_phase_voltage_is_one_setting_when_every_phase_agrees() -> None:
    body = build_body("6.5", example_values("6.5", "ESME"))
    single = body.find(SR + "SinglePhaseVoltageSettings")
    assert single is not None
    for phase in (3, 1, 2):
        poly = etree.SubElement(body, SR + "PolyPhaseVoltageSettings")
        etree.SubElement(poly, SR + "Phase").text = str(phase)
        settings = copy.deepcopy(single)
        settings.tag = SR + "PhaseVoltageSettings"
        poly.append(settings)
    body.remove(single)
    assert read_values("6.5", body) == example_values("6.5", "ESME")


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("srv", "body", "field", "words"),
    [
        (
            "4.1.1",
            "<sr:ReadMeterBalance/>",
            "ReadInstantaneousImportRegisters",
            "found 'sr:ReadMeterBalance'",
        ),
        (
            "4.1.1",
            '<x:ReadInstantaneousImportRegisters xmlns:x="urn:other"/>',
            "ReadInstantaneousImportRegisters",
            "urn:other",
        ),
        ("2.2", "<sr:TopUpDevice/>", "TopUpDevice/UTRN", "missing"),
        (
            "2.2",
            "<sr:TopUpDevice><sr:UTRN>1234</sr:UTRN></sr:TopUpDevice>",
            "TopUpDevice/UTRN",
            "20",
        ),
        (
            "2.2",
            "<sr:TopUpDevice><sr:UTRN>1234567890123456789A</sr:UTRN></sr:TopUpDevice>",
            "TopUpDevice/UTRN",
            "20 digits",
        ),
        (
            "2.2",
            "<sr:TopUpDevice><sr:UTRN>12345678901234567890</sr:UTRN>"
            "<sr:UTRN>12345678901234567890</sr:UTRN></sr:TopUpDevice>",
            "TopUpDevice/UTRN",
            "more than once",
        ),
        (
            "2.2",
            "<sr:TopUpDevice><sr:Amount>5</sr:Amount></sr:TopUpDevice>",
            "TopUpDevice",
            "sr:Amount",
        ),
        (
            "2.5",
            "<sr:ActivateEmergencyCredit>now</sr:ActivateEmergencyCredit>",
            "ActivateEmergencyCredit",
            "not text",
        ),
        (
            "7.12",
            "<sr:SetRandomisedOffsetLimit><sr:RandomisedOffsetLimit>1800"
            "</sr:RandomisedOffsetLimit></sr:SetRandomisedOffsetLimit>",
            "SetRandomisedOffsetLimit/RandomisedOffsetLimit",
            "0 to 1799",
        ),
        (
            "6.11",
            "<sr:SynchroniseClock><sr:CurrentDateTime>2026-02-30T00:00:00Z</sr:CurrentDateTime>"
            "<sr:TolerancePeriod>5</sr:TolerancePeriod></sr:SynchroniseClock>",
            "SynchroniseClock/CurrentDateTime",
            "not a valid date",
        ),
        (
            "6.11",
            "<sr:SynchroniseClock><sr:CurrentDateTime>2026-02-03T00:00:00Z</sr:CurrentDateTime>"
            "<sr:TolerancePeriod>86401</sr:TolerancePeriod></sr:SynchroniseClock>",
            "SynchroniseClock/TolerancePeriod",
            "out of range",
        ),
        (
            "6.12",
            "<sr:UpdateDeviceConfigurationInstantaneousPowerThreshold><sr:LowMediumPowerThreshold>"
            "5000</sr:LowMediumPowerThreshold><sr:MediumHighPowerThreshold>4000"
            "</sr:MediumHighPowerThreshold></sr:UpdateDeviceConfigurationInstantaneousPowerThreshold>",
            "UpdateDeviceConfigurationInstantaneousPowerThreshold/LowMediumPowerThreshold",
            "above",
        ),
        (
            "4.8.1",
            "<sr:ReadActiveImportProfileData><sr:ReadLogPeriod><sr:StartDateTime>"
            "2026-01-02T00:00:00Z</sr:StartDateTime><sr:EndDateTime>2026-01-01T00:00:00Z"
            "</sr:EndDateTime></sr:ReadLogPeriod></sr:ReadActiveImportProfileData>",
            "ReadActiveImportProfileData/ReadLogPeriod/StartDateTime",
            "after",
        ),
        (
            "6.13",
            "<sr:ReadEventOrSecurityLog><sr:ReadLogPeriod><sr:StartDateTime>2026-01-01T00:00:00Z"
            "</sr:StartDateTime><sr:EndDateTime>2026-01-02T00:00:00Z</sr:EndDateTime></sr:ReadLogPeriod>"
            "<sr:LogToRead>Everything</sr:LogToRead></sr:ReadEventOrSecurityLog>",
            "ReadEventOrSecurityLog/LogToRead",
            "not one of",
        ),
        (
            "3.4",
            "<sr:UpdateSupplierName><sr:SupplierName>E-ON</sr:SupplierName>"
            "<sr:SupplierTelephoneNumber>   </sr:SupplierTelephoneNumber></sr:UpdateSupplierName>",
            "UpdateSupplierName/SupplierTelephoneNumber",
            "a digit at least",
        ),
        (
            "6.20.1",
            f"<sr:SetDeviceConfigurationImportMPxN><sr:ImportMPANs><sr:ImportMPAN>{MPAN}"
            f"</sr:ImportMPAN><sr:SecondaryImportMPAN>{MPAN}</sr:SecondaryImportMPAN></sr:ImportMPANs>"
            "</sr:SetDeviceConfigurationImportMPxN>",
            "SetDeviceConfigurationImportMPxN/ImportMPANs/SecondaryImportMPAN",
            "one import",
        ),
        (
            "6.20.1",
            "<sr:SetDeviceConfigurationImportMPxN><sr:ImportMPRN>1234</sr:ImportMPRN>"
            "</sr:SetDeviceConfigurationImportMPxN>",
            "SetDeviceConfigurationImportMPxN/ImportMPRN",
            "MPRN",
        ),
        (
            "8.7.1",
            "<sr:JoinServiceCritical><sr:OtherDeviceID>00-DB-12</sr:OtherDeviceID>"
            "</sr:JoinServiceCritical>",
            "JoinServiceCritical/OtherDeviceID",
            "EUI-64",
        ),
        (
            "11.3",
            "<sr:ActivateFirmware><sr:FirmwareHash>ABCD</sr:FirmwareHash></sr:ActivateFirmware>",
            "ActivateFirmware/FirmwareHash",
            "32 bytes",
        ),
        (
            "6.22",
            "<sr:ConfigureAlertBehaviour><sr:GasSupplierAlerts/></sr:ConfigureAlertBehaviour>",
            "ConfigureAlertBehaviour/GasSupplierAlerts",
            "no alert",
        ),
        (
            "6.22",
            "<sr:ConfigureAlertBehaviour><sr:GasSupplierAlerts><sr:x8184>On</sr:x8184>"
            "</sr:GasSupplierAlerts></sr:ConfigureAlertBehaviour>",
            "ConfigureAlertBehaviour/GasSupplierAlerts/x8184",
            "Enable",
        ),
        (
            "6.6",
            "<sr:UpdateDeviceConfigurationGasConversion><sr:CalorificValue>39.5</sr:CalorificValue>"
            "<sr:ConversionFactor>1.0226401</sr:ConversionFactor></sr:UpdateDeviceConfigurationGasConversion>",
            "UpdateDeviceConfigurationGasConversion/ConversionFactor",
            "decimal places",
        ),
        (
            "6.7",
            "<sr:UpdateDeviceConfigurationGasFlow><sr:UncontrolledGasFlowRate>61685"
            "</sr:UncontrolledGasFlowRate><sr:SupplyDepletionState>Unchanged</sr:SupplyDepletionState>"
            "<sr:SupplyTamperState>Unchanged</sr:SupplyTamperState><sr:StabilisationPeriod>60"
            "</sr:StabilisationPeriod><sr:MeasurementPeriod>60</sr:MeasurementPeriod>"
            "</sr:UpdateDeviceConfigurationGasFlow>",
            "UpdateDeviceConfigurationGasFlow/UncontrolledGasFlowRate",
            "finer",
        ),
        (
            "6.7",
            "<sr:UpdateDeviceConfigurationGasFlow><sr:UncontrolledGasFlowRate>61680"
            "</sr:UncontrolledGasFlowRate><sr:SupplyDepletionState>Locked</sr:SupplyDepletionState>"
            "<sr:SupplyTamperState>Unchanged</sr:SupplyTamperState><sr:StabilisationPeriod>60"
            "</sr:StabilisationPeriod><sr:MeasurementPeriod>60</sr:MeasurementPeriod>"
            "</sr:UpdateDeviceConfigurationGasFlow>",
            "UpdateDeviceConfigurationGasFlow/SupplyDepletionState",
            "Unchanged",
        ),
    ],
)
def test_a_body_that_is_wrong_is_refused_naming_the_field_and_the_rule(
    srv: str, body: str, field: str, words: str
) -> None:
    problem = refusal(srv, xml(body))
    assert problem.field == field
    assert words in str(problem)
    assert str(problem).startswith(field + ": ")


def test_an_srv_this_service_does_not_read_is_refused_not_a_key_error() -> None:
    problem = refusal("11.1", xml("<sr:UpdateFirmware/>"))
    assert problem.field == "ServiceReferenceVariant"
    assert refusal("9" * 10_000, xml("<sr:UpdateFirmware/>")).field == "ServiceReferenceVariant"


HOSTILE = ["x" * 100_000, "1" * 100_000, "\x7f\u0085\u202e", "12\x7f", "", "\ufeff2026-01-01"]
TYPED_HOSTILE = [
    "99999999999999999999999999",
    "2026-13-45T25:61:61Z",
    "0x10",
    "12\u00a0",
    "\u00851",
]
FREE_TEXT = {"SupplierMessage", "SupplierName"}


@pytest.mark.parametrize(
    ("srv", "element", "field"),
    [
        ("3.1", "SupplierMessage", "DisplayMessage/SupplierMessage"),
        ("3.4", "SupplierName", "UpdateSupplierName/SupplierName"),
        ("3.4", "SupplierTelephoneNumber", "UpdateSupplierName/SupplierTelephoneNumber"),
        ("7.12", "RandomisedOffsetLimit", "SetRandomisedOffsetLimit/RandomisedOffsetLimit"),
        ("6.11", "CurrentDateTime", "SynchroniseClock/CurrentDateTime"),
        ("2.2", "UTRN", "TopUpDevice/UTRN"),
        ("8.7.2", "OtherDeviceID", "JoinServiceNonCritical/OtherDeviceID"),
        ("6.23", "ImportMPxN", "UpdateSecurityCredentialsCoS/ImportMPxN"),
    ],
)
def test_hostile_text_is_refused_naming_the_field_with_a_short_safe_message(
    srv: str, element: str, field: str
) -> None:
    body = build_body(srv, example_values(srv, TARGETS[srv][0], now=NOW), TARGETS[srv][0])
    target = body.find(SR + element)
    assert target is not None
    for text in HOSTILE if element in FREE_TEXT else HOSTILE + TYPED_HOSTILE:
        target.text = text
        problem = refusal(srv, body)
        assert problem.field == field, text[:20]
        message = str(problem)
        assert len(message) < 400
        assert not any(ch in message for ch in "\x7f\u0085\u202e\ufeff\u00a0")


def mutations(body: etree._Element) -> list[etree._Element]:
    """Copies of ``body`` each with one element's text replaced by hostile text, or one
    element removed, or one element repeated."""
    copies = []
    count = sum(1 for _ in body.iter())
    for position in range(count):
        for text in ("", "-1", "x" * 5000, "\x7f", "4294967296", "24:00:00Z", "1.5"):
            changed = copy.deepcopy(body)
            element = list(changed.iter())[position]
            if len(element) == 0:
                element.text = text
                copies.append(changed)
        if position:
            removed = copy.deepcopy(body)
            element = list(removed.iter())[position]
            parent = element.getparent()
            assert parent is not None
            parent.remove(element)
            copies.append(removed)
            repeated = copy.deepcopy(body)
            element = list(repeated.iter())[position]
            element.addnext(copy.deepcopy(element))
            copies.append(repeated)
    return copies


@pytest.mark.parametrize(("srv", "device_type"), CASES)
def test_a_mutated_body_reads_or_is_refused_and_nothing_else_escapes(
    srv: str, device_type: str
) -> None:
    body = build_body(srv, example_values(srv, device_type, now=NOW), device_type)
    problems: list[InvalidField] = []
    for changed in mutations(body):
        try:
            assert isinstance(read_values(srv, changed), dict)
        except InvalidField as problem:
            problems.append(problem)
    name = etree.QName(body).localname
    assert all(problem.field.split("/")[0] == name for problem in problems)
    assert all(len(str(problem)) < 600 for problem in problems)
