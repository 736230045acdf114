"""Realistic request values for tests, demos and benchmarks, one function per kind of body.

Rules: every example is valid for the device types its SRV serves and round-trips through
``build_body`` and ``read_values`` unchanged; times derive from ``now`` (UTC, whole seconds),
never from the wall clock here.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timedelta
from typing import Any

from s1adopt.domain.identities import Mpan, Mprn
from s1adopt.formats.duis.device_requests.fields import FUELS, Example, iso

EXAMPLE_MPAN = Mpan.with_check_digit("123456789012").core
EXAMPLE_MPRN = Mprn.with_check_digits("12345678").value
EXAMPLE_HAN_DEVICE = "00DB1234567890A4"  # an IHD
EXAMPLE_FIRMWARE_HASH = hashlib.sha256(b"s1adopt example firmware image").hexdigest()
PREPAYMENT = {  # the SMETS1 prepayment settings' defaults, pence
    "debtRecoveryRateCap": 0,
    "emergencyCreditLimit": 1000,
    "emergencyCreditThreshold": 500,
    "lowCreditThreshold": 500,
    "maxMeterBalance": 1_000_000,
    "maxCreditThreshold": 100_000,
}


def log_window(device_type: str, now: datetime) -> dict[str, Any]:
    """The two days before ``now``'s day: midnight to midnight, UTC."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"from": iso(end - timedelta(days=2)), "to": iso(end)}


def event_log(device_type: str, now: datetime) -> dict[str, Any]:
    """The meter's event log over the log window."""
    log = "GSMEEvent" if device_type == "GSME" else "Event"
    return {**log_window(device_type, now), "log": log}


def tariff(device_type: str, now: datetime) -> dict[str, Any]:
    """Economy 7 on electricity (night 00:00 to 07:00); one price all day on gas."""
    if device_type == "GSME":
        return {"bands": [0] * 48, "prices": [650], "standingCharge": 31, "fuel": "gas"}
    bands = [0] * 14 + [1] * 34
    return {"bands": bands, "prices": [1520, 3050], "standingCharge": 53, "fuel": "electricity"}


def price(device_type: str, now: datetime) -> dict[str, Any]:
    """New prices for the example tariff."""
    if device_type == "GSME":
        return {"prices": [640], "standingCharge": 30, "fuel": "gas"}
    return {"prices": [1480, 2990], "standingCharge": 55, "fuel": "electricity"}


def fuel(device_type: str) -> str:
    """The fuel of a meter type."""
    return FUELS[device_type]


def prepay_configuration(device_type: str, now: datetime) -> dict[str, Any]:
    """The default prepayment settings."""
    return {"prepayment": dict(PREPAYMENT), "fuel": fuel(device_type)}


def debt(device_type: str, now: datetime) -> dict[str, Any]:
    """GBP 25 of debt added."""
    return {"amount": 2500, "fuel": fuel(device_type)}


def billing_calendar(device_type: str, now: datetime) -> dict[str, Any]:
    """Monthly from 1 January 2026 at midnight (the settings' default)."""
    calendar = {"start": "2026-01-01T00:00:00Z", "periodicity": "monthly"}
    return {"billingCalendar": calendar, "fuel": fuel(device_type)}


def alert_behaviour(device_type: str, now: datetime) -> dict[str, Any]:
    """Two supplier alerts: one enabled, one disabled."""
    return {"alertBehaviours": {"8119": True, "8168": False}, "fuel": fuel(device_type)}


def import_mpxn(device_type: str, now: datetime) -> dict[str, Any]:
    """An MPAN for electricity, an MPRN for gas."""
    return {"importMpxn": EXAMPLE_MPRN if device_type == "GSME" else EXAMPLE_MPAN}


def constant(values: dict[str, Any]) -> Example:
    """An example that is the same for every device type and time (a fresh copy each time)."""

    def example(device_type: str, now: datetime) -> dict[str, Any]:
        return copy.deepcopy(values)

    return example


def clock(device_type: str, now: datetime) -> dict[str, Any]:
    """Synchronise to ``now`` within 10 s."""
    return {"time": iso(now), "tolerance": 10}


def restriction(device_type: str, now: datetime) -> dict[str, Any]:
    """Withhold data from before ``now`` (a new tenant moved in)."""
    return {"restrictionDateTime": iso(now)}
