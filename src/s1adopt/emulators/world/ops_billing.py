"""Tariff, prices and prepayment on a meter.

Rules:
- ``update_tariff``: 48 bands (one per half-hour of the day) and one price per band, every
  band numbered below the number of prices (BAD_REQUEST otherwise); more prices than the
  model has time-of-use registers is REJECTED. The standing charge stays.
- ``update_price``: one price per band of the current tariff (REJECTED otherwise) and the
  standing charge (pence per day). Prices are hundredths of a penny per kWh, 0 to
  ``MAX_PRICE``.
- Prepayment operations on a credit meter are REJECTED.
- ``top_up``: ``amount`` 1 to ``MAX_TOP_UP`` pence and a 20-digit UTRN; a UTRN already used
  on the meter is REJECTED. A top-up first repays emergency credit in use.
- ``adjust_debt`` adds (positive) or clears (negative) debt; debt below zero is REJECTED.
- The thresholds are the meter's ``prepayment`` setting (``domain.device_settings``; by
  default ``meter.EMERGENCY_CREDIT`` and ``meter.LOW_CREDIT_THRESHOLD``):
  ``activate_emergency_credit`` grants ``emergencyCreditLimit`` pence once the balance is
  below ``emergencyCreditThreshold``, and not while emergency credit is still in use
  (REJECTED).
- A balance found below ``lowCreditThreshold`` pushes one low credit alert, until the
  balance has been at or above it again.
"""

from __future__ import annotations

from typing import Any

from s1adopt.domain.operations import AlertKind
from s1adopt.emulators.world.call import Call, rejected
from s1adopt.emulators.world.meter import (
    MAX_TOP_UP,
    TARIFF_BANDS,
    MeterState,
    Tariff,
    balance,
    change_tariff,
)
from s1adopt.emulators.world.params import bad_request

MAX_PRICE = 1_000_000
MAX_STANDING_CHARGE = 100_000
UTRN_DIGITS = 20


def _prices(name: str, prices: list[int]) -> tuple[int, ...]:
    if not prices or any(not 0 <= p <= MAX_PRICE for p in prices):
        raise bad_request(name, f"must list at least one price of 0 to {MAX_PRICE}")
    return tuple(prices)


def update_tariff(call: Call) -> dict[str, Any]:
    """Replace the bands and prices; the registers continue from a snapshot."""
    bands, prices = call.params["bands"], _prices("prices", call.params["prices"])
    if len(bands) != TARIFF_BANDS:
        raise bad_request("bands", f"must hold {TARIFF_BANDS} band numbers, one per half-hour")
    if any(not 0 <= b < len(prices) for b in bands):
        raise bad_request("bands", f"must number bands from 0 to {len(prices) - 1}")
    registers = call.device.model.behaviour.tou_registers
    if len(prices) > registers:
        raise rejected(f"this model has {registers} time-of-use registers, not {len(prices)}")
    state = call.meter()
    tariff = Tariff(tuple(bands), prices, state.tariff.standing_charge)
    change_tariff(state, call.profile(), call.gas, call.now, tariff)
    return {"updated": True}


def update_price(call: Call) -> dict[str, Any]:
    """Replace the prices and standing charge, keeping the bands."""
    prices, standing = _prices("prices", call.params["prices"]), call.params["standingCharge"]
    if not 0 <= standing <= MAX_STANDING_CHARGE:
        raise bad_request("standingCharge", f"must be 0 to {MAX_STANDING_CHARGE} pence a day")
    state = call.meter()
    if len(prices) != len(state.tariff.prices):
        raise rejected(f"the tariff has {len(state.tariff.prices)} bands, not {len(prices)}")
    tariff = Tariff(state.tariff.bands, prices, standing)
    change_tariff(state, call.profile(), call.gas, call.now, tariff)
    return {"updated": True}


def _prepayment(call: Call) -> None:
    if not call.device.prepayment:
        raise rejected("the meter is in credit mode")


def _threshold(call: Call, name: str) -> int:
    """One pence figure of the meter's ``prepayment`` setting."""
    value: int = call.device.setting("prepayment")[name]
    return value


def _balance(call: Call, state: MeterState) -> int:
    """The balance now, pushing a low credit alert when it first falls below the threshold."""
    now = balance(state, call.profile(), call.gas, call.seed, call.now)
    low = now < _threshold(call, "lowCreditThreshold")
    if low != state.low_credit_alerted:
        state = call.meter()
        state.low_credit_alerted = low
        if low:
            call.alert(AlertKind.LOW_CREDIT, f"balance {now}p")
    return now


def top_up(call: Call) -> dict[str, Any]:
    """Add credit under a UTRN that was never used on this meter."""
    _prepayment(call)
    amount, utrn = call.params["amount"], call.params["utrn"]
    if not 1 <= amount <= MAX_TOP_UP:
        raise bad_request("amount", f"must be 1 to {MAX_TOP_UP} pence")
    if len(utrn) != UTRN_DIGITS or not utrn.isdigit() or not utrn.isascii():
        raise bad_request("utrn", f"must be {UTRN_DIGITS} digits")
    state = call.meter()
    if state.utrns is not None and utrn in state.utrns:
        raise rejected("this UTRN was already used on the meter")
    state.utrns = (state.utrns or set()) | {utrn}
    repaid = min(amount, state.emergency_in_use)
    state.emergency_in_use -= repaid
    state.credit += amount - repaid
    return {"balance": _balance(call, state)}


def read_balance(call: Call) -> dict[str, Any]:
    """Meter balance, debt and emergency credit."""
    _prepayment(call)
    state = call.meter_view()
    return {
        "balance": _balance(call, state),
        "debt": state.debt,
        "emergencyCreditAvailable": 0
        if state.emergency_in_use
        else _threshold(call, "emergencyCreditLimit"),
        "emergencyCreditInUse": state.emergency_in_use,
    }


def adjust_debt(call: Call) -> dict[str, Any]:
    """Add or clear debt."""
    _prepayment(call)
    state = call.meter()
    debt = state.debt + call.params["amount"]
    if debt < 0:
        raise rejected(f"the debt is {state.debt}p; it cannot go below zero")
    state.debt = debt
    return {"debt": debt}


def activate_emergency_credit(call: Call) -> dict[str, Any]:
    """Grant emergency credit to a meter running low."""
    _prepayment(call)
    state = call.meter()
    if state.emergency_in_use:
        raise rejected("emergency credit is already in use")
    threshold = _threshold(call, "emergencyCreditThreshold")
    if _balance(call, state) >= threshold:
        raise rejected(f"emergency credit is available below {threshold}p only")
    limit = _threshold(call, "emergencyCreditLimit")
    state.credit += limit
    state.emergency_in_use = limit
    return {"balance": _balance(call, state), "emergencyCreditInUse": limit}
