"""1.6 Update Payment Mode, 2.1 Update Prepay Configuration, 2.2 Top Up Device and 2.3 Update
Debt: read into the SMETS1 equivalent's payment mode, prepayment settings, UTRN and debt
adjustment, and built from them.

Rules: amounts are pence, as the SMETS1 settings hold them (DUIS names no unit for them), 0 to
``MAX_AMOUNT``; what the SMETS1 equivalent has no place for must have its neutral value, or the
body is refused: the debt suspension flags and disablement threshold of 1.6 (false, false, 0),
a non-disablement calendar that ever STARTs a non-disablement period on a day (2.1), and debt
recovery rates (2.3: DebtRecoveryPerPayment and each DebtRecoveryRate 0).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from s1adopt.formats.duis.device_requests.fields import (
    Node,
    Values,
    add,
    boolean,
    clock,
    integer,
)
from s1adopt.formats.duis.requests import InvalidField

MAX_AMOUNT = 10_000_000  # pence, the bound of the SMETS1 prepayment settings
_INT = 2**31 - 1
_UTRN = re.compile(r"[0-9]{20}")
# The six settings of the SMETS1 equivalent, by their DUIS element, in the schema's order
# (the non-disablement calendar stands between LowCreditThreshold and MaxMeterBalance).
PREPAYMENT = {
    "DebtRecoveryRateCap": "debtRecoveryRateCap",
    "EmergencyCreditLimit": "emergencyCreditLimit",
    "EmergencyCreditThreshold": "emergencyCreditThreshold",
    "LowCreditThreshold": "lowCreditThreshold",
    "MaxMeterBalance": "maxMeterBalance",
    "MaxCreditThreshold": "maxCreditThreshold",
}
_CAPS = {("electricity", "DebtRecoveryRateCap"): 65535}  # xs:unsignedShort
_CALENDAR = {"electricity": "ElectricityNonDisablementCalendar", "gas": "GasNonDisablementCalendar"}
CONFIGURATIONS = {"electricity": "UpdatePrepayConfigElectricity", "gas": "UpdatePrepayConfigGas"}
_NO_CALENDAR = "the SMETS1 equivalent has no non-disablement calendar"


# --- 1.6 ------------------------------------------------------------------------------------


def read_payment_mode(node: Node) -> dict[str, Any]:
    """``Credit`` or ``Prepayment`` with neutral debt settings."""
    if node.one_of("Credit", "Prepayment") == "Credit":
        node.empty("Credit")
        return {"paymentMode": "credit"}
    mode = node.node(
        "Prepayment", ("SuspendDebtDisabled", "SuspendDebtEmergency", "DisablementThreshold")
    )
    for flag in ("SuspendDebtDisabled", "SuspendDebtEmergency"):
        if boolean(mode.one(flag), mode.field(flag)):
            raise InvalidField(
                mode.field(flag),
                "must be false: the SMETS1 equivalent cannot suspend debt recovery",
            )
    if mode.integer("DisablementThreshold", -_INT - 1, _INT):
        raise InvalidField(
            mode.field("DisablementThreshold"),
            "must be 0: the SMETS1 equivalent disables the supply when credit runs out",
        )
    return {"paymentMode": "prepayment"}


def build_payment_mode(values: Values, body: etree._Element, fuel: str) -> None:
    """``Credit``, or ``Prepayment`` with false, false and 0."""
    if values.one_of("paymentMode", {"credit": "credit", "prepayment": "prepayment"}) == "credit":
        add(body, "Credit")
        return
    mode = add(body, "Prepayment")
    add(mode, "SuspendDebtDisabled", "false")
    add(mode, "SuspendDebtEmergency", "false")
    add(mode, "DisablementThreshold", 0)


# --- 2.1 ------------------------------------------------------------------------------------


def read_prepay_configuration(node: Node) -> dict[str, Any]:
    """The six amounts; the fuel from the configuration's element."""
    kind = node.one_of(*CONFIGURATIONS.values())
    fuel = "gas" if kind == CONFIGURATIONS["gas"] else "electricity"
    config = node.node(kind, (*PREPAYMENT, _CALENDAR[fuel]))
    prepayment = {key: config.integer(name, 0, MAX_AMOUNT) for name, key in PREPAYMENT.items()}
    if fuel == "gas":
        _neutral_gas_calendar(config.node(_CALENDAR[fuel], _GAS_CALENDAR))
    else:
        _neutral_elec_calendar(
            config.node(
                _CALENDAR[fuel], ("ElectricitySpecialDays", "ElectricityNonDisablementSchedule")
            ),
        )
    return {"prepayment": prepayment, "fuel": fuel}


_GAS_CALENDAR = ("DayProfiles", "WeekProfiles", "SeasonProfiles", "SpecialDays")
_SCHEDULE = (
    "NonDisablementScript",
    "SpecialDaysApplicability",
    "DaysOfWeekApplicability",
    "ScheduleDatesAndTime",
)


def _neutral_elec_calendar(calendar: Node) -> None:
    """Every schedule that STARTs non-disablement must apply to no day."""
    calendar.node("ElectricitySpecialDays", ("SpecialDay",))
    for schedule in calendar.nodes("ElectricityNonDisablementSchedule", 1, 22, _SCHEDULE):
        script = schedule.choice("NonDisablementScript", {"START": "START", "STOP": "STOP"})
        special = schedule.node("SpecialDaysApplicability", ("SpecialDayApplicability",))
        days = schedule.node("DaysOfWeekApplicability", ("DayOfWeekApplicability",))
        schedule.node("ScheduleDatesAndTime", ("SwitchTime", "StartDate", "EndDate"))
        if script == "START" and (
            special.has("SpecialDayApplicability") or days.has("DayOfWeekApplicability")
        ):
            raise InvalidField(
                schedule.path, f"STARTs a non-disablement period on some days: {_NO_CALENDAR}"
            )


def _neutral_gas_calendar(calendar: Node) -> None:
    """No day profile may START non-disablement."""
    profiles = calendar.node("DayProfiles", ("GasNonDisablementDayProfile",))
    for profile in profiles.nodes(
        "GasNonDisablementDayProfile", 1, 5, ("TimeStartAction", "GasDayName")
    ):
        profile.integer("GasDayName", 1, 5)
        for action in profile.nodes("TimeStartAction", 1, 3, ("StartTime", "NonDisablementAction")):
            if action.choice("NonDisablementAction", {"START": "START", "STOP": "STOP"}) == "START":
                raise InvalidField(
                    action.field("NonDisablementAction"),
                    f"STARTs a non-disablement period: {_NO_CALENDAR}",
                )
    for name, allowed in (
        ("WeekProfiles", "WeekProfile"),
        ("SeasonProfiles", "Season"),
        ("SpecialDays", "SpecialDay"),
    ):
        calendar.node(name, (allowed,))


def build_prepay_configuration(values: Values, body: etree._Element, fuel: str) -> None:
    """The six amounts and a calendar that never starts non-disablement."""
    prepayment = values.mapping("prepayment")
    config = add(body, CONFIGURATIONS[fuel])
    for name, key in PREPAYMENT.items():
        if name == "MaxMeterBalance":
            (_gas_calendar if fuel == "gas" else _elec_calendar)(add(config, _CALENDAR[fuel]))
        add(config, name, prepayment.integer(key, 0, _CAPS.get((fuel, name), MAX_AMOUNT)))
    prepayment.finish()


def _elec_calendar(calendar: etree._Element) -> None:
    add(calendar, "ElectricitySpecialDays")
    schedule = add(calendar, "ElectricityNonDisablementSchedule")
    add(schedule, "NonDisablementScript", "STOP")
    add(schedule, "SpecialDaysApplicability")
    add(schedule, "DaysOfWeekApplicability")
    when = add(schedule, "ScheduleDatesAndTime")
    add(when, "SwitchTime", clock(0))
    add(when, "StartDate", "2000-01-01")
    add(when, "EndDate", "2000-01-01")


def _gas_calendar(calendar: etree._Element) -> None:
    profile = add(add(calendar, "DayProfiles"), "GasNonDisablementDayProfile")
    action = add(profile, "TimeStartAction")
    add(action, "StartTime", clock(0))
    add(action, "NonDisablementAction", "STOP")
    add(profile, "GasDayName", 1)
    week = add(add(calendar, "WeekProfiles"), "WeekProfile")
    add(week, "WeekName", 1)
    for day in range(1, 8):
        add(week, "ReferencedDayName", 1, index=day)
    season = add(add(calendar, "SeasonProfiles"), "Season")
    start = add(season, "SeasonStartDate")
    add(add(start, "GasYearWithWildcards"), "NonSpecifiedYear")
    add(add(start, "GasMonthWithWildcards"), "SpecifiedMonth", 1)
    add(add(start, "GasDayOfMonthWithWildcards"), "SpecifiedDayOfMonth", 1)
    add(add(start, "GasDayOfWeekWithWildcards"), "NonSpecifiedDayOfWeek")
    add(season, "ReferencedWeekName", 1)
    add(calendar, "SpecialDays")


# --- 2.2 ------------------------------------------------------------------------------------


def read_top_up(node: Node) -> dict[str, Any]:
    """The UTRN: 20 digits."""
    utrn = node.text("UTRN", 20, 20)
    if _UTRN.fullmatch(utrn) is None:
        raise InvalidField(node.field("UTRN"), "must be 20 digits")
    return {"utrn": utrn}


def build_top_up(values: Values, body: etree._Element, fuel: str) -> None:
    """The UTRN."""
    add(body, "UTRN", values.text("utrn", _UTRN, "20 digits"))


# --- 2.3 ------------------------------------------------------------------------------------

_REGISTERS = ("TimeDebtRegister1", "TimeDebtRegister2", "PaymentDebtRegister")
_RECOVERY = {
    "electricity": ("ElecDebtRecovery1", "ElecDebtRecovery2"),
    "gas": ("GasDebtRecovery1", "GasDebtRecovery2"),
}
_NO_RECOVERY = "must be 0: the SMETS1 equivalent adjusts the debt only, not how it is recovered"


def read_debt(node: Node) -> dict[str, Any]:
    """The sum of the three registers; recovery rates must be 0."""
    amount = sum(node.integer(name, -_INT - 1, _INT) for name in _REGISTERS)
    if node.integer("DebtRecoveryPerPayment", 0, 10_000):
        raise InvalidField(node.field("DebtRecoveryPerPayment"), _NO_RECOVERY)
    gas = any(node.has(name) for name in _RECOVERY["gas"])
    if gas and any(node.has(name) for name in _RECOVERY["electricity"]):
        raise InvalidField(node.path, "mixes electricity and gas debt recovery")
    fuel = "gas" if gas else "electricity"
    for name in _RECOVERY[fuel]:
        allowed = ("DebtRecoveryRate", "DebtRecoveryRatePriceScale", "DebtRecoveryRatePeriod")
        recovery = node.node(name, allowed if fuel == "electricity" else (allowed[0], allowed[2]))
        if recovery.has("DebtRecoveryRatePriceScale"):
            recovery.integer("DebtRecoveryRatePriceScale", -128, 127)
        recovery.choice("DebtRecoveryRatePeriod", {"HOURLY": 0, "DAILY": 0})
        if integer(
            recovery.one("DebtRecoveryRate"), recovery.field("DebtRecoveryRate"), -_INT - 1, _INT
        ):
            raise InvalidField(recovery.field("DebtRecoveryRate"), _NO_RECOVERY)
    return {"amount": amount, "fuel": fuel}


def build_debt(values: Values, body: etree._Element, fuel: str) -> None:
    """The amount in TimeDebtRegister1, the other registers and the recovery rates 0."""
    add(body, "TimeDebtRegister1", values.integer("amount", -_INT - 1, _INT))
    add(body, "TimeDebtRegister2", 0)
    add(body, "PaymentDebtRegister", 0)
    add(body, "DebtRecoveryPerPayment", 0)
    for name in _RECOVERY[fuel]:
        recovery = add(body, name)
        add(recovery, "DebtRecoveryRate", 0)
        if fuel == "electricity":
            add(recovery, "DebtRecoveryRatePriceScale", 0)
        add(recovery, "DebtRecoveryRatePeriod", "DAILY")
