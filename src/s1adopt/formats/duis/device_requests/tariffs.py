"""1.1.1 Update Import Tariff (Primary Element) and 1.2.1 Update Price (Primary Element): a
DUIS switching table and price elements, read into the SMETS1 equivalent's tariff (48
half-hour bands, one price per band, a standing charge) and built from it.

Rules (the package docstring states them for users; these are the ones this module enforces):
- the SMETS1 equivalent applies one day profile every day: every DayProfile must give the
  same 48 bands as the first; week profiles, seasons and special days must name day profiles
  and week profiles the body gives, and are otherwise without effect;
- time-of-use only: a BlockTariffAction, a gas BlockTariff day, BlockTariff or HybridTariff
  prices are refused; the ThresholdMatrix (block thresholds) has no effect and is not carried;
- prices are hundredths of a penny per kWh and the standing charge pence a day; a price the
  body gives more finely than that is refused, not rounded; currency GBP only.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from s1adopt.formats.duis.device_requests.fields import (
    Node,
    Values,
    add,
    attribute_integer,
    clock,
    indexed,
    integer,
    time_of_day,
)
from s1adopt.formats.duis.requests import InvalidField

BANDS = 48  # half-hours of a day
HALF_HOUR = 1800
MAX_PRICE = 1_000_000  # hundredths of a penny per kWh (GBP 100 a kWh)
MAX_STANDING_CHARGE = 100_000  # pence a day
MAX_ELEC_PRICES = 48
MAX_GAS_PRICES = 4
_SHORT = 32767  # electricity prices and standing charge are xs:short
_UNSIGNED_INT = 2**32 - 1
_ONE_PROFILE = "the SMETS1 equivalent applies one day profile (48 half-hour bands) every day"
_TOU_ONLY = "the SMETS1 equivalent has time-of-use prices only, no block prices"
_ELEC_PRICES = (
    "StandingCharge",
    "StandingChargeScale",
    "PriceScale",
    "BlockTariff",
    "TOUTariff",
    "HybridTariff",
)
_GAS_PRICES = ("CurrencyUnits", "StandingCharge", "BlockTariff", "TOUTariff")
_DATE = ("Year", "Month", "DayOfMonth", "DayOfWeek")
_GAS_DATE = (
    "GasYearWithWildcards",
    "GasMonthWithWildcards",
    "GasDayOfMonthWithWildcards",
    "GasDayOfWeekWithWildcards",
)
_NEVER_THRESHOLD = {"electricity": 4_294_967_295, "gas": 281_474_976_710_655}


# --- reading ------------------------------------------------------------------------------


def read_tariff(node: Node) -> dict[str, Any]:
    """1.1.1: bands from the switching table, prices from the price elements."""
    kind = node.one_of("ElecTariffElements", "GasTariffElements")
    if kind == "ElecTariffElements":
        fuel = "electricity"
        tariff = node.node(
            kind, ("CurrencyUnits", "SwitchingTable", "SpecialDays", "ThresholdMatrix")
        )
        _currency(tariff)
        bands, where = _elec_switching(tariff)
    else:
        fuel = "gas"
        tariff = node.node(kind, ("SwitchingTable", "SpecialDays", "ThresholdMatrix"))
        bands, where = _gas_switching(tariff)
    prices, standing = _price_elements(node, fuel)
    for band, field in zip(bands, where, strict=True):
        if band >= len(prices):
            raise InvalidField(
                field, f"names TOU price {band + 1}, but the PriceElements give {len(prices)}"
            )
    return {"bands": bands, "prices": prices, "standingCharge": standing, "fuel": fuel}


def read_price(node: Node) -> dict[str, Any]:
    """1.2.1: prices and standing charge."""
    fuel = (
        "gas" if node.node("PriceElements", _PRICE_KINDS).has("GasPriceElements") else "electricity"
    )
    prices, standing = _price_elements(node, fuel)
    return {"prices": prices, "standingCharge": standing, "fuel": fuel}


_PRICE_KINDS = ("ElectricityPriceElements", "GasPriceElements")


def _currency(node: Node) -> None:
    if node.choice("CurrencyUnits", {"GBP": "GBP", "ECB": "ECB"}) != "GBP":
        raise InvalidField(node.field("CurrencyUnits"), "must be GBP: SMETS1 meters charge pence")


def _elec_switching(tariff: Node) -> tuple[list[int], list[str]]:
    table = tariff.node("SwitchingTable", ("DayProfiles", "WeekProfiles", "Seasons"))
    profiles = table.node("DayProfiles", ("DayProfile",))
    days: set[int] = set()
    first: tuple[int, list[int], list[str]] | None = None
    for profile in profiles.nodes("DayProfile", 1, 16, ("DayName", "ProfileSchedule")):
        name = _new_name(profile, "DayName", 16, days)
        bands, where = _elec_day(profile)
        if first is None:
            first = (name, bands, where)
        elif bands != first[1]:
            raise InvalidField(
                profile.path,
                f"day profile {name} switches differently from day profile "
                f"{first[0]}: {_ONE_PROFILE}",
            )
    assert first is not None  # nodes() gave at least one
    weeks = _week_profiles(table, 4, 16, days)
    _seasons(table, "Seasons", 4, weeks, ("SeasonName", "SeasonStartDate", "ReferencedWeekName"))
    _special_days(tariff, 50, 16, days, _DATE)
    tariff.node("ThresholdMatrix", ("Thresholds",))  # block thresholds: no effect, not carried
    return first[1], first[2]


def _elec_day(profile: Node) -> tuple[list[int], list[str]]:
    """The 48 bands of a day profile: from 00:00, the band of the TOU price in force (the
    last switch of the day before until the first one of the day)."""
    switches: dict[int, tuple[int, str]] = {}
    allowed = ("StartTime", "TOUTariffAction", "BlockTariffAction")
    for schedule in profile.nodes("ProfileSchedule", 1, BANDS, allowed):
        start = time_of_day(schedule.one("StartTime"), schedule.field("StartTime"))
        if start % HALF_HOUR:
            raise InvalidField(
                schedule.field("StartTime"),
                "must be on the hour or half past: the SMETS1 equivalent switches per half-hour",
            )
        if schedule.has("BlockTariffAction"):
            raise InvalidField(schedule.field("BlockTariffAction"), _TOU_ONLY)
        action = schedule.integer("TOUTariffAction", 1, MAX_ELEC_PRICES)
        slot = start // HALF_HOUR
        if slot in switches:
            raise InvalidField(schedule.field("StartTime"), f"{clock(start)} is given twice")
        switches[slot] = (action - 1, schedule.field("TOUTariffAction"))
    current = switches[max(switches)]
    bands, where = [], []
    for slot in range(BANDS):
        current = switches.get(slot, current)
        bands.append(current[0])
        where.append(current[1])
    return bands, where


def _gas_switching(tariff: Node) -> tuple[list[int], list[str]]:
    table = tariff.node("SwitchingTable", ("DayProfiles", "WeekProfiles", "Seasons"))
    profiles = table.node("DayProfiles", ("DayProfile",))
    days: set[int] = set()
    first: tuple[int, int, str] | None = None
    for profile in profiles.nodes(
        "DayProfile", 1, 4, ("DayName", "TOUTariffAction", "BlockTariff")
    ):
        name = _new_name(profile, "DayName", 4, days)
        if profile.has("BlockTariff"):
            raise InvalidField(profile.field("BlockTariff"), _TOU_ONLY)
        action = profile.integer("TOUTariffAction", 1, MAX_GAS_PRICES)
        if first is None:
            first = (name, action, profile.field("TOUTariffAction"))
        elif action != first[1]:
            raise InvalidField(
                profile.path,
                f"day profile {name} uses TOU price {action}, day profile {first[0]} TOU price "
                f"{first[1]}: {_ONE_PROFILE}",
            )
    assert first is not None
    weeks = _week_profiles(table, 2, 4, days)
    _seasons(table, "Seasons", 3, weeks, ("SeasonStartDate", "ReferencedWeekName"))
    _special_days(tariff, 20, 4, days, _GAS_DATE)
    tariff.node("ThresholdMatrix", ("BlockThreshold",))  # no effect, not carried
    return [first[1] - 1] * BANDS, [first[2]] * BANDS


def _new_name(node: Node, name: str, most: int, names: set[int]) -> int:
    value = node.integer(name, 1, most)
    if value in names:
        raise InvalidField(node.field(name), f"{name} {value} is given twice")
    names.add(value)
    return value


def _week_profiles(table: Node, most: int, most_day: int, days: set[int]) -> set[int]:
    weeks: set[int] = set()
    profiles = table.node("WeekProfiles", ("WeekProfile",))
    for week in profiles.nodes("WeekProfile", 1, most, ("WeekName", "ReferencedDayName")):
        _new_name(week, "WeekName", most, weeks)
        seen: set[int] = set()
        for position, day in enumerate(week.many("ReferencedDayName", 7, 7), 1):
            field = week.field("ReferencedDayName", position)
            index = attribute_integer(day, field, "index", 1, 7)
            if index in seen:
                raise InvalidField(field, f"index {index} is given twice")
            seen.add(index)
            _known(integer(day, field, 1, most_day), days, field, "day profile")
    return weeks


def _seasons(table: Node, name: str, most: int, weeks: set[int], allowed: tuple[str, ...]) -> None:
    for season in table.node(name, ("Season",)).nodes("Season", 1, most, allowed):
        if "SeasonName" in allowed:
            season.text("SeasonName", 8, 0)
        season.node("SeasonStartDate", _DATE if "SeasonName" in allowed else _GAS_DATE)
        week = season.integer("ReferencedWeekName", 1, most)
        _known(week, weeks, season.field("ReferencedWeekName"), "week profile")


def _special_days(
    tariff: Node, most: int, most_day: int, days: set[int], date: tuple[str, ...]
) -> None:
    special = tariff.node("SpecialDays", ("SpecialDay",))
    for day in special.nodes("SpecialDay", 0, most, ("Date", "ReferencedDayName")):
        day.node("Date", date)
        _known(
            day.integer("ReferencedDayName", 1, most_day),
            days,
            day.field("ReferencedDayName"),
            "day profile",
        )


def _known(value: int, names: set[int], field: str, what: str) -> None:
    if value not in names:
        raise InvalidField(field, f"names {what} {value}, which the body does not give")


def _price_elements(node: Node, fuel: str) -> tuple[list[int], int]:
    prices = node.node("PriceElements", _PRICE_KINDS)
    kind = prices.one_of(*_PRICE_KINDS)
    given = "gas" if kind == "GasPriceElements" else "electricity"
    if given != fuel:
        raise InvalidField(prices.field(kind), f"gives {given} prices for an {fuel} tariff")
    if given == "gas":
        return _gas_prices(prices.node(kind, _GAS_PRICES))
    return _elec_prices(prices.node(kind, _ELEC_PRICES))


def _elec_prices(elec: Node) -> tuple[list[int], int]:
    charge = elec.integer("StandingCharge", -_SHORT - 1, _SHORT)
    charge_scale = elec.integer("StandingChargeScale", -128, 127)
    scale = elec.integer("PriceScale", -128, 127)
    for block in ("BlockTariff", "HybridTariff"):
        if elec.has(block):
            raise InvalidField(elec.field(block), _TOU_ONLY)
    tou = elec.node("TOUTariff", ("TOUPrice",))
    field = tou.field("TOUPrice")
    prices = [
        _scaled(
            integer(price, f"{field}[{i}]", -_SHORT - 1, _SHORT),
            scale,
            4,
            f"{field}[{i}]",
            "a kWh",
            "hundredths of a penny",
            MAX_PRICE,
        )
        for i, price in enumerate(indexed(tou.many("TOUPrice", 1, MAX_ELEC_PRICES), field, 48), 1)
    ]
    standing = _scaled(
        charge, charge_scale, 2, elec.field("StandingCharge"), "a day", "pence", MAX_STANDING_CHARGE
    )
    return prices, standing


def _gas_prices(gas: Node) -> tuple[list[int], int]:
    _currency(gas)
    charge = gas.integer("StandingCharge", 0, _UNSIGNED_INT)
    if gas.has("BlockTariff"):
        raise InvalidField(gas.field("BlockTariff"), _TOU_ONLY)
    tou = gas.node("TOUTariff", ("TOUPrice",))
    field = tou.field("TOUPrice")
    prices = [
        _scaled(
            integer(price, f"{field}[{i}]", 0, _UNSIGNED_INT),
            -5,
            4,
            f"{field}[{i}]",
            "a kWh",
            "hundredths of a penny",
            MAX_PRICE,
        )
        for i, price in enumerate(indexed(tou.many("TOUPrice", 1, MAX_GAS_PRICES), field, 4), 1)
    ]
    standing = _scaled(
        charge, -5, 2, gas.field("StandingCharge"), "a day", "pence", MAX_STANDING_CHARGE
    )
    return prices, standing


def _scaled(value: int, scale: int, shift: int, field: str, per: str, unit: str, most: int) -> int:
    """``value x 10^scale`` GBP in the SMETS1 unit (``10^-shift`` GBP), which must be whole."""
    if value < 0:
        raise InvalidField(field, f"{value} is negative; the SMETS1 equivalent's prices are not")
    exponent = scale + shift
    if exponent >= 0:
        result = value * _power_of_ten(min(exponent, 20))
    else:
        divisor = _power_of_ten(min(-exponent, 20))
        if value % divisor:
            raise InvalidField(
                field,
                f"{value} x 10^{scale} GBP {per} is not a whole number of {unit} {per}, "
                "the unit of the SMETS1 equivalent",
            )
        result = value // divisor
    if result > most:
        raise InvalidField(
            field,
            f"{value} x 10^{scale} GBP {per} is above the SMETS1 equivalent's limit of "
            f"{most} {unit} {per}",
        )
    return result


def _power_of_ten(exponent: int) -> int:
    return int("1" + "0" * exponent)


# --- building -----------------------------------------------------------------------------


def build_tariff(values: Values, body: etree._Element, fuel: str) -> None:
    """1.1.1: one day profile switching at every change of band, one week, one season."""
    most = MAX_GAS_PRICES if fuel == "gas" else MAX_ELEC_PRICES
    bands = values.integers("bands", BANDS, BANDS, 0, most - 1)
    prices = values.integers("prices", max(bands) + 1, most, 0, MAX_PRICE)
    standing = values.integer("standingCharge", 0, MAX_STANDING_CHARGE)
    if fuel == "gas":
        if len(set(bands)) != 1:
            raise ValueError("bands: a gas day profile has one TOU price all day; give one band")
        _gas_tariff(add(body, "GasTariffElements"), bands[0])
    else:
        _elec_tariff(add(body, "ElecTariffElements"), bands)
    _build_prices(add(body, "PriceElements"), fuel, prices, standing)


def build_price(values: Values, body: etree._Element, fuel: str) -> None:
    """1.2.1: the price elements alone."""
    most = MAX_GAS_PRICES if fuel == "gas" else MAX_ELEC_PRICES
    prices = values.integers("prices", 1, most, 0, MAX_PRICE)
    standing = values.integer("standingCharge", 0, MAX_STANDING_CHARGE)
    _build_prices(add(body, "PriceElements"), fuel, prices, standing)


def _elec_tariff(tariff: etree._Element, bands: list[int]) -> None:
    add(tariff, "CurrencyUnits", "GBP")
    table = add(tariff, "SwitchingTable")
    profile = add(add(table, "DayProfiles"), "DayProfile")
    add(profile, "DayName", 1)
    for slot, band in enumerate(bands):
        if slot == 0 or band != bands[slot - 1]:
            schedule = add(profile, "ProfileSchedule")
            add(schedule, "StartTime", clock(slot * HALF_HOUR))
            add(schedule, "TOUTariffAction", band + 1)
    _one_week(table)
    season = add(add(table, "Seasons"), "Season")
    add(season, "SeasonName", "all")
    _every_first_of_january(add(season, "SeasonStartDate"), _DATE, "NonSpecifiedDayOfWeek")
    add(season, "ReferencedWeekName", 1)
    add(tariff, "SpecialDays")
    matrix = add(tariff, "ThresholdMatrix")
    for index in range(1, 9):
        add(
            add(matrix, "Thresholds", index=index),
            "BlockThreshold",
            _NEVER_THRESHOLD["electricity"],
            index=1,
        )


def _gas_tariff(tariff: etree._Element, band: int) -> None:
    table = add(tariff, "SwitchingTable")
    profile = add(add(table, "DayProfiles"), "DayProfile")
    add(profile, "DayName", 1)
    add(profile, "TOUTariffAction", band + 1)
    _one_week(table)
    season = add(add(table, "Seasons"), "Season")
    _every_first_of_january(add(season, "SeasonStartDate"), _GAS_DATE, "NonSpecifiedDayOfWeek")
    add(season, "ReferencedWeekName", 1)
    add(tariff, "SpecialDays")
    add(add(tariff, "ThresholdMatrix"), "BlockThreshold", _NEVER_THRESHOLD["gas"], index=1)


def _one_week(table: etree._Element) -> None:
    week = add(add(table, "WeekProfiles"), "WeekProfile")
    add(week, "WeekName", 1)
    for day in range(1, 8):
        add(week, "ReferencedDayName", 1, index=day)


def _every_first_of_january(date: etree._Element, names: tuple[str, ...], any_day: str) -> None:
    year, month, day, weekday = names
    add(add(date, year), "NonSpecifiedYear")
    add(add(date, month), "SpecifiedMonth", 1)
    add(add(date, day), "SpecifiedDayOfMonth", 1)
    add(add(date, weekday), any_day)


def _build_prices(elements: etree._Element, fuel: str, prices: list[int], standing: int) -> None:
    if fuel == "gas":
        gas = add(elements, "GasPriceElements")
        add(gas, "CurrencyUnits", "GBP")
        add(gas, "StandingCharge", standing * 1000)  # thousandths of a penny a day
        tou = add(gas, "TOUTariff")
        for index, price in enumerate(prices, 1):
            add(tou, "TOUPrice", price * 10, index=index)  # thousandths of a penny a kWh
        return
    elec = add(elements, "ElectricityPriceElements")
    charge_shift = _fitting_shift([standing], "standingCharge")
    add(elec, "StandingCharge", standing // _power_of_ten(charge_shift))
    add(elec, "StandingChargeScale", charge_shift - 2)
    price_shift = _fitting_shift(prices, "prices")
    add(elec, "PriceScale", price_shift - 4)
    tou = add(elec, "TOUTariff")
    for index, price in enumerate(prices, 1):
        add(tou, "TOUPrice", price // _power_of_ten(price_shift), index=index)


def _fitting_shift(numbers: list[int], key: str) -> int:
    """The least power of ten dividing every number that brings them into an xs:short."""
    for shift in range(8):
        divisor = _power_of_ten(shift)
        if all(n % divisor == 0 and n // divisor <= _SHORT for n in numbers):
            return shift
    raise ValueError(f"{key}: {numbers} cannot be written as DUIS 16-bit prices with one scale")
