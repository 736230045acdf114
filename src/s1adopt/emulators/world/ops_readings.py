"""Meter readings: instantaneous registers, half-hourly profile, daily log.

Rules:
- Values are in the meter's ``unit``: "Wh" for an ESME, "L" (litres) for a GSME; demand is
  in W, or litres per hour.
- ``read_instantaneous`` answers the total register, the model's time-of-use registers (4 or
  8; they add up to the total) and the demand, at the device's time.
- ``read_profile`` answers the completed intervals whose start lies in [from, to): each as
  ``{"start": time, "value"}`` on a model that stamps an interval at its start (SMETS1), or
  ``{"end": time, "value"}`` on one that stamps it at its end. ``from`` must come before
  ``to``, at most ``MAX_PROFILE_DAYS`` apart, and not before the meter's records begin
  (REJECTED otherwise).
- ``read_daily_log`` answers the total register at each midnight (UTC) in [from, to] that has
  passed, at most ``MAX_DAILY_LOG_DAYS`` apart.
"""

from __future__ import annotations

from typing import Any

from s1adopt.emulators.world.call import Call, rejected
from s1adopt.emulators.world.clock import DAY, HALF_HOUR, time_text
from s1adopt.emulators.world.meter import tou_registers
from s1adopt.emulators.world.physics import (
    EPOCH,
    demand,
    energy_to,
    interval_at,
    interval_start,
    interval_value,
    midnight_at_or_after,
)

MAX_PROFILE_DAYS = 31
MAX_DAILY_LOG_DAYS = 366


def _unit(call: Call) -> str:
    return "L" if call.gas else "Wh"


def read_instantaneous(call: Call) -> dict[str, Any]:
    """Total and time-of-use registers and demand, now."""
    profile, now = call.profile(), call.now
    return {
        "time": time_text(now),
        "unit": _unit(call),
        "total": call.device.base + energy_to(profile, now),
        "tou": tou_registers(call.meter_view(), profile, now),
        "demand": demand(profile, now),
    }


def _span(call: Call, limit_days: int) -> tuple[int, int]:
    start, end = call.params["from"], call.params["to"]
    if start >= end:
        raise rejected("'from' must come before 'to'")
    if end - start > limit_days * DAY:
        raise rejected(f"at most {limit_days} days can be read at once")
    if start < EPOCH:
        raise rejected(f"the meter holds no data before {time_text(EPOCH)}")
    return start, end


def read_profile(call: Call) -> dict[str, Any]:
    """The completed half-hour intervals starting in [from, to)."""
    start, end = _span(call, MAX_PROFILE_DAYS)
    profile = call.profile()
    first = -(-(start - EPOCH) // HALF_HOUR)
    stop = min(-(-(end - EPOCH) // HALF_HOUR), interval_at(call.now))
    at_start = call.device.model.behaviour.profile_stamp == "start"
    key, shift = ("start", 0) if at_start else ("end", HALF_HOUR)
    intervals = [
        {key: time_text(interval_start(i) + shift), "value": interval_value(profile, i)}
        for i in range(first, stop)
    ]
    return {"unit": _unit(call), "intervals": intervals}


def read_daily_log(call: Call) -> dict[str, Any]:
    """The total register at each past midnight in [from, to]."""
    start, end = _span(call, MAX_DAILY_LOG_DAYS)
    profile, base = call.profile(), call.device.base
    midnights = range(midnight_at_or_after(start), min(end, call.now) + 1, DAY)
    days = [{"time": time_text(m), "value": base + energy_to(profile, m)} for m in midnights]
    return {"unit": _unit(call), "days": days}
