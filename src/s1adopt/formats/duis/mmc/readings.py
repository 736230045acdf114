"""Renderers of the meter readings: registers, TOU matrices, demand, profile and daily logs.

Rules (units in the package docstring):
- a TOU matrix holds exactly the model's time-of-use registers, indexed from 1;
- a profile entry is stamped with the interval's own stamp as the device gave it, under the
  key the model's rule names (``start`` or ``end``); an answer stamped otherwise is refused;
- a day's consumption (4.17) is the difference between two consecutive midnight registers,
  stamped with the later midnight (when the day closed); registers that are not a day apart or
  that go down are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any

from lxml import etree

from s1adopt.formats.duis.mmc.build import (
    ELECTRICITY,
    Reader,
    bounded,
    field,
    integer,
    litres_as_m3,
    moment,
    sub,
)

MAX_PROFILE_ENTRIES = 19056
MAX_DAILY_READ_ENTRIES = 31
MAX_DAILY_CONSUMPTION_ENTRIES = 731
MAX_ELECTRICITY_TOU = 48
MAX_GAS_TOU = 4
MAX_BLOCK_TOU = 8
_DAY = 86_400


def import_registers(r: Reader, rsp: etree._Element) -> None:
    """4.1.1: the total import register."""
    answer = r.first()
    r.unit(answer)
    total = integer(r, answer, "total", 0)
    if r.meter() == ELECTRICITY:
        register = sub(sub(rsp, "Electricity"), "ActiveImportRegister")
        sub(register, "Value", str(total))
        sub(register, "ActiveEnergyUnit", "Wh")
    else:
        register = sub(sub(rsp, "Gas"), "ConsumptionRegister")
        sub(register, "Value", litres_as_m3(total))
        sub(register, "Unit", "m3")


def tou_matrices(r: Reader, rsp: etree._Element) -> None:
    """4.1.2: the time-of-use registers."""
    answer = r.first()
    r.unit(answer)
    if r.meter() == ELECTRICITY:
        registers = _tou(r, answer, MAX_ELECTRICITY_TOU)
        collection = sub(sub(rsp, "Electricity"), "TariffTOURegisterCollection")
        for index, value in enumerate(registers, 1):
            sub(collection, "TOUPrimaryRegisterValue", str(value), index=str(index))
    else:
        registers = _tou(r, answer, MAX_GAS_TOU)
        matrix = sub(sub(rsp, "Gas"), "TariffTOURegisterMatrix")
        for index, value in enumerate(registers, 1):
            sub(matrix, "TOURegisterMatrixValue", litres_as_m3(value), index=str(index))


def tou_with_blocks(r: Reader, rsp: etree._Element) -> None:
    """4.1.3 (ESME): the time-of-use registers as block 1 of the TOU-with-blocks matrix (a
    SMETS1 tariff here has no blocks, so every register belongs to the first)."""
    answer = r.first()
    if r.meter() != ELECTRICITY:
        raise r.fail("is read from an ESME only")
    r.unit(answer)
    registers = _tou(r, answer, MAX_BLOCK_TOU)
    block = sub(sub(rsp, "TariffBlockTOURegisterCollection"), "TariffBlock", index="1")
    for index, value in enumerate(registers, 1):
        sub(block, "RegisterMatrixTOUValue", str(value), index=str(index))


def active_power(r: Reader, rsp: etree._Element) -> None:
    """4.16 (ESME): the instantaneous active power import, in W."""
    answer = r.first()
    if r.meter() != ELECTRICITY:
        raise r.fail("is read from an ESME only")
    r.unit(answer)
    power = sub(rsp, "ActivePowerImport")
    sub(power, "Value", str(integer(r, answer, "demand", 0)))
    sub(power, "Unit", "W")


def profile(r: Reader, rsp: etree._Element) -> None:
    """4.8.1: one entry per half-hour interval, stamped as the device stamped it."""
    stamp = r.ctx.profile_stamp
    if stamp not in ("start", "end"):
        raise r.fail(f"the model's profile stamp must be 'start' or 'end', not {stamp!r}")
    electricity = r.meter() == ELECTRICITY
    for answer in r.answers:
        if isinstance(answer, Mapping):
            r.unit(answer)
    intervals = list(r.every("intervals"))
    bounded(r, intervals, "profile intervals", MAX_PROFILE_ENTRIES)
    for interval in intervals:
        if stamp not in interval:
            other = "end" if stamp == "start" else "start"
            found = f" (it has {other!r})" if other in interval else ""
            raise r.fail(f"an interval lacks its {stamp!r} stamp, the model's rule{found}")
        entry = sub(rsp, "LogEntry")
        sub(entry, "Timestamp", moment(r, interval, stamp))
        value = integer(r, interval, "value", 0)
        if electricity:
            sub(sub(entry, "Electricity"), "PrimaryValue", str(value))
        else:
            sub(sub(entry, "Gas"), "PrimaryValue", litres_as_m3(value))


def daily_read_log(r: Reader, rsp: etree._Element) -> None:
    """4.6.1: the total import register at each midnight."""
    days = _days(r)
    bounded(r, days, "daily reads", MAX_DAILY_READ_ENTRIES)
    electricity = r.meter() == ELECTRICITY
    for stamp, value in days:
        entry = sub(rsp, "LogEntry")
        sub(entry, "Timestamp", stamp)
        if electricity:
            sub(sub(entry, "Electricity"), "ElecActiveImportRegisterConsumption", str(value))
        else:
            sub(sub(entry, "Gas"), "GasActiveImportRegisterConsumption", litres_as_m3(value))


def daily_consumption(r: Reader, rsp: etree._Element) -> None:
    """4.17: each day's consumption, the difference of consecutive midnight registers."""
    days = _days(r)
    bounded(r, days[1:], "days of consumption", MAX_DAILY_CONSUMPTION_ENTRIES)
    electricity = r.meter() == ELECTRICITY
    log = sub(rsp, "Electricity" if electricity else "Gas")
    for (before, then), (after, now) in pairwise(days):
        if _seconds(after) - _seconds(before) != _DAY:
            raise r.fail(f"the midnight registers {before} and {after} are not a day apart")
        if now < then:
            raise r.fail(f"the register went down from {then} to {now} by {after}")
        entry = sub(log, "LogEntry")
        used = now - then
        sub(entry, "Value", str(used) if electricity else litres_as_m3(used))
        sub(entry, "Timestamp", after)


# --- helpers ------------------------------------------------------------------------------------


def _tou(r: Reader, answer: Mapping[str, Any], limit: int) -> list[int]:
    registers = field(r, answer, "tou", list)
    expected = r.ctx.tou_registers
    if len(registers) != expected:
        raise r.fail(f"the model has {expected} time-of-use registers, the answer {len(registers)}")
    bounded(r, registers, "time-of-use registers", limit)
    return [integer(r, {"tou": v}, "tou", 0) for v in registers]


def _days(r: Reader) -> list[tuple[str, int]]:
    for answer in r.answers:
        if isinstance(answer, Mapping):
            r.unit(answer)
    return [(moment(r, d, "time"), integer(r, d, "value", 0)) for d in r.every("days")]


def _seconds(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
