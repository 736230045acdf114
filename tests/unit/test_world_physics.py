"""Plausible meters: registers, profiles, daily logs and time-of-use registers agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s1adopt.emulators.world.clock import DAY, HALF_HOUR, WEEK, parse_time, time_text
from s1adopt.emulators.world.meter import (
    Tariff,
    change_tariff,
    fresh_state,
    tou_registers,
)
from s1adopt.emulators.world.physics import (
    EPOCH,
    band_energy_to,
    device_seed,
    energy_to,
    interval_at,
    interval_value,
    meter_profile,
)

NOW = int(datetime(2026, 11, 28, 9, 30, tzinfo=UTC).timestamp())
SEEDS = [device_seed(7, f"000D6F0100000{n:03d}") for n in range(12)]


@pytest.mark.parametrize("seed", SEEDS[:6])
@pytest.mark.parametrize("gas", [False, True])
def test_profile_intervals_sum_exactly_to_the_register_delta(seed: int, gas: bool) -> None:
    profile = meter_profile(seed, gas)
    start = NOW - 31 * DAY - 7 * HALF_HOUR  # not on a day or week boundary
    first, last = interval_at(start), interval_at(NOW)
    intervals = [interval_value(profile, i) for i in range(first, last)]

    delta = energy_to(profile, EPOCH + last * HALF_HOUR) - energy_to(
        profile, EPOCH + first * HALF_HOUR
    )

    assert sum(intervals) == delta
    assert all(v > 0 for v in intervals)


def test_the_register_is_closed_form_even_years_after_the_epoch() -> None:
    profile = meter_profile(SEEDS[0], False)
    far = EPOCH + 52 * 6 * WEEK + 3 * DAY + 5 * HALF_HOUR

    walked = sum(interval_value(profile, i) for i in range(interval_at(far)))

    assert energy_to(profile, far) == walked


def test_the_register_advances_within_an_interval_and_never_goes_back() -> None:
    profile = meter_profile(SEEDS[1], False)
    start = EPOCH + 1000 * HALF_HOUR
    readings = [energy_to(profile, start + s) for s in range(0, HALF_HOUR + 1, 60)]

    assert readings == sorted(readings)
    assert readings[-1] - readings[0] == interval_value(profile, 1000)
    assert readings[0] < readings[len(readings) // 2] < readings[-1]


def test_reads_are_repeatable_the_same_time_gives_the_same_values() -> None:
    meter_profile.cache_clear()
    first = energy_to(meter_profile(SEEDS[2], True), NOW)
    meter_profile.cache_clear()

    assert energy_to(meter_profile(SEEDS[2], True), NOW) == first
    assert meter_profile(SEEDS[2], True) == meter_profile(SEEDS[2], True)
    assert meter_profile(SEEDS[3], True) != meter_profile(SEEDS[2], True)


def test_consumption_is_plausible_for_a_home() -> None:
    for seed in SEEDS:
        electricity = meter_profile(seed, False).total * 52 / 1000  # kWh a year
        gas = meter_profile(seed, True).total * 52 / 1000  # m3 a year
        assert 1_000 < electricity < 12_000
        assert 200 < gas < 3_000


def test_the_weekend_uses_more_than_the_working_week_on_average() -> None:
    profile = meter_profile(SEEDS[4], False)
    days = [sum(profile.week[d * 48 : (d + 1) * 48]) for d in range(7)]

    assert sum(days[5:]) / 2 > sum(days[:5]) / 5 * 0.95


@pytest.mark.parametrize(
    "bands",
    [
        (0,) * 48,
        tuple(1 if 14 <= h < 44 else 0 for h in range(48)),
        tuple(h % 4 for h in range(48)),
    ],
)
def test_the_time_of_use_split_adds_up_to_the_total(bands: tuple[int, ...]) -> None:
    profile = meter_profile(SEEDS[5], False)
    count = max(bands) + 1
    for t in (EPOCH, EPOCH + 17, NOW, NOW + 1234):
        assert sum(band_energy_to(profile, bands, count, t)) == energy_to(profile, t)


def test_the_time_of_use_registers_follow_the_bands_of_each_half_hour() -> None:
    profile = meter_profile(SEEDS[6], False)
    peak = tuple(1 if 32 <= h < 38 else 0 for h in range(48))
    day_start = NOW - NOW % DAY
    parts = [
        b - a
        for a, b in zip(
            band_energy_to(profile, peak, 2, day_start),
            band_energy_to(profile, peak, 2, day_start + DAY),
            strict=True,
        )
    ]
    first = interval_at(day_start)

    assert parts[1] == sum(interval_value(profile, first + h) for h in range(32, 38))
    assert parts[0] + parts[1] == sum(interval_value(profile, first + h) for h in range(48))


def test_after_a_tariff_change_the_registers_continue_from_a_snapshot() -> None:
    profile = meter_profile(SEEDS[7], False)
    base = 12_345_678
    state = fresh_state(base, 4, gas=False)
    before = tou_registers(state, profile, NOW)
    assert before[0] == base + energy_to(profile, NOW)
    assert before[1:] == [0, 0, 0]

    night = tuple(1 if h < 14 else 0 for h in range(48))
    change_tariff(state, profile, False, NOW, Tariff(night, (2_800, 1_100), 60))
    later = NOW + 3 * DAY + 11 * HALF_HOUR
    after = tou_registers(state, profile, later)

    assert tou_registers(state, profile, NOW) == before
    assert sum(after) == base + energy_to(profile, later)
    assert after[1] > 0
    assert after[0] > before[0]
    assert after[2:] == [0, 0]


def test_times_on_the_wire_are_utc_and_round_trip() -> None:
    assert time_text(NOW) == "2026-11-28T09:30:00Z"
    assert parse_time("2026-11-28T09:30:00Z") == NOW
    assert parse_time("2026-11-28T09:30:00+00:00") == NOW
    for bad in ("2026-11-28T09:30:00", "2026-11-28T09:30:00+01:00"):
        with pytest.raises(ValueError, match="not a UTC time"):
            parse_time(bad)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_time("yesterday")
