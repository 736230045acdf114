"""A meter's changeable state: tariff, time-of-use registers, supply and prepayment.

Rules:
- A meter that was never changed has no state object: its state is ``fresh_state``, which
  follows from its seed and base register alone, so idle meters cost no memory.
- A tariff or price change first snapshots, at the change's time, the time-of-use registers
  and the cost accrued so far, then continues from the snapshot under the new tariff; the
  registers therefore always add up to the total register.
- Cost is counted in units of 1e-5 penny: an interval of ``wh`` at a price of ``p``
  (hundredths of a penny per kWh) costs ``wh * p`` units; gas litres are priced as
  ``GAS_WH_PER_LITRE`` Wh each. The standing charge (pence per day) accrues by the second.
- Prepayment: the consumer tops up every Monday at 00:00 UTC by exactly one week's cost at
  the meter's default tariff (the consumer's habit, not a command), so at the default tariff
  the balance stays between the seed's initial credit and that plus one week's cost. Top-ups
  through ``top_up`` and emergency credit add to it; consumption at a dearer tariff draws it
  down. A UTRN is accepted once.
"""

from __future__ import annotations

from dataclasses import dataclass

from s1adopt.emulators.world.clock import DAY, WEEK
from s1adopt.emulators.world.physics import (
    EPOCH,
    GAS_WH_PER_LITRE,
    MeterProfile,
    band_energy_to,
)

PENNY = 100_000  # cost units per penny
# The defaults of the meter's "prepayment" setting (domain.device_settings), pence:
EMERGENCY_CREDIT = 1_000  # emergencyCreditLimit
LOW_CREDIT_THRESHOLD = 500  # lowCreditThreshold and emergencyCreditThreshold
MAX_TOP_UP = 100_000  # pence
TARIFF_BANDS = 48


@dataclass(frozen=True, slots=True)
class Tariff:
    """A time-of-use tariff: a band per half-hour of the day and a price per band."""

    bands: tuple[int, ...]  # 48 band numbers, each below len(prices)
    prices: tuple[int, ...]  # hundredths of a penny per kWh
    standing_charge: int  # pence per day


ELECTRICITY_TARIFF = Tariff((0,) * TARIFF_BANDS, (2_450,), 60)
GAS_TARIFF = Tariff((0,) * TARIFF_BANDS, (700,), 30)


@dataclass(slots=True, eq=False)
class MeterState:
    """What commands changed on a meter (created on its first change)."""

    tariff: Tariff
    since: int  # device time of the last tariff or price change (EPOCH at first)
    tou_since: tuple[int, ...]  # time-of-use registers at ``since``
    cost_since: int  # cost units accrued from EPOCH to ``since``
    supply: str = "enabled"
    credit: int = 0  # pence added by top-ups and emergency credit, less what was repaid
    emergency_in_use: int = 0  # pence of emergency credit not yet repaid
    debt: int = 0  # pence
    utrns: set[str] | None = None
    low_credit_alerted: bool = False


def default_tariff(gas: bool) -> Tariff:
    """The tariff a meter starts with."""
    return GAS_TARIFF if gas else ELECTRICITY_TARIFF


def fresh_state(base: int, tou_registers: int, gas: bool) -> MeterState:
    """The state of a meter nothing has changed: default tariff, all on the first register."""
    registers = (base,) + (0,) * max(0, tou_registers - 1)
    return MeterState(default_tariff(gas), EPOCH, registers, 0)


def tou_registers(state: MeterState, profile: MeterProfile, t: int) -> list[int]:
    """The time-of-use registers at ``t`` (``t`` at or after the last change)."""
    tariff, count = state.tariff, len(state.tariff.prices)
    now = band_energy_to(profile, tariff.bands, count, max(t, state.since))
    then = band_energy_to(profile, tariff.bands, count, state.since)
    registers = list(state.tou_since)
    for band in range(min(count, len(registers))):
        registers[band] += now[band] - then[band]
    return registers


def cost_to(state: MeterState, profile: MeterProfile, gas: bool, t: int) -> int:
    """Cost units accrued from EPOCH to ``t``."""
    t = max(t, state.since)
    tariff, count = state.tariff, len(state.tariff.prices)
    now = band_energy_to(profile, tariff.bands, count, t)
    then = band_energy_to(profile, tariff.bands, count, state.since)
    factor = GAS_WH_PER_LITRE if gas else 1
    energy_cost = sum(
        (n - b) * price * factor for n, b, price in zip(now, then, tariff.prices, strict=True)
    )
    standing = tariff.standing_charge * PENNY * (t - state.since) // DAY
    return state.cost_since + energy_cost + standing


def change_tariff(
    state: MeterState, profile: MeterProfile, gas: bool, t: int, tariff: Tariff
) -> None:
    """Snapshot the registers and cost at ``t``, then continue under ``tariff``."""
    t = max(t, state.since)
    state.tou_since = tuple(tou_registers(state, profile, t))
    state.cost_since = cost_to(state, profile, gas, t)
    state.tariff, state.since = tariff, t


def weekly_cost(profile: MeterProfile, gas: bool) -> int:
    """One week's cost units at the meter's default tariff (the consumer's weekly top-up)."""
    tariff = default_tariff(gas)
    factor = GAS_WH_PER_LITRE if gas else 1
    return profile.total * tariff.prices[0] * factor + tariff.standing_charge * PENNY * 7


def initial_credit(seed: int) -> int:
    """Pence of credit a prepayment meter holds right after its Monday top-up."""
    return 100 + (seed >> 40) % 2_401


def balance(state: MeterState, profile: MeterProfile, gas: bool, seed: int, t: int) -> int:
    """The meter balance at ``t``, pence: credit less the cost of consumption."""
    t = max(t, EPOCH)
    habit = ((t - EPOCH) // WEEK + 1) * weekly_cost(profile, gas)
    units = (initial_credit(seed) + state.credit) * PENNY + habit - cost_to(state, profile, gas, t)
    return units // PENNY
