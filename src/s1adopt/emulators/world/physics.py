"""Plausible meters: consumption that follows from a seed, read in closed form.

Rules:
- Time is cut into half-hour intervals counted from ``EPOCH`` (a Monday, 00:00 UTC); a meter
  records nothing before it. Interval ``i`` consumes ``week[i mod 336]`` (Wh for electricity,
  litres for gas), where ``week[d * 48 + h] = shape[h] * scale * weekday[d] // 10_000``: a
  daily shape, a device scale (percent) and a weekday factor (percent), all derived from the
  device's seed. Every interval is a whole number, so sums are exact.
- Within an interval the register advances linearly, rounded down, so a register read at
  any second is ``base + E(t)`` with ``E(t) = sum of whole intervals before t + the started
  part of the current one``; at an interval boundary it is exactly the sum of the intervals.
- ``E(t)`` is computed in closed form from the week's prefix sums (whole weeks times the
  week's total), never by walking the history, so a read costs the same in any year.
- Time-of-use energy splits the same intervals by the tariff's band of each half-hour of the
  day; the bands' energies always add up to ``E(t)``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from s1adopt.emulators.world.clock import DAY, HALF_HOUR

EPOCH = 1_578_268_800  # 2020-01-06T00:00:00Z, a Monday
INTERVALS_PER_DAY = 48
INTERVALS_PER_WEEK = 7 * INTERVALS_PER_DAY
GAS_WH_PER_LITRE = 11  # calorific value used to price gas volume (about 11 kWh per m3)


def _shape(
    base: int, morning_at: int, morning: int, evening_at: int, evening: int, day: int
) -> tuple[int, ...]:
    """A daily shape (48 half-hours): a base load, a day-time plateau and two peaks."""
    values = []
    for h in range(INTERVALS_PER_DAY):
        peak_m = max(0, 4 - abs(h - morning_at)) * morning // 4
        peak_e = max(0, 6 - abs(h - evening_at)) * evening // 6
        values.append(base + peak_m + peak_e + (day if 16 <= h <= 34 else 0))
    return tuple(values)


ELECTRICITY_SHAPES: tuple[tuple[int, ...], ...] = (
    _shape(70, 14, 160, 36, 320, 40),
    _shape(90, 15, 120, 37, 260, 90),
    _shape(55, 13, 200, 35, 380, 20),
    _shape(110, 16, 90, 38, 220, 120),
    _shape(80, 14, 140, 40, 300, 60),
    _shape(60, 12, 180, 34, 280, 30),
)
GAS_SHAPES: tuple[tuple[int, ...], ...] = (
    _shape(8, 12, 140, 34, 160, 10),
    _shape(12, 13, 110, 36, 190, 25),
    _shape(5, 11, 170, 33, 130, 5),
    _shape(15, 14, 90, 35, 150, 40),
)


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """The consumption of one meter over a week of half-hours, with prefix sums."""

    week: tuple[int, ...]  # 336 intervals, Monday 00:00 first
    prefix: tuple[int, ...]  # prefix[k] = sum(week[:k]), 337 entries
    total: int  # one week's consumption


def device_seed(world_seed: int, device_hex: str) -> int:
    """The seed of one device's meter: from the fleet's seed and the device's ID."""
    digest = hashlib.blake2b(f"{world_seed}|{device_hex}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@lru_cache(maxsize=4096)
def meter_profile(seed: int, gas: bool) -> MeterProfile:
    """The week of a meter with this seed (cached: reads of busy meters are frequent)."""
    shapes = GAS_SHAPES if gas else ELECTRICITY_SHAPES
    shape = shapes[seed % len(shapes)]
    scale = 60 + (seed >> 8) % 141  # 60% to 200%
    weekday = [85 + (seed >> (16 + 5 * d)) % 31 for d in range(7)]  # 85% to 115%
    weekday[5] += 10  # people are at home at the weekend
    weekday[6] += 10
    week = tuple(
        shape[h] * scale * weekday[d] // 10_000 for d in range(7) for h in range(INTERVALS_PER_DAY)
    )
    prefix = [0]
    for value in week:
        prefix.append(prefix[-1] + value)
    return MeterProfile(week, tuple(prefix), prefix[-1])


def interval_at(t: int) -> int:
    """The index of the interval holding second ``t`` (0 is the one starting at EPOCH)."""
    return (max(t, EPOCH) - EPOCH) // HALF_HOUR


def interval_start(index: int) -> int:
    """The second at which interval ``index`` starts."""
    return EPOCH + index * HALF_HOUR


def interval_value(profile: MeterProfile, index: int) -> int:
    """What interval ``index`` consumes."""
    return profile.week[index % INTERVALS_PER_WEEK]


def energy_to(profile: MeterProfile, t: int) -> int:
    """``E(t)``: consumption from EPOCH to second ``t`` (0 before EPOCH)."""
    index, into = divmod(max(t, EPOCH) - EPOCH, HALF_HOUR)
    weeks, position = divmod(index, INTERVALS_PER_WEEK)
    started = profile.week[position] * into // HALF_HOUR
    return weeks * profile.total + profile.prefix[position] + started


def band_energy_to(profile: MeterProfile, bands: tuple[int, ...], count: int, t: int) -> list[int]:
    """Consumption from EPOCH to ``t`` split by band: ``bands[h]`` is the band of half-hour
    ``h`` of the day, ``count`` the number of bands. The parts add up to ``energy_to``."""
    index, into = divmod(max(t, EPOCH) - EPOCH, HALF_HOUR)
    weeks, position = divmod(index, INTERVALS_PER_WEEK)
    whole = [0] * count
    before = [0] * count
    for k, value in enumerate(profile.week):
        band = bands[k % INTERVALS_PER_DAY]
        whole[band] += value
        if k < position:
            before[band] += value
    before[bands[position % INTERVALS_PER_DAY]] += profile.week[position] * into // HALF_HOUR
    return [weeks * w + b for w, b in zip(whole, before, strict=True)]


def demand(profile: MeterProfile, t: int) -> int:
    """Instantaneous demand at ``t``: the current interval's rate (W, or litres per hour)."""
    return interval_value(profile, interval_at(t)) * (3600 // HALF_HOUR)


def midnight_at_or_after(t: int) -> int:
    """The first midnight (UTC) at or after second ``t``."""
    return -(-t // DAY) * DAY
