"""The Migration Scaling Methodology: ``allocate`` for one cohort and one day."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s1adopt.domain.capacity import DMIN, allocate
from s1adopt.domain.identities import Eui64


def test_capacity_below_n_times_dmin_is_shared_equally() -> None:
    assert allocate(250, {"a": 1000, "b": 1000}) == {"a": 125, "b": 125}


def test_an_equal_share_is_capped_by_demand_and_the_leftover_is_shared_again() -> None:
    # 3 x 100 > 240: equal shares of 80; "a" wants 20, its 60 go to "b" and "c" equally.
    assert allocate(240, {"a": 20, "b": 1000, "c": 1000}) == {"a": 20, "b": 110, "c": 110}


def test_leftovers_are_reshared_until_the_capacity_runs_out() -> None:
    # equal shares of 50; "a" caps at 10, then "b" caps at 60, the rest goes to "c".
    assert allocate(150, {"a": 10, "b": 60, "c": 1000}) == {"a": 10, "b": 60, "c": 80}


def test_a_party_with_zero_demand_gets_nothing_and_does_not_count_in_n() -> None:
    # with "z" counted, 3 x 100 > 200 would share equally; without it, floors of 100 each apply
    # and the rest goes by outstanding demand.
    result = allocate(250, {"a": 100, "b": 400, "z": 0})
    assert result == {"a": 100, "b": 150, "z": 0}


def test_every_party_appears_in_the_result_even_without_demand() -> None:
    assert allocate(500, {"a": 0, "b": 0}) == {"a": 0, "b": 0}
    assert allocate(0, {"a": 10}) == {"a": 0}
    assert allocate(10, {}) == {}


def test_one_party_gets_the_capacity_up_to_its_demand() -> None:
    assert allocate(5000, {"a": 300}) == {"a": 300}
    assert allocate(40, {"a": 300}) == {"a": 40}
    assert allocate(5000, {"a": 9000}) == {"a": 5000}


def test_above_n_times_dmin_floors_come_first_and_the_rest_follows_outstanding_demand() -> None:
    # floors 100 + 100; outstanding 900 and 100 share 200 as 9:1.
    assert allocate(400, {"a": 1000, "b": 200}) == {"a": 280, "b": 120}


def test_demand_below_dmin_is_the_floor_and_is_met_in_full() -> None:
    result = allocate(1000, {"small": 30, "big": 5000})
    assert result == {"small": 30, "big": 970}


def test_capacity_above_total_demand_gives_everyone_their_demand() -> None:
    demand = {"a": 1234, "b": 56, "c": 7, "d": 0}
    assert allocate(10_000, demand) == demand


def test_ties_go_to_the_larger_outstanding_demand() -> None:
    # equal shares of 1.5 each: the remainder goes to the larger demand.
    assert allocate(3, {"a": 50, "b": 60}) == {"a": 1, "b": 2}


def test_equal_ties_go_to_the_party_that_sorts_first_in_its_own_order() -> None:
    assert allocate(1, {"b": 50, "a": 50}) == {"b": 0, "a": 1}
    assert allocate(1, {10: 50, 2: 50}) == {10: 0, 2: 1}  # 2 before 10, not by text
    first, second = Eui64.parse("00-00-00-00-00-00-00-02"), Eui64.parse("00-00-00-00-00-00-00-01")
    assert allocate(1, {first: 5, second: 5}) == {first: 0, second: 1}


def test_ties_between_parties_that_do_not_compare_follow_their_text() -> None:
    assert allocate(1, {"10": 50, 2: 50}) == {"10": 1, 2: 0}


def test_the_result_is_the_same_whatever_the_order_of_the_parties() -> None:
    forward = {p: 7 for p in range(12)}
    backward = dict(reversed(list(forward.items())))
    assert allocate(50, forward) == allocate(50, backward)


def test_dmin_zero_shares_everything_by_demand() -> None:
    assert allocate(100, {"a": 300, "b": 100}, dmin=0) == {"a": 75, "b": 25}


@pytest.mark.parametrize(
    ("capacity", "demand", "dmin"),
    [(-1, {"a": 1}, DMIN), (10, {"a": -1}, DMIN), (10, {"a": 1}, -5)],
)
def test_negative_inputs_are_refused(capacity: int, demand: dict[str, int], dmin: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        allocate(capacity, demand, dmin)


# Properties -------------------------------------------------------------------------------

demands = st.dictionaries(
    st.integers(min_value=0, max_value=40),
    st.one_of(st.just(0), st.integers(1, 150), st.integers(1, 20_000)),
    max_size=25,
)
capacities = st.integers(min_value=0, max_value=60_000)
dmins = st.sampled_from([0, 1, 7, 100, 250])


@given(capacities, demands, dmins)
def test_the_allocation_never_exceeds_the_capacity_or_anyones_demand(
    capacity: int, demand: dict[int, int], dmin: int
) -> None:
    result = allocate(capacity, demand, dmin)
    assert result.keys() == demand.keys()
    assert sum(result.values()) <= capacity
    assert all(0 <= result[p] <= demand[p] for p in demand)


@given(capacities, demands, dmins)
def test_the_capacity_is_used_up_while_demand_remains(
    capacity: int, demand: dict[int, int], dmin: int
) -> None:
    assert sum(allocate(capacity, demand, dmin).values()) == min(capacity, sum(demand.values()))


@given(capacities, demands, dmins)
def test_every_party_with_demand_gets_its_floor_when_capacity_covers_n_dmin(
    capacity: int, demand: dict[int, int], dmin: int
) -> None:
    wanting = [p for p, d in demand.items() if d > 0]
    result = allocate(capacity, demand, dmin)
    if capacity >= len(wanting) * dmin:
        assert all(result[p] >= min(dmin, demand[p]) for p in wanting)
    assert all(result[p] == 0 for p, d in demand.items() if d == 0)


@given(capacities, demands, dmins)
def test_every_share_is_within_one_installation_of_the_exact_share(
    capacity: int, demand: dict[int, int], dmin: int
) -> None:
    result = allocate(capacity, demand, dmin)
    exact = _exact_shares(capacity, demand, dmin)
    assert all(abs(result[p] - exact[p]) < 1 for p in demand)


@given(capacities, demands, dmins, st.randoms(use_true_random=False))
def test_the_allocation_does_not_depend_on_the_order_of_the_parties(
    capacity: int, demand: dict[int, int], dmin: int, rng: random.Random
) -> None:
    items = list(demand.items())
    rng.shuffle(items)
    assert allocate(capacity, dict(items), dmin) == allocate(capacity, demand, dmin)


def _exact_shares(capacity: int, demand: dict[int, int], dmin: int) -> dict[int, Fraction]:
    """The docstring's rules in exact arithmetic (water-filling without rounding)."""
    wanting = {p: d for p, d in demand.items() if d > 0}
    shares = {p: Fraction(0) for p in demand}
    if not wanting:
        return shares
    if capacity >= len(wanting) * dmin:
        for p, d in wanting.items():
            shares[p] = Fraction(min(dmin, d))
        weights = {p: wanting[p] - shares[p] for p in wanting}
    else:
        weights = {p: Fraction(1) for p in wanting}
    left = Fraction(capacity) - sum(shares.values())
    caps = {p: wanting[p] - shares[p] for p in wanting}
    open_ = {p for p in wanting if weights[p] > 0 and caps[p] > 0}
    while left > 0 and open_:
        level = Fraction(left) / sum(weights[p] for p in open_)
        capped = {p for p in open_ if level * weights[p] >= caps[p]}
        if not capped:
            for p in open_:
                shares[p] += level * weights[p]
            break
        for p in capped:
            shares[p] += caps[p]
            left -= caps[p]
        open_ -= capped
    return shares
