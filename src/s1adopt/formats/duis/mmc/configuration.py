"""Renderers of the device settings a configuration read answers (``read_settings``).

Rules (units in the package docstring):
- each setting's value goes to the Rsp field that means it; a field no setting carries is
  left out (they are all optional), and a setting the Rsp has no field for is not reported;
- alert behaviours: a code the device holds no behaviour for is enabled (the setting's
  default). An ESME answers the supplier's view: every code of the MMC's supplier common list
  in its WAN alert settings (the poly-phase code when the device holds a behaviour for it).
  A GSME's MMC entry has four switches (WAN alert, HAN alert, event log, alarm); the device has
  one switch per alert, and all four report it. Codes outside these lists (another role's
  view) are not reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from s1adopt.formats.duis.mmc.build import (
    ELECTRICITY,
    Reader,
    decimal_text,
    field,
    integer,
    moment,
    sub,
)

MAX_BILLING_DAY = 28  # an electricity billing calendar's day of month is 1 to 28
# fmt: off
_ESME_COMMON = (
    "810D", "810E", "8119", "8145", "8154", "8155", "8161", "8162", "8168", "8183", "81A0",
    "81A1", "81A2", "81A3", "81A4", "81A5", "81A6", "81A7", "81A8", "81A9", "81AA", "81AB",
    "81AC", "81AD", "81AE", "81AF", "81B0", "81B1", "81B2", "81B3", "81B8", "81B9", "81BA",
    "81BB", "81BC", "81BD", "81BE", "81C0", "81C1", "81C4", "81C5", "81C6"
)
_ESME_POLYPHASE = ("81B7",)
_GSME = (
    "810D", "810E", "8119", "8145", "8154", "8155", "8161", "8162", "8168", "8183", "8184",
    "81A0", "81A1", "81A4", "81A5", "81A6", "81A7", "81A8", "81A9", "81AA", "81AB", "81AC",
    "81AD", "81AE", "81AF", "81B0", "81B1", "81B2", "81B3", "81B4", "81B5", "81B6", "81B9",
    "81BA", "81BC", "81BD", "81BE", "81BF", "81C0", "81C2", "81C3", "81C4", "81C5", "81C6"
)
# fmt: on
_GAS_SWITCHES = ("WANAlert", "HANAlert", "EventLog", "Alarm")
_ALERT_CODE = re.compile(r"[0-9A-Fa-f]{4}")
_GAS_PERIODICITY = {
    "daily": "Daily",
    "weekly": "Weekly",
    "monthly": "Monthly",
    "quarterly": "Quarterly",
    "half-yearly": "SixMonthly",
    "yearly": "Yearly",
}
_SPANNING = {"quarterly": "Quarterly", "half-yearly": "SixMonthly", "yearly": "Yearly"}
_PAYMENT_MODES = {"credit": "Credit", "prepayment": "Prepayment"}


def load_limit(r: Reader, rsp: etree._Element) -> None:
    """4.15 (ESME): the load limit counter and settings."""
    _esme(r)
    limit = _object(r, "loadLimit")
    sub(rsp, "LoadLimitCounterValue", str(_count(r, "loadLimitCounter")))
    sub(rsp, "LoadLimitPowerThreshold", str(integer(r, limit, "powerThreshold", 0)))
    sub(rsp, "LoadLimitPeriod", str(integer(r, limit, "period", 0)))
    sub(rsp, "LoadLimitRestorationPeriod", str(integer(r, limit, "restorationPeriod", 0)))


def voltage(r: Reader, rsp: etree._Element) -> None:
    """6.2.1 (ESME): average RMS thresholds (single phase) and extreme thresholds, in V (the
    MMC has no field for the averaging period)."""
    _esme(r)
    settings = _object(r, "voltage")
    single = sub(rsp, "SinglePhaseVoltageSettings")
    over = integer(r, settings, "averageRmsOverVoltageThreshold", 0)
    under = integer(r, settings, "averageRmsUnderVoltageThreshold", 0)
    sub(single, "AverageRMSOverVoltageThreshold", str(over))
    sub(single, "AverageRMSUnderVoltageThreshold", str(under))
    extreme = sub(rsp, "RMSVoltageSettings")
    high = integer(r, settings, "extremeOverVoltageThreshold", 0)
    low = integer(r, settings, "extremeUnderVoltageThreshold", 0)
    sub(extreme, "RMSExtremeOverVoltageThreshold", str(high))
    sub(extreme, "RMSExtremeUnderVoltageThreshold", str(low))


def randomisation(r: Reader, rsp: etree._Element) -> None:
    """6.2.2 (ESME): the randomisation offset limit, in seconds."""
    _esme(r)
    sub(rsp, "RandomisedOffsetLimit", str(_count(r, "randomisationOffsetLimit")))


def billing_calendar(r: Reader, rsp: etree._Element) -> None:
    """6.2.3: the billing calendar; an ESME's as a time of day and a day of the week
    (1 = Monday) or month (1 to 28) and the start month, a GSME's as start and periodicity."""
    calendar = _object(r, "billingCalendar")
    start = moment(r, calendar, "start")
    periodicity = field(r, calendar, "periodicity", str)
    if periodicity not in _GAS_PERIODICITY:
        raise r.fail(f"unknown billing periodicity {periodicity!r}")
    holder = sub(rsp, "BillingCalendar")
    if r.meter() != ELECTRICITY:
        gas = sub(holder, "GasBillingCalendar")
        sub(gas, "BillingPeriodStart", start)
        sub(gas, "Periodicity", _GAS_PERIODICITY[periodicity])
        return
    when = datetime.fromisoformat(start.replace("Z", "+00:00"))
    electricity = sub(holder, "ElectricityBillingCalendar")
    sub(electricity, "BillingTime", f"{when:%H:%M:%S}Z")
    if periodicity != "daily" and periodicity != "weekly" and when.day > MAX_BILLING_DAY:
        raise r.fail(f"an ESME bills on day 1 to {MAX_BILLING_DAY} of a month, not {when.day}")
    if periodicity == "daily":
        sub(electricity, "Daily")
    elif periodicity == "weekly":
        sub(electricity, "Weekly", str(when.isoweekday()))
    elif periodicity == "monthly":
        sub(electricity, "Monthly", str(when.day))
    else:
        spanning = sub(electricity, _SPANNING[periodicity])
        sub(spanning, "DayOfMonth", str(when.day))
        sub(spanning, "BillingPeriodStartMonth", str(when.month))


def power_thresholds(r: Reader, rsp: etree._Element) -> None:
    """6.2.5 (ESME): the low/medium and medium/high boundaries, in W (the device's ``low``
    and ``medium`` thresholds; the MMC has no field for ``high``)."""
    _esme(r)
    thresholds = _object(r, "powerThresholds")
    sub(rsp, "LowMediumPowerThreshold", str(integer(r, thresholds, "low", 0)))
    sub(rsp, "MediumHighPowerThreshold", str(integer(r, thresholds, "medium", 0)))


def gas_configuration(r: Reader, rsp: etree._Element) -> None:
    """6.2.8 (GSME): calorific value (MJ/m3), conversion factor, uncontrolled gas flow rate
    (m3/h) and its measurement period (s)."""
    if r.meter() == ELECTRICITY:
        raise r.fail("is read from a GSME only")
    conversion, flow = _object(r, "gasConversion"), _object(r, "gasFlow")
    sub(rsp, "CalorificValue", decimal_text(integer(r, conversion, "calorificValue", 0), 3))
    sub(rsp, "ConversionFactor", decimal_text(integer(r, conversion, "conversionFactor", 0), 6))
    rate = integer(r, flow, "uncontrolledGasFlowRate", 0)
    sub(rsp, "UncontrolledGasFlowRate", decimal_text(rate, 3))
    sub(rsp, "FlowMeasurementPeriod", str(integer(r, flow, "period", 0)))


def payment_mode(r: Reader, rsp: etree._Element) -> None:
    """6.2.9: the payment mode (the MMC's other fields are not settings of the device)."""
    r.meter()
    mode = r.setting("paymentMode")
    if mode not in _PAYMENT_MODES:
        raise r.fail(f"unknown payment mode {mode!r}")
    sub(rsp, "PaymentMode", _PAYMENT_MODES[mode])


def alert_behaviours(r: Reader, rsp: etree._Element) -> None:
    """6.2.10: whether each alert is enabled (see the module rules)."""
    behaviours = _alert_switches(r)
    if r.meter() == ELECTRICITY:
        settings = sub(rsp, "ElectricitySupplierAlertEventSettings")
        wan = sub(settings, "ElectricitySupplierWANAlertSettings")
        common = sub(wan, "SupplierESMECommon")
        for code in _ESME_COMMON:
            sub(common, "x" + code, _switch(behaviours.get(code, True)))
        held = [code for code in _ESME_POLYPHASE if code in behaviours]
        if held:
            polyphase = sub(wan, "SupplierESMEPolyPhase")
            for code in held:
                sub(polyphase, "x" + code, _switch(behaviours[code]))
        return
    settings = sub(rsp, "GasSupplierAlertEventSettings")
    for code in _GSME:
        entry = sub(settings, "x" + code)
        for switch in _GAS_SWITCHES:
            sub(entry, switch, _switch(behaviours.get(code, True)))


# --- helpers ------------------------------------------------------------------------------------


def _esme(r: Reader) -> None:
    if r.meter() != ELECTRICITY:
        raise r.fail("is read from an ESME only")


def _object(r: Reader, name: str) -> Mapping[str, Any]:
    value = r.setting(name)
    if not isinstance(value, Mapping):
        raise r.fail(f"the setting {name!r} must be an object")
    return value


def _count(r: Reader, name: str) -> int:
    """A setting that is a non-negative integer."""
    return integer(r, {name: r.setting(name)}, name, 0)


def _alert_switches(r: Reader) -> dict[str, bool]:
    behaviours = _object(r, "alertBehaviours")
    switches: dict[str, bool] = {}
    for code, enabled in behaviours.items():
        if not isinstance(code, str) or _ALERT_CODE.fullmatch(code) is None:
            raise r.fail(f"alert code {code!r} is not 4 hex digits")
        if not isinstance(enabled, bool):
            raise r.fail(f"the behaviour of alert {code} must be true or false")
        switches[code.upper()] = enabled
    return switches


def _switch(enabled: bool) -> str:
    return "Enable" if enabled else "Disable"
