"""Capacity allocation: the Migration Scaling Methodology (MSM) for one cohort and one day.

Rules (DMIN is public; the rest is the project's formula, as the MSM's detail is not):
1. Only parties with demand above zero take part; n is their number.
2. When capacity >= n x DMIN, every party first gets its floor min(DMIN, demand); the rest of
   the capacity is shared in proportion to each party's outstanding demand (demand - floor).
3. When capacity < n x DMIN, the capacity is shared equally.
4. No party gets more than its demand; what a cap leaves over is shared again among the others
   by the same rule, until the capacity or the demand runs out.
5. Shares are whole installations, rounded by largest remainder; ties go to the larger
   outstanding demand, then to the party that sorts first (in the parties' own order, e.g.
   party 2 before party 10; by their text only when they do not compare), so the result is
   deterministic.
Unused allocation (allocated but not scheduled) is released back: it is not carried over.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from fractions import Fraction
from typing import Any, TypeVar, cast

DMIN = 100  # the MSM's flat daily allocation per party

K = TypeVar("K", bound=Hashable)


def allocate(capacity: int, demand: Mapping[K, int], dmin: int = DMIN) -> dict[K, int]:
    """Each party's allocation of ``capacity`` installations for one cohort and day."""
    if capacity < 0:
        raise ValueError(f"capacity must not be negative, got {capacity}")
    if dmin < 0:
        raise ValueError(f"DMIN must not be negative, got {dmin}")
    if any(d < 0 for d in demand.values()):
        raise ValueError("demand must not be negative")
    wanting = {party: d for party, d in demand.items() if d > 0}
    result: dict[K, int] = {party: 0 for party in demand}
    if not wanting or capacity == 0:
        return result
    if capacity >= len(wanting) * dmin:
        for party, d in wanting.items():
            result[party] = min(dmin, d)
        left = capacity - sum(result.values())
        weights = {p: wanting[p] - result[p] for p in wanting}
    else:
        left = capacity
        weights = {p: 1 for p in wanting}
    caps = {p: wanting[p] - result[p] for p in wanting}
    for party, share in _fill(left, weights, caps, _ranks(wanting)).items():
        result[party] += share
    return result


def _fill(
    amount: int, weights: Mapping[K, int], caps: Mapping[K, int], rank: Mapping[K, int]
) -> dict[K, int]:
    """Share ``amount`` in proportion to ``weights``, no party above its cap (water-filling);
    ``rank`` is each party's place in the final tie-break."""
    given: dict[K, int] = {p: 0 for p in weights}
    open_ = {p for p in weights if caps[p] > 0 and weights[p] > 0}
    while amount > 0 and open_:
        total = sum(weights[p] for p in open_)
        exact = {p: Fraction(amount * weights[p], total) for p in open_}
        whole = {p: min(int(exact[p]), caps[p] - given[p]) for p in open_}
        rest = amount - sum(whole.values())
        order = sorted(
            open_,
            key=lambda p: (-(exact[p] - int(exact[p])), -(caps[p] - given[p]), rank[p]),
        )
        for party in order:
            if rest == 0:
                break
            if whole[party] < caps[party] - given[party]:
                whole[party] += 1
                rest -= 1
        for party, share in whole.items():
            given[party] += share
        amount = rest
        open_ = {p for p in open_ if given[p] < caps[p]}
    return given


def _ranks(parties: Iterable[K]) -> dict[K, int]:
    """Each party's place in the parties' own order (text order, then the caller's order, when
    they do not compare). Sorting by text alone put party 10 before party 2."""
    listed = list(parties)
    try:
        ordered = sorted(cast(list[Any], listed))
    except TypeError:
        ordered = sorted(listed, key=str)  # stable: equal texts keep the caller's order
    return {party: place for place, party in enumerate(ordered)}
