"""The settings registry: defaults, shapes, bounds, normalisation and the alert codes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from s1adopt.domain.device_settings import (
    PREPAYMENT_KEYS,
    SETTINGS,
    InvalidSetting,
    alert_enabled,
    check_setting,
    check_settings,
    setting_for,
    settings_of,
)
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.errors import InvalidRequest
from s1adopt.domain.operations import GBCS_ALERT_CODES, AlertKind

E, G = DeviceType.ESME, DeviceType.GSME
PREPAY = {key: 100 for key in PREPAYMENT_KEYS}
CALENDAR = {"start": "2026-03-01T00:00:00Z", "periodicity": "monthly"}
VOLTAGE = {
    "averageRmsOverVoltageThreshold": 264,
    "averageRmsUnderVoltageThreshold": 200,
    "extremeOverVoltageThreshold": 287,
    "extremeUnderVoltageThreshold": 180,
    "averageRmsVoltageMeasurementPeriod": 30,
}


def _voltage(over: int = 287, period: int = 30) -> dict[str, int]:
    return {**VOLTAGE, "extremeOverVoltageThreshold": over, VOLTAGE_PERIOD: period}


VOLTAGE_PERIOD = "averageRmsVoltageMeasurementPeriod"
FLOW_TOO_HIGH = {"uncontrolledGasFlowRate": 65_536, "period": 1}


def test_meters_hold_the_common_settings_and_their_own() -> None:
    common = {
        "supplierName",
        "supplierTelephone",
        "billingCalendar",
        "paymentMode",
        "prepayment",
        "privacyPin",
        "tenancyRestrictedFrom",
        "alertBehaviours",
        "importMpxn",
    }
    electricity = {
        "voltage",
        "randomisationOffsetLimit",
        "powerThresholds",
        "loadLimit",
        "loadLimitCounter",
        "maxDemandPeriod",
        "tamperState",
    }

    assert set(settings_of(E)) == common | electricity
    assert set(settings_of(G)) == common | {"gasConversion", "gasFlow"}
    assert settings_of(DeviceType.CHF) == settings_of(DeviceType.GPF) == ()


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_default_but_the_meter_point_is_valid_and_a_copy_of_its_own(name: str) -> None:
    spec = SETTINGS[name]
    kind = next(iter(sorted(spec.device_types)))
    if name == "importMpxn":
        assert spec.default is None  # a meter point comes with the meter
        return

    assert check_setting(name, spec.initial(), kind) == spec.default
    if isinstance(spec.default, dict):
        copy = spec.initial()
        copy["x"] = 1
        assert "x" not in spec.default


@pytest.mark.parametrize(
    ("name", "kind", "value", "normalised"),
    [
        ("supplierName", E, "Octo Energy", "Octo Energy"),
        ("supplierTelephone", G, "0800 123 4567", "0800 123 4567"),
        (
            "billingCalendar",
            E,
            {"start": "2026-03-01T06:00:00.50+00:00", "periodicity": "half-yearly"},
            {"start": "2026-03-01T06:00:00Z", "periodicity": "half-yearly"},
        ),
        ("paymentMode", G, "prepayment", "prepayment"),
        ("prepayment", E, PREPAY, PREPAY),
        ("privacyPin", G, False, False),
        ("tenancyRestrictedFrom", E, "2014-03-27T15:45:32Z", "2014-03-27T15:45:32Z"),
        ("tenancyRestrictedFrom", E, None, None),
        ("alertBehaviours", G, {"810d": False, "8F35": True}, {"810D": False, "8F35": True}),
        ("importMpxn", E, "1200000000019", "1200000000019"),
        ("importMpxn", G, "1000000108", "1000000108"),
        ("voltage", E, VOLTAGE, VOLTAGE),
        ("randomisationOffsetLimit", E, 1799, 1799),
        ("powerThresholds", E, {"low": 2300, "medium": 2300}, None),
        ("loadLimit", E, {"powerThreshold": 6900, "period": 300, "restorationPeriod": 30}, None),
        ("loadLimitCounter", E, 0, 0),
        ("maxDemandPeriod", E, 60, 60),
        ("tamperState", E, "locked", "locked"),
        ("gasConversion", G, {"calorificValue": 40_000, "conversionFactor": 1_022_640}, None),
        ("gasFlow", G, {"uncontrolledGasFlowRate": 61_680, "period": 300}, None),
    ],
)
def test_valid_values_are_answered_normalised(
    name: str, kind: DeviceType, value: Any, normalised: Any
) -> None:
    assert check_setting(name, value, kind) == (value if normalised is None else normalised)


@pytest.mark.parametrize(
    ("name", "kind", "value", "rule"),
    [
        ("supplierName", E, "", "1 to 15 printable ASCII"),
        ("supplierName", E, "A supplier far too long", "1 to 15"),
        ("supplierName", E, "Énergie", "ASCII"),
        ("supplierTelephone", E, "0800-123", "digits and spaces"),
        ("supplierTelephone", E, "   ", "at least one a digit"),
        ("billingCalendar", E, {"start": "2026-03-01T06:00:00Z"}, "exactly start, periodicity"),
        ("billingCalendar.start", E, {"start": "2026-03-01", "periodicity": "daily"}, "ISO"),
        ("billingCalendar.periodicity", G, {**CALENDAR, "periodicity": "x"}, "one of"),
        ("paymentMode", E, "PAYG", "one of 'credit', 'prepayment'"),
        ("prepayment", E, {**PREPAY, "extra": 1}, "exactly"),
        ("prepayment.lowCreditThreshold", E, {**PREPAY, "lowCreditThreshold": -1}, "0 to 10000000"),
        ("prepayment.maxMeterBalance", G, {**PREPAY, "maxMeterBalance": True}, "whole number"),
        ("privacyPin", E, "yes", "true or false"),
        ("tenancyRestrictedFrom", E, "2014-03-27T15:45:32", "UTC"),
        ("tenancyRestrictedFrom", E, "2014-03-27T15:45:32+01:00", "UTC"),
        ("alertBehaviours", E, {"81": True}, "4 hex digits"),
        ("alertBehaviours.810D", E, {"810D": "Enable"}, "true (enabled) or false"),
        ("alertBehaviours", E, ["810D"], "object"),
        ("importMpxn", E, "1000000108", "MPAN of 13 digits"),
        ("importMpxn", G, "1200000000019", "MPRN of 6 to 10 digits"),
        ("importMpxn", G, 1000000108, "MPRN"),
        ("voltage", E, {**VOLTAGE, "averageRmsUnderVoltageThreshold": 270}, "below the over"),
        ("voltage.extremeOverVoltageThreshold", E, _voltage(over=1001), "0 to 1000"),
        ("voltage.averageRmsVoltageMeasurementPeriod", E, _voltage(period=0), "1 to 86400"),
        ("randomisationOffsetLimit", E, 1800, "0 to 1799"),
        ("powerThresholds", E, {"low": 3, "medium": 2}, "low <= medium"),
        ("loadLimit.period", E, {"powerThreshold": 1, "period": 0, "restorationPeriod": 0}, "1 to"),
        ("loadLimitCounter", E, -1, "0 to"),
        ("maxDemandPeriod", E, 59, "60 to 86400"),
        ("tamperState", E, "Unchanged", "one of 'unlocked', 'locked'"),
        ("gasConversion.conversionFactor", G, {"calorificValue": 1, "conversionFactor": 0}, "1 to"),
        ("gasFlow.uncontrolledGasFlowRate", G, FLOW_TOO_HIGH, "0 to 65535"),
    ],
)  # fmt: skip
def test_invalid_values_name_the_setting_and_the_rule(
    name: str, kind: DeviceType, value: Any, rule: str
) -> None:
    with pytest.raises(InvalidSetting) as caught:
        check_setting(name.split(".")[0], value, kind)

    assert caught.value.setting == name
    assert rule in caught.value.rule
    assert isinstance(caught.value, InvalidRequest)
    assert name in str(caught.value)


def test_a_setting_outside_the_registry_or_the_device_type_is_refused_by_name() -> None:
    with pytest.raises(InvalidSetting, match="'colour' is not a setting"):
        setting_for("colour", E)
    with pytest.raises(InvalidSetting, match="'gasFlow' is not a setting of the device type ESME"):
        check_setting("gasFlow", {"uncontrolledGasFlowRate": 1, "period": 1}, E)
    with pytest.raises(InvalidSetting, match="'voltage' is not a setting of the device type CHF"):
        setting_for("voltage", DeviceType.CHF)


def test_check_settings_answers_all_normalised_or_refuses_the_first_bad_one() -> None:
    assert check_settings({"privacyPin": False, "alertBehaviours": {"8f3f": False}}, G) == {
        "privacyPin": False,
        "alertBehaviours": {"8F3F": False},
    }
    with pytest.raises(InvalidSetting, match="maxDemandPeriod"):
        check_settings({"privacyPin": False, "maxDemandPeriod": 1}, E)


def test_only_alert_behaviours_merge_into_what_is_held() -> None:
    assert [name for name, spec in SETTINGS.items() if spec.merges] == ["alertBehaviours"]


def test_every_alert_kind_has_one_gbcs_code_a_behaviour_can_disable() -> None:
    assert set(GBCS_ALERT_CODES) == set(AlertKind)
    assert len(set(GBCS_ALERT_CODES.values())) == len(AlertKind)
    assert all(re.fullmatch(r"[0-9A-F]{4}", code) for code in GBCS_ALERT_CODES.values())
    assert GBCS_ALERT_CODES[AlertKind.LOW_CREDIT] == "810D"

    disabled = {"810D": False, "8F57": True}
    assert not alert_enabled(disabled, AlertKind.LOW_CREDIT)
    assert alert_enabled(disabled, AlertKind.SUPPLY_OUTAGE)
    assert alert_enabled(disabled, AlertKind.TAMPER)  # absent: enabled
