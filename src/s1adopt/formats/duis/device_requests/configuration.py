"""The bodies that carry one device setting (3.1 to 3.4, 6.4.1 to 6.25, 7.12): read into the
SMETS1 equivalent's setting values and built from them.

Rules: units are those of ``domain`` settings (V, W, s, pence; gas conversion and flow in
thousandths and millionths); a DUIS value finer than the setting's unit is refused, not
rounded; a DUIS field with a neutral value the SMETS1 setting has no place for must have it
(``Unchanged`` supply states, a maximum demand period starting at midnight, no secondary MPAN);
required DUIS fields without a neutral value and without a SMETS1 counterpart are checked and
not carried (they are listed in the package docstring).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lxml import etree

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Mpan, Mprn
from s1adopt.formats.duis.device_requests.fields import (
    XML_SPACE,
    Node,
    Values,
    add,
    clock,
    integer,
    iso,
    mpxn,
    raw_text,
    scaled_decimal,
    time_of_day,
)
from s1adopt.formats.duis.requests import InvalidField

UNSIGNED_INT = 2**32 - 1
DAY = 86400
CALENDAR_REFERENCE = date(
    2026, 1, 1
)  # electricity calendars name no year: see read_billing_calendar
_PRINTABLE = re.compile(r"[ -~]{1,15}")
_TELEPHONE = re.compile(r"(?=[ ]*[0-9])[0-9 ]{1,18}")  # digits and spaces, a digit at least
_MESSAGE = re.compile(r"[ -~]{1,116}")
_UNCHANGED = {"Unchanged": "Unchanged", "Locked": "Locked"}


# --- 3.x --------------------------------------------------------------------------------------


def read_message(node: Node) -> dict[str, Any]:
    """3.1: the supplier's message, 1 to 116 printable ASCII characters."""
    return {"text": node.text("SupplierMessage", 116)}


def build_message(values: Values, body: etree._Element, fuel: str) -> None:
    """3.1."""
    add(body, "SupplierMessage", values.text("text", _MESSAGE, "1 to 116 printable ASCII"))


def read_restriction(node: Node) -> dict[str, Any]:
    """3.2: the time before which data is withheld."""
    return {"restrictionDateTime": node.date_time("RestrictionDateTime")}


def build_restriction(values: Values, body: etree._Element, fuel: str) -> None:
    """3.2."""
    add(body, "RestrictionDateTime", iso(values.time("restrictionDateTime")))


def read_clear_event_log(node: Node) -> dict[str, Any]:
    """3.3: the ALCS log when named; the ESME log (named or not) is the default."""
    if node.optional("ESMEEventLogType") is None:
        return {}
    log = node.choice("ESMEEventLogType", {"ESME": "ESME", "ALCS": "ALCS"})
    return {} if log == "ESME" else {"log": log}


def build_clear_event_log(values: Values, body: etree._Element, fuel: str) -> None:
    """3.3."""
    if values.has("log"):
        add(body, "ESMEEventLogType", values.one_of("log", {"ALCS": "ALCS"}))


def read_supplier_name(node: Node) -> dict[str, Any]:
    """3.4: name (1 to 15 printable ASCII) and telephone (1 to 18 digits and spaces)."""
    name = node.text("SupplierName", 15)
    telephone = node.text("SupplierTelephoneNumber", 18)
    if _TELEPHONE.fullmatch(telephone) is None:
        raise InvalidField(
            node.field("SupplierTelephoneNumber"), "must hold digits and spaces, a digit at least"
        )
    return {"supplierName": name, "supplierTelephone": telephone}


def build_supplier_name(values: Values, body: etree._Element, fuel: str) -> None:
    """3.4."""
    add(body, "SupplierName", values.text("supplierName", _PRINTABLE, "1 to 15 printable ASCII"))
    add(
        body,
        "SupplierTelephoneNumber",
        values.text("supplierTelephone", _TELEPHONE, "1 to 18 digits and spaces, a digit at least"),
    )


# --- 6.4.1 6.5 ------------------------------------------------------------------------------


def read_load_limit(node: Node) -> dict[str, Any]:
    """6.4.1: threshold (W), period and restoration period (s); the supply state Unchanged."""
    load_limit = {
        "period": node.integer("LoadLimitPeriod", 0, UNSIGNED_INT),
        "powerThreshold": node.integer("LoadLimitPowerThreshold", 0, UNSIGNED_INT),
        "restorationPeriod": node.integer("LoadLimitRestorationPeriod", 0, UNSIGNED_INT),
    }
    if (
        node.choice("LoadLimitSupplyState", {"Disable": "Disable", "Unchanged": "Unchanged"})
        != "Unchanged"
    ):
        raise InvalidField(
            node.field("LoadLimitSupplyState"),
            "must be Unchanged: the SMETS1 equivalent does not disable the supply on a load limit",
        )
    return {"loadLimit": load_limit}


def build_load_limit(values: Values, body: etree._Element, fuel: str) -> None:
    """6.4.1, with LoadLimitSupplyState Unchanged."""
    load_limit = values.mapping("loadLimit")
    add(body, "LoadLimitPeriod", load_limit.integer("period", 0, UNSIGNED_INT))
    add(body, "LoadLimitPowerThreshold", load_limit.integer("powerThreshold", 0, UNSIGNED_INT))
    add(
        body, "LoadLimitRestorationPeriod", load_limit.integer("restorationPeriod", 0, UNSIGNED_INT)
    )
    add(body, "LoadLimitSupplyState", "Unchanged")
    load_limit.finish()


_RMS = (
    "RMSExtremeOverVoltageMeasurementPeriod",
    "RMSExtremeOverVoltageThreshold",
    "RMSExtremeUnderVoltageMeasurementPeriod",
    "RMSExtremeUnderVoltageThreshold",
    "RMSVoltageSagMeasurementPeriod",
    "RMSVoltageSagThreshold",
    "RMSVoltageSwellMeasurementPeriod",
    "RMSVoltageSwellThreshold",
)
# What build_voltage writes for the RMS settings the SMETS1 setting has no place for.
RMS_DEFAULTS = {
    "RMSExtremeOverVoltageMeasurementPeriod": 30,
    "RMSExtremeUnderVoltageMeasurementPeriod": 30,
    "RMSVoltageSagMeasurementPeriod": 30,
    "RMSVoltageSagThreshold": 216,
    "RMSVoltageSwellMeasurementPeriod": 30,
    "RMSVoltageSwellThreshold": 253,
}
_AVERAGE = {
    "AverageRMSOverVoltageThreshold": "averageRmsOverVoltageThreshold",
    "AverageRMSUnderVoltageThreshold": "averageRmsUnderVoltageThreshold",
    "AverageRMSVoltageMeasurementPeriod": "averageRmsVoltageMeasurementPeriod",
}


def read_voltage(node: Node) -> dict[str, Any]:
    """6.5: the extreme thresholds and one set of average RMS settings (V, s)."""
    rms = node.node("RMSVoltageSettings", _RMS)
    read = {name: rms.integer(name, 0, UNSIGNED_INT) for name in _RMS}
    if (
        node.one_of("SinglePhaseVoltageSettings", "PolyPhaseVoltageSettings")
        == "SinglePhaseVoltageSettings"
    ):
        average = _average(node.node("SinglePhaseVoltageSettings", tuple(_AVERAGE)))
    else:
        average = _same_for_every_phase(node)
    if node.optional("RMSVoltageCountersNotReset") is not None:
        node.empty("RMSVoltageCountersNotReset")  # no SMETS1 counters to keep: no effect
    return {
        "voltage": {
            "extremeOverVoltageThreshold": read["RMSExtremeOverVoltageThreshold"],
            "extremeUnderVoltageThreshold": read["RMSExtremeUnderVoltageThreshold"],
            **average,
        }
    }


def _average(settings: Node) -> dict[str, int]:
    return {key: settings.integer(name, 0, UNSIGNED_INT) for name, key in _AVERAGE.items()}


def _same_for_every_phase(node: Node) -> dict[str, int]:
    phases: dict[int, dict[str, int]] = {}
    for phase in node.nodes("PolyPhaseVoltageSettings", 3, 3, ("Phase", "PhaseVoltageSettings")):
        number = phase.integer("Phase", 1, 3)
        if number in phases:
            raise InvalidField(phase.field("Phase"), f"phase {number} is given twice")
        phases[number] = _average(phase.node("PhaseVoltageSettings", tuple(_AVERAGE)))
        if phases[number] != next(iter(phases.values())):
            raise InvalidField(
                phase.path,
                f"phase {number}'s settings differ from the first phase's: the SMETS1 equivalent "
                "holds one set of average RMS voltage settings for every phase",
            )
    return phases[1]


def build_voltage(values: Values, body: etree._Element, fuel: str) -> None:
    """6.5, single phase, the other RMS settings ``RMS_DEFAULTS``."""
    voltage = values.mapping("voltage")
    rms = add(body, "RMSVoltageSettings")
    for name in _RMS:
        if name == "RMSExtremeOverVoltageThreshold":
            number = voltage.integer("extremeOverVoltageThreshold", 0, UNSIGNED_INT)
        elif name == "RMSExtremeUnderVoltageThreshold":
            number = voltage.integer("extremeUnderVoltageThreshold", 0, UNSIGNED_INT)
        else:
            number = RMS_DEFAULTS[name]
        add(rms, name, number)
    single = add(body, "SinglePhaseVoltageSettings")
    for name, key in _AVERAGE.items():
        add(single, name, voltage.integer(key, 0, UNSIGNED_INT))
    voltage.finish()


# --- 6.6 6.7 --------------------------------------------------------------------------------

MAX_CALORIFIC = 429_496_729_500  # thousandths of MJ/m3 (the schema's 429496729.5)
MAX_CONVERSION = 42_949_672_950  # millionths (the schema's 42949.67295)


def read_gas_conversion(node: Node) -> dict[str, Any]:
    """6.6: calorific value (MJ/m3 x 1000) and conversion factor (x 1,000,000)."""
    field = node.field("CalorificValue")
    calorific = scaled_decimal(node.one("CalorificValue"), field, 3, MAX_CALORIFIC)
    field = node.field("ConversionFactor")
    factor = scaled_decimal(node.one("ConversionFactor"), field, 6, MAX_CONVERSION)
    return {"gasConversion": {"calorificValue": calorific, "conversionFactor": factor}}


def build_gas_conversion(values: Values, body: etree._Element, fuel: str) -> None:
    """6.6: one decimal place of MJ/m3, five of the factor: finer values cannot be carried."""
    conversion = values.mapping("gasConversion")
    calorific = conversion.integer("calorificValue", 0, MAX_CALORIFIC)
    factor = conversion.integer("conversionFactor", 0, MAX_CONVERSION)
    conversion.finish()
    if calorific % 100 or factor % 10:
        raise ValueError(
            "gasConversion: DUIS carries the calorific value to 0.1 MJ/m3 (a multiple of 100) and "
            "the conversion factor to 5 decimal places (a multiple of 10)"
        )
    add(body, "CalorificValue", f"{calorific // 1000}.{calorific % 1000 // 100}")
    add(body, "ConversionFactor", f"{factor // 10**6}.{factor % 10**6 // 10:05d}")


GAS_FLOW_STABILISATION = 60  # s, what build_gas_flow writes for StabilisationPeriod


def read_gas_flow(node: Node) -> dict[str, Any]:
    """6.7: the uncontrolled flow rate (m3/h x 1000) and the measurement period (s)."""
    if (
        node.one_of("UncontrolledGasFlowRate", "UncontrolledGasFlowRateDecimal")
        == "UncontrolledGasFlowRate"
    ):
        field = node.field("UncontrolledGasFlowRate")
        rate = integer(node.one("UncontrolledGasFlowRate"), field, 0, 65535)  # 10^-4 m3/h
        if rate % 10:
            raise InvalidField(
                field, f"{rate} x 0.0001 m3/h is finer than the SMETS1 setting's 0.001 m3/h"
            )
        rate //= 10
    else:
        field = node.field("UncontrolledGasFlowRateDecimal")
        rate = scaled_decimal(node.one("UncontrolledGasFlowRateDecimal"), field, 3, 6553)
    for state in ("SupplyDepletionState", "SupplyTamperState"):
        if node.choice(state, _UNCHANGED) != "Unchanged":
            raise InvalidField(
                node.field(state),
                "must be Unchanged: the SMETS1 equivalent does not lock the valve",
            )
    node.integer("StabilisationPeriod", 1, 255)  # no SMETS1 counterpart: checked, not carried
    period = node.integer("MeasurementPeriod", 1, 65535)
    return {"gasFlow": {"uncontrolledGasFlowRate": rate, "period": period}}


def build_gas_flow(values: Values, body: etree._Element, fuel: str) -> None:
    """6.7 in 0.0001 m3/h, states Unchanged, StabilisationPeriod ``GAS_FLOW_STABILISATION``."""
    flow = values.mapping("gasFlow")
    add(body, "UncontrolledGasFlowRate", flow.integer("uncontrolledGasFlowRate", 0, 6553) * 10)
    add(body, "SupplyDepletionState", "Unchanged")
    add(body, "SupplyTamperState", "Unchanged")
    add(body, "StabilisationPeriod", GAS_FLOW_STABILISATION)
    add(body, "MeasurementPeriod", flow.integer("period", 1, 65535))
    flow.finish()


# --- 6.8 ------------------------------------------------------------------------------------

_PERIODICITY = {
    "Daily": "daily",
    "Weekly": "weekly",
    "Monthly": "monthly",
    "Quarterly": "quarterly",
    "SixMonthly": "half-yearly",
    "Yearly": "yearly",
}
_DUIS_PERIODICITY = {value: key for key, value in _PERIODICITY.items()}
_MONTHS = {"Quarterly": 3, "SixMonthly": 6, "Yearly": 12}


def read_billing_calendar(node: Node) -> dict[str, Any]:
    """6.8: a start and a periodicity. An electricity calendar names no year: its start is
    the calendar's first billing time on or after ``CALENDAR_REFERENCE`` (any of its billing
    times starts the same calendar)."""
    if node.one_of("ElectricityBillingCalendar", "GasBillingCalendar") == "GasBillingCalendar":
        gas = node.node("GasBillingCalendar", ("BillingPeriodStart", "Periodicity"))
        calendar = {
            "start": gas.date_time("BillingPeriodStart"),
            "periodicity": gas.choice("Periodicity", _PERIODICITY),
        }
        return {"billingCalendar": calendar, "fuel": "gas"}
    elec = node.node("ElectricityBillingCalendar", ("BillingTime", *_PERIODICITY))
    seconds = time_of_day(elec.one("BillingTime"), elec.field("BillingTime"))
    kind = elec.one_of(*_PERIODICITY)
    day = CALENDAR_REFERENCE
    if kind == "Daily":
        elec.empty(kind)
    elif kind == "Weekly":
        weekday = elec.integer(kind, 1, 7)
        day += timedelta(days=(weekday - day.isoweekday()) % 7)
    elif kind == "Monthly":
        day = day.replace(day=elec.integer(kind, 1, 28))
    else:
        period = elec.node(kind, ("DayOfMonth", "BillingPeriodStartMonth"))
        month = period.integer("BillingPeriodStartMonth", 1, 12)
        day = date(day.year, (month - 1) % _MONTHS[kind] + 1, period.integer("DayOfMonth", 1, 28))
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)
    calendar = {"start": iso(start), "periodicity": _PERIODICITY[kind]}
    return {"billingCalendar": calendar, "fuel": "electricity"}


def build_billing_calendar(values: Values, body: etree._Element, fuel: str) -> None:
    """6.8: gas as given; electricity from the start's time of day, weekday, day and month."""
    calendar = values.mapping("billingCalendar")
    start = calendar.time("start")
    kind = calendar.one_of("periodicity", _DUIS_PERIODICITY)
    calendar.finish()
    if fuel == "gas":
        gas = add(body, "GasBillingCalendar")
        add(gas, "BillingPeriodStart", iso(start))
        add(gas, "Periodicity", kind)
        return
    elec = add(body, "ElectricityBillingCalendar")
    add(elec, "BillingTime", clock(start.hour * 3600 + start.minute * 60 + start.second))
    if kind != "Daily" and kind != "Weekly" and start.day > 28:
        raise ValueError("billingCalendar.start: an electricity calendar bills on days 1 to 28")
    if kind == "Daily":
        add(elec, kind)
    elif kind == "Weekly":
        add(elec, kind, start.isoweekday())
    elif kind == "Monthly":
        add(elec, kind, start.day)
    else:
        period = add(elec, kind)
        add(period, "DayOfMonth", start.day)
        add(period, "BillingPeriodStartMonth", start.month)


# --- 6.11 6.12 6.18.1 6.20.1 6.25 7.12 --------------------------------------------------------


def read_clock(node: Node) -> dict[str, Any]:
    """6.11: the time to set and the tolerance (s)."""
    return {
        "time": node.date_time("CurrentDateTime"),
        "tolerance": node.integer("TolerancePeriod", 0, DAY),
    }


def build_clock(values: Values, body: etree._Element, fuel: str) -> None:
    """6.11."""
    add(body, "CurrentDateTime", iso(values.time("time")))
    add(body, "TolerancePeriod", values.integer("tolerance", 0, DAY))


def read_power_thresholds(node: Node) -> dict[str, Any]:
    """6.12: the low/medium and medium/high thresholds (W) as ``low`` and ``medium``."""
    low = node.integer("LowMediumPowerThreshold", 0, UNSIGNED_INT)
    medium = node.integer("MediumHighPowerThreshold", 0, UNSIGNED_INT)
    if low > medium:
        raise InvalidField(
            node.field("LowMediumPowerThreshold"), "must not be above MediumHighPowerThreshold"
        )
    return {"powerThresholds": {"low": low, "medium": medium}}


def build_power_thresholds(values: Values, body: etree._Element, fuel: str) -> None:
    """6.12: ``low`` and ``medium`` only (DUIS carries two thresholds)."""
    thresholds = values.mapping("powerThresholds")
    low = thresholds.integer("low", 0, UNSIGNED_INT)
    medium = thresholds.integer("medium", low, UNSIGNED_INT)
    thresholds.finish()
    add(body, "LowMediumPowerThreshold", low)
    add(body, "MediumHighPowerThreshold", medium)


def read_max_demand_period(node: Node) -> dict[str, Any]:
    """6.18.1: the period from midnight to EndTime (s); EndTime midnight is the whole day."""
    schedule = node.node("MaximumDemandTimePeriodSchedule", ("StartTime", "EndTime"))
    if time_of_day(schedule.one("StartTime"), schedule.field("StartTime")):
        raise InvalidField(
            schedule.field("StartTime"),
            "must be 00:00:00Z: the SMETS1 equivalent's maximum demand period starts at midnight",
        )
    period = time_of_day(schedule.one("EndTime"), schedule.field("EndTime")) or DAY
    if period < 60:
        raise InvalidField(schedule.field("EndTime"), "must be at least a minute after StartTime")
    return {"maxDemandPeriod": period}


def build_max_demand_period(values: Values, body: etree._Element, fuel: str) -> None:
    """6.18.1: from 00:00:00Z for the period."""
    schedule = add(body, "MaximumDemandTimePeriodSchedule")
    add(schedule, "StartTime", clock(0))
    add(schedule, "EndTime", clock(values.integer("maxDemandPeriod", 60, DAY) % DAY))


def read_import_mpxn(node: Node) -> dict[str, Any]:
    """6.20.1: the import MPAN (no secondary) or MPRN, checked."""
    if node.one_of("ImportMPANs", "ImportMPRN") == "ImportMPRN":
        return {"importMpxn": _point(node.one("ImportMPRN"), node.field("ImportMPRN"), Mprn)}
    mpans = node.node("ImportMPANs", ("ImportMPAN", "SecondaryImportMPAN"))
    if mpans.has("SecondaryImportMPAN"):
        raise InvalidField(
            mpans.field("SecondaryImportMPAN"), "the SMETS1 equivalent holds one import meter point"
        )
    return {"importMpxn": _point(mpans.one("ImportMPAN"), mpans.field("ImportMPAN"), Mpan)}


def _point(element: etree._Element, field: str, kind: type[Mpan] | type[Mprn]) -> str:
    value = raw_text(element, field, 40).strip(XML_SPACE)
    try:
        return str(kind.parse(value))
    except InvalidIdentity as exc:
        raise InvalidField(field, str(exc)) from exc


def build_import_mpxn(values: Values, body: etree._Element, fuel: str) -> None:
    """6.20.1: an MPAN (13 digits) as ImportMPANs, anything else as ImportMPRN."""
    point = _value_mpxn(values)
    if len(point) == 13:
        add(add(body, "ImportMPANs"), "ImportMPAN", point)
    else:
        add(body, "ImportMPRN", point)


def _value_mpxn(values: Values) -> str:
    point = values.take("importMpxn")
    try:
        if isinstance(point, str) and len(point) == 13:
            return Mpan.parse(point).core
        if isinstance(point, str):
            return Mprn.parse(point).value
    except InvalidIdentity as exc:
        raise ValueError(f"importMpxn: {exc}") from exc
    raise ValueError("importMpxn: an MPAN core or MPRN text is expected")


def read_cos_mpxn(node: Node) -> str:
    """6.23's ImportMPxN, checked (the caller reads the rest)."""
    return mpxn(node.one("ImportMPxN"), node.field("ImportMPxN"))


def build_cos_mpxn(values: Values) -> str:
    """6.23's ImportMPxN from the values."""
    return _value_mpxn(values)


def read_tamper_state(node: Node) -> dict[str, Any]:
    """6.25: Locked is ``locked``; Unchanged leaves it ``unlocked``."""
    state = node.choice("SupplyTamperState", {"Locked": "locked", "Unchanged": "unlocked"})
    return {"tamperState": state}


def build_tamper_state(values: Values, body: etree._Element, fuel: str) -> None:
    """6.25."""
    state = values.one_of("tamperState", {"locked": "Locked", "unlocked": "Unchanged"})
    add(body, "SupplyTamperState", state)


def read_randomisation(node: Node) -> dict[str, Any]:
    """7.12: 0 to 1799 s."""
    return {"randomisationOffsetLimit": node.integer("RandomisedOffsetLimit", 0, 1799)}


def build_randomisation(values: Values, body: etree._Element, fuel: str) -> None:
    """7.12."""
    add(body, "RandomisedOffsetLimit", values.integer("randomisationOffsetLimit", 0, 1799))
