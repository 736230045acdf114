"""Renderers of the tariff and the prepayment values.

Rules (units in the package docstring):
- money the MMC carries without a unit (balances, debt, prepayment thresholds) is written in
  pence, as the device holds it and as the project reads DUIS requests' money;
- an ESME tariff is written in GBP with the schema's scales: prices (hundredths of a penny per
  kWh) with ``PriceScale`` -4 and the standing charge (pence per day) with
  ``StandingChargeScale`` -2, trailing zeros moving into the scale when a value does not fit
  the schema's 16-bit price; its switching table is one day profile (a ``ProfileSchedule`` at
  each half-hour where the band changes, ``TOUTariffAction`` = band + 1) that every day of the
  one week profile refers to;
- a GSME tariff is written in millipence, as DUIS writes gas prices: TOU prices (hundredths of
  a penny per kWh) times 10 and the standing charge (pence per day) times 1000. The gas MMC
  switches tariff per day only, so the switching table is written when the tariff has one band
  all day and left out otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from s1adopt.formats.duis.mmc.build import (
    ELECTRICITY,
    Reader,
    bounded,
    field,
    integer,
    scaled,
    sub,
)

BANDS = 48  # one tariff band per half-hour of the day
MAX_ELECTRICITY_PRICES = 48
MAX_GAS_PRICES = 4
MAX_PRICE_TYPE = 32_767  # ra:PriceType is an xs:short
MAX_UNSIGNED_INT = 4_294_967_295
PRICE_SCALE = -4  # a hundredth of a penny is 10**-4 GBP
STANDING_CHARGE_SCALE = -2  # a penny is 10**-2 GBP
MILLIPENCE_PER_PRICE_UNIT = 10  # a hundredth of a penny is 10 millipence
MILLIPENCE_PER_PENNY = 1000
_PREPAYMENT = (  # setting key -> MMC element, in the schema's order
    ("debtRecoveryRateCap", "DebtRecoveryRateCap"),
    ("emergencyCreditLimit", "EmergencyCreditLimit"),
    ("emergencyCreditThreshold", "EmergencyCreditThreshold"),
    ("lowCreditThreshold", "LowCreditThreshold"),
    ("maxCreditThreshold", "CreditMaxCreditThreshold"),
    ("maxMeterBalance", "MaxCreditMaxMeterBalance"),
)


def prepay_values(r: Reader, rsp: etree._Element) -> None:
    """4.3: accumulated debt and meter balance (the device keeps no separate time or payment
    debt registers, and no emergency credit balance apart from its meter balance)."""
    answer = r.first()
    r.meter()
    sub(rsp, "AccumulatedDebtRegister", str(integer(r, answer, "debt", 0)))
    sub(rsp, "MeterBalance", str(integer(r, answer, "balance")))


def meter_balance(r: Reader, rsp: etree._Element) -> None:
    """4.18: the meter balance."""
    answer = r.first()
    r.meter()
    sub(rsp, "MeterBalance", str(integer(r, answer, "balance")))


def prepayment_configuration(r: Reader, rsp: etree._Element) -> None:
    """4.13: the prepayment settings."""
    r.meter()
    settings = r.setting("prepayment")
    if not isinstance(settings, Mapping):
        raise r.fail("the setting 'prepayment' must be an object")
    for key, name in _PREPAYMENT:
        sub(rsp, name, str(integer(r, settings, key, 0)))


def tariff(r: Reader, rsp: etree._Element) -> None:
    """4.11.1: the tariff's prices, standing charge and switching table."""
    answer = r.first()
    tariff = field(r, answer, "tariff", Mapping)
    bands = field(r, tariff, "bands", list)
    prices = [integer(r, {"prices": p}, "prices", 0) for p in field(r, tariff, "prices", list)]
    standing = integer(r, tariff, "standingCharge", 0)
    if not prices:
        raise r.fail("the tariff has no prices")
    checked = _bands(r, bands, len(prices))
    if r.meter() == ELECTRICITY:
        _electricity(r, sub(rsp, "Electricity"), checked, prices, standing)
    else:
        _gas(r, sub(rsp, "Gas"), checked, prices, standing)


# --- helpers ------------------------------------------------------------------------------------


def _bands(r: Reader, bands: list[Any], count: int) -> list[int]:
    if len(bands) != BANDS:
        raise r.fail(f"the tariff must hold {BANDS} bands, one per half-hour, not {len(bands)}")
    checked = [integer(r, {"bands": b}, "bands", 0) for b in bands]
    if max(checked) >= count:
        raise r.fail(f"a band numbers a price the tariff lacks (it has {count})")
    return checked


def _electricity(
    r: Reader, electricity: etree._Element, bands: list[int], prices: list[int], standing: int
) -> None:
    bounded(r, prices, "prices", MAX_ELECTRICITY_PRICES)
    try:
        (charge,), charge_scale = scaled([standing], STANDING_CHARGE_SCALE, MAX_PRICE_TYPE)
        values, price_scale = scaled(prices, PRICE_SCALE, MAX_PRICE_TYPE)
    except ValueError as exc:
        raise r.fail(f"the tariff does not fit the MMC's prices: {exc}") from None
    sub(electricity, "CurrencyUnitsLabel", "GBP")
    sub(electricity, "StandingCharge", str(charge))
    sub(electricity, "StandingChargeScale", str(charge_scale))
    sub(electricity, "PriceScale", str(price_scale))
    matrix = sub(electricity, "TariffTOUPriceMatrix")
    for index, value in enumerate(values, 1):
        sub(matrix, "TariffTOUPrice", str(value), index=str(index))
    table = sub(electricity, "TariffSwitchingTable")
    day = sub(sub(table, "DayProfiles"), "DayProfile")
    sub(day, "Day", "1")
    for half_hour, band in enumerate(bands):
        if half_hour and band == bands[half_hour - 1]:
            continue
        schedule = sub(day, "ProfileSchedule")
        sub(schedule, "StartTime", f"{half_hour // 2:02d}:{half_hour % 2 * 30:02d}:00Z")
        sub(schedule, "TOUTariffAction", str(band + 1))
    week = sub(sub(table, "WeekProfiles"), "WeekProfile")
    sub(week, "WeekName", "1")
    for weekday in range(1, 8):
        sub(week, "ReferencedElecDay", "1", index=str(weekday))


def _gas(
    r: Reader, gas: etree._Element, bands: list[int], prices: list[int], standing: int
) -> None:
    bounded(r, prices, "prices", MAX_GAS_PRICES)
    millipence = [p * MILLIPENCE_PER_PRICE_UNIT for p in prices]
    charge = standing * MILLIPENCE_PER_PENNY
    if max(*millipence, charge) > MAX_UNSIGNED_INT:
        raise r.fail("a gas price or standing charge in millipence exceeds the MMC's bound")
    sub(gas, "CurrencyUnitsLabel", "GBP")
    sub(gas, "StandingCharge", str(charge))
    if len(set(bands)) == 1:
        table = sub(gas, "TariffSwitchingTable")
        day = sub(sub(table, "DayProfiles"), "DayProfile")
        sub(day, "DayName", "1")
        sub(day, "TOUTariffAction", str(bands[0] + 1))
        week = sub(sub(table, "WeekProfiles"), "WeekProfile")
        sub(week, "WeekName", "1")
        for weekday in range(1, 8):
            sub(week, "ReferencedDay", "1", index=str(weekday))
    matrix = sub(gas, "TOUTariff")
    for index, value in enumerate(millipence, 1):
        sub(matrix, "TariffTOUPrice", str(value), index=str(index))
