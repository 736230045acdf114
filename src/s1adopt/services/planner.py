"""Plan a migration programme: simulate it day by day with the rules the real run uses.

Rules:
- the fleet is split among the parties (by ``party_shares``, else equally) and each party's
  installations among the cohorts (by the cohorts' shares), whole installations by largest
  remainder; every installation is authorised on the start date;
- every migration day (Monday to Friday, or every day) each party asks each cohort for its
  demand: ``daily_demand`` when given (never more than the party has left in the cohort), else
  its remaining installations spread over ``demand_horizon_days`` but at least DMIN (never
  more than it has ready);
- each cohort's capacity is shared by ``domain.capacity.allocate``, the MSM of the real run; a
  party attempts what it was allocated and has ready (retries first, most-attempted first,
  then first attempts) and releases the rest;
- each attempt is commissioned or fails with a class at the per-attempt rates; every group of
  failed attempts (party, cohort, attempt number, class) is decided by
  ``RetryRules.after_failure``, as the real run decides each installation: a retry waits until
  its ``retry_on`` (run on the first migration day on or after it), an exclusion is final, and
  a data failure waits for corrected data: ``data_corrected_share`` of them come back
  ``data_correction_days`` later with their attempts kept; the rest are stranded;
- counts are split without chance: the attempts of each attempt number (and the data failures)
  form a stream over the whole programme, and each outcome's running count is its exact share
  of the stream's running total rounded half up, so each stream's totals stay within one
  installation of its rates (streams per party would each round rare outcomes, such as a
  fifth failure, away);
- the programme is complete at the end of the first day on which nothing is left to attempt,
  awaiting a retry or awaiting corrected data; stranded installations are reported, not waited
  for. ``max_days`` migration days end an unfinished simulation.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from s1adopt.domain.capacity import DMIN, allocate
from s1adopt.domain.failures import FailureClass, FailureReason
from s1adopt.domain.retry import AfterFailure, RetryRules
from s1adopt.services.ports import Progress

_PPM = 1_000_000  # rates are held as whole parts per million: integer arithmetic throughout

# The reason the planner records for a failure of each class (the rules look only at the class,
# and at TOO_MANY_ATTEMPTS, which they choose themselves).
PLANNED_REASONS: dict[FailureClass, FailureReason] = {
    FailureClass.TRANSIENT: FailureReason.HEAD_END_UNAVAILABLE,
    FailureClass.DATA: FailureReason.DEVICE_MISMATCH,
    FailureClass.FINAL: FailureReason.DEVICE_NO_RESPONSE,
}
_CLASSES = (FailureClass.TRANSIENT, FailureClass.DATA, FailureClass.FINAL)


@dataclass(frozen=True, slots=True)
class Cohort:
    """One cohort of the fleet: its share of the installations and its daily capacity."""

    name: str
    share: float  # of every party's installations
    daily_capacity: int  # installations per migration day, shared by the MSM


# GB-like defaults: the three SMETS1 cohorts' shares of the fleet; about 31,000 installations a
# migration day, so the 15 million of the GB fleet take about two years of working days.
GB_COHORTS = (
    Cohort("IOC", 0.26, 8_000),
    Cohort("MOC", 0.32, 10_000),
    Cohort("FOC", 0.42, 13_000),
)


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """What the planner simulates (see the module's rules). Rates are per attempt."""

    start: date  # the first migration day (or the next working day after it)
    installations: int = 15_000_000
    parties: int = 20
    party_shares: tuple[float, ...] | None = None  # each party's share of the fleet (any scale)
    cohorts: tuple[Cohort, ...] = GB_COHORTS
    dmin: int = DMIN
    daily_demand: tuple[tuple[int, ...], ...] | None = None  # [party][cohort], fixed each day
    demand_horizon_days: int = 20  # default demand: remaining installations over this many days
    transient_rate: float = 0.05  # retried automatically after the backoff
    data_rate: float = 0.02  # waits for corrected data
    final_rate: float = 0.01  # excluded at once (no WAN, missing master keys)
    data_corrected_share: float = 0.8  # of data failures, corrected by the SMSO
    data_correction_days: int = 10  # calendar days until corrected data arrives
    retry_rules: RetryRules = field(default_factory=RetryRules)
    working_days_only: bool = True  # migrate Monday to Friday only
    max_days: int = 3_650  # migration days simulated at most

    def __post_init__(self) -> None:
        problems = list(self._problems())
        if problems:
            raise ValueError("invalid plan settings: " + "; ".join(problems))

    def _problems(self) -> Sequence[str]:
        found: list[str] = []
        if self.installations < 0:
            found.append(f"installations must not be negative, got {self.installations}")
        if self.parties < 1:
            found.append(f"at least one party is needed, got {self.parties}")
        if self.party_shares is not None and (
            len(self.party_shares) != self.parties
            or any(s < 0 for s in self.party_shares)
            or sum(self.party_shares) <= 0
        ):
            found.append(f"party_shares must be {self.parties} shares, none negative, not all 0")
        if not self.cohorts or len({c.name for c in self.cohorts}) != len(self.cohorts):
            found.append("cohorts must be at least one, with distinct names")
        if any(c.share < 0 or c.daily_capacity < 0 for c in self.cohorts):
            found.append("cohort shares and capacities must not be negative")
        if self.cohorts and sum(c.share for c in self.cohorts) <= 0:
            found.append("the cohorts' shares must not all be 0")
        if self.dmin < 0:
            found.append(f"DMIN must not be negative, got {self.dmin}")
        if self.daily_demand is not None and (
            len(self.daily_demand) != self.parties
            or any(len(row) != len(self.cohorts) for row in self.daily_demand)
            or any(d < 0 for row in self.daily_demand for d in row)
        ):
            found.append("daily_demand must be one row per party, one figure per cohort, >= 0")
        if self.demand_horizon_days < 1:
            found.append(f"demand_horizon_days must be at least 1, got {self.demand_horizon_days}")
        rates = (self.transient_rate, self.data_rate, self.final_rate)
        if any(not 0 <= r <= 1 for r in rates) or sum(_ppm(r) for r in rates) > _PPM:
            found.append("failure rates must be between 0 and 1 and add up to at most 1")
        if not 0 <= self.data_corrected_share <= 1:
            found.append("data_corrected_share must be between 0 and 1")
        if self.data_correction_days < 1:
            found.append("data_correction_days must be at least 1")
        if self.max_days < 1:
            found.append(f"max_days must be at least 1, got {self.max_days}")
        return found


@dataclass(frozen=True, slots=True)
class CohortDay:
    """One cohort on one migration day: its capacity, each party's demand and allocation."""

    cohort: str
    capacity: int
    demand: tuple[int, ...]  # by party
    allocated: tuple[int, ...]  # by party, from ``allocate``


@dataclass(frozen=True, slots=True)
class PlanDay:
    """The programme's figures for one migration day.

    ``attempted = commissioned + failed + excluded``; ``released = allocated - attempted``;
    ``backlog`` (neither commissioned nor excluded, stranded included) falls by the day's
    commissioned and excluded; ``pending`` is what the programme still waits for (not yet
    attempted, awaiting a retry, or awaiting corrected data that will come).
    """

    day: date
    allocated: int
    attempted: int
    retried: int  # attempts of the day that were retries
    commissioned: int
    failed: int  # failed attempts not excluded: awaiting a retry or corrected data
    excluded: int
    released: int
    backlog: int
    pending: int
    stranded: int  # so far: data failures whose data will never be corrected
    cumulative_commissioned: int
    cumulative_excluded: int
    cohorts: tuple[CohortDay, ...]


@dataclass(frozen=True, slots=True)
class PlanResult:
    """A simulated programme: its days and how it ended."""

    settings: PlanSettings
    days: tuple[PlanDay, ...]
    completion_date: date | None  # None when ``max_days`` ran out first
    commissioned: int
    excluded_final: int  # excluded for a FINAL failure
    excluded_after_max_attempts: int  # excluded by the attempt limit
    stranded: int  # data never corrected
    unfinished: int  # pending when ``max_days`` ran out
    party_installations: tuple[int, ...]
    party_completion: tuple[date | None, ...]  # the day each party finished (None: not yet)

    @property
    def completed(self) -> bool:
        """True when nothing was left pending."""
        return self.completion_date is not None

    @property
    def excluded(self) -> int:
        """Installations excluded, for any reason."""
        return self.excluded_final + self.excluded_after_max_attempts

    @property
    def peak_backlog(self) -> int:
        """The largest end-of-day backlog."""
        return max((d.backlog for d in self.days), default=self.settings.installations)


def simulate(settings: PlanSettings, progress: Progress | None = None) -> PlanResult:
    """Simulate ``settings``' programme to its completion or to ``max_days`` (see the module's
    rules); ``progress`` counts installations as they are commissioned, excluded or stranded."""
    return _Simulation(settings, progress).run()


def split_fleet(settings: PlanSettings) -> list[list[int]]:
    """Installations by party and cohort (``[party][cohort]``), by largest remainder."""
    shares = settings.party_shares or (1.0,) * settings.parties
    by_party = apportion(settings.installations, shares)
    weights = [c.share for c in settings.cohorts]
    return [apportion(count, weights) for count in by_party]


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` in whole parts proportional to ``weights`` (largest remainder; ties to the
    earlier weight)."""
    exact = [Fraction(w) for w in weights]
    whole_weight = sum(exact)
    if total == 0 or whole_weight == 0:
        return [0] * len(exact)
    quotas = [total * w / whole_weight for w in exact]
    parts = [int(q) for q in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _ppm(rate: float) -> int:
    return round(rate * _PPM)


class _Rounding:
    """Running totals per stream: each outcome's count so far is its exact share, rounded."""

    def __init__(self) -> None:
        self._seen: dict[tuple[object, ...], int] = {}
        self._given: dict[tuple[object, ...], list[int]] = {}

    def split(self, stream: tuple[object, ...], count: int, rates: Sequence[int]) -> list[int]:
        """``count`` more items of ``stream`` split by ``rates`` (ppm); the rest is returned
        as a last, extra part."""
        seen = self._seen.get(stream, 0) + count
        given = self._given.setdefault(stream, [0] * len(rates))
        parts, room = [], count
        for i, rate in enumerate(rates):
            target = (2 * seen * rate + _PPM) // (2 * _PPM)  # seen x rate, rounded half up
            take = min(max(target - given[i], 0), room)
            given[i] += take
            room -= take
            parts.append(take)
        self._seen[stream] = seen
        parts.append(room)
        return parts


@dataclass(slots=True)
class _Lane:
    """One party's installations in one cohort."""

    fresh: int  # never attempted
    ready: dict[int, int] = field(default_factory=dict)  # attempts made -> ready to try again
    waiting: int = 0  # awaiting a retry day or corrected data

    @property
    def ready_total(self) -> int:
        return self.fresh + sum(self.ready.values())

    @property
    def remaining(self) -> int:
        return self.ready_total + self.waiting

    def take(self, count: int) -> list[tuple[int, int]]:
        """Up to ``count`` installations to attempt: (attempts made before, how many)."""
        groups: list[tuple[int, int]] = []
        for made in sorted(self.ready, reverse=True):
            if count == 0:
                break
            n = min(count, self.ready[made])
            groups.append((made, n))
            count -= n
            self.ready[made] -= n
            if not self.ready[made]:
                del self.ready[made]
        n = min(count, self.fresh)
        if n:
            groups.append((0, n))
            self.fresh -= n
        return groups


@dataclass(slots=True)
class _Tally:
    """One day's counts."""

    allocated: int = 0
    attempted: int = 0
    retried: int = 0
    commissioned: int = 0
    failed: int = 0
    excluded: int = 0
    stranded: int = 0


class _Simulation:
    def __init__(self, settings: PlanSettings, progress: Progress | None) -> None:
        self.s = settings
        self.progress = progress
        self.fleet = split_fleet(settings)
        self.lanes = [[_Lane(n) for n in row] for row in self.fleet]
        self.rules = settings.retry_rules
        rates = (settings.transient_rate, settings.data_rate, settings.final_rate)
        self.rates = [_ppm(rate) for rate in rates]  # in the order of _CLASSES
        self.corrected_rate = [_ppm(settings.data_corrected_share)]
        self.rounding = _Rounding()
        # (due date, sequence) heap; the sequence keeps the order of equal dates stable
        self.due: list[tuple[date, int, int, int, int, int]] = []
        self.sequence = 0
        self.excluded_final = 0
        self.excluded_limit = 0
        self.totals = _Tally()  # commissioned, excluded and stranded so far
        self.backlog = settings.installations

    def run(self) -> PlanResult:
        s = self.s
        if self.progress is not None:
            self.progress.start("Simulating the programme", s.installations)
        days: list[PlanDay] = []
        party_done: list[date | None] = [None] * s.parties
        sizes = [sum(row) for row in self.fleet]
        day = self._migration_day(s.start)
        completion = day if not s.installations else None
        while self._pending() and len(days) < s.max_days:
            days.append(self._simulate(day))
            for party, row in enumerate(self.lanes):
                unfinished = any(lane.remaining for lane in row)
                if party_done[party] is None and sizes[party] > 0 and not unfinished:
                    party_done[party] = day
            if not days[-1].pending:
                completion = day
            day = self._migration_day(day + timedelta(days=1))
        return PlanResult(
            settings=s,
            days=tuple(days),
            completion_date=completion,
            commissioned=self.totals.commissioned,
            excluded_final=self.excluded_final,
            excluded_after_max_attempts=self.excluded_limit,
            stranded=self.totals.stranded,
            unfinished=self._pending(),
            party_installations=tuple(sizes),
            party_completion=tuple(party_done),
        )

    def _simulate(self, day: date) -> PlanDay:
        """One migration day: release what is due, allocate, attempt, decide the failures."""
        self._release(day)
        tally = _Tally()
        cohorts = tuple(self._cohort_day(c, day, tally) for c in range(len(self.s.cohorts)))
        totals = self.totals
        totals.commissioned += tally.commissioned
        totals.excluded += tally.excluded
        totals.stranded += tally.stranded
        self.backlog -= tally.commissioned + tally.excluded
        if self.progress is not None:
            self.progress.advance(tally.commissioned + tally.excluded + tally.stranded)
        return PlanDay(
            day=day,
            allocated=tally.allocated,
            attempted=tally.attempted,
            retried=tally.retried,
            commissioned=tally.commissioned,
            failed=tally.failed,
            excluded=tally.excluded,
            released=tally.allocated - tally.attempted,
            backlog=self.backlog,
            pending=self._pending(),
            stranded=totals.stranded,
            cumulative_commissioned=totals.commissioned,
            cumulative_excluded=totals.excluded,
            cohorts=cohorts,
        )

    def _pending(self) -> int:
        return sum(lane.remaining for row in self.lanes for lane in row)

    def _migration_day(self, day: date) -> date:
        while self.s.working_days_only and day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    def _release(self, day: date) -> None:
        """Retries and corrected data due by ``day`` become ready."""
        while self.due and self.due[0][0] <= day:
            _, _, party, cohort, made, count = heapq.heappop(self.due)
            lane = self.lanes[party][cohort]
            lane.waiting -= count
            lane.ready[made] = lane.ready.get(made, 0) + count

    def _wait(self, until: date, party: int, cohort: int, made: int, count: int) -> None:
        self.sequence += 1
        heapq.heappush(self.due, (until, self.sequence, party, cohort, made, count))
        self.lanes[party][cohort].waiting += count

    def _demand(self, party: int, cohort: int) -> int:
        lane = self.lanes[party][cohort]
        if self.s.daily_demand is not None:
            return min(self.s.daily_demand[party][cohort], lane.remaining)
        spread = -(-lane.remaining // self.s.demand_horizon_days)  # ceiling
        return min(lane.ready_total, max(self.s.dmin, spread))

    def _cohort_day(self, cohort: int, day: date, tally: _Tally) -> CohortDay:
        spec = self.s.cohorts[cohort]
        demand = {p: self._demand(p, cohort) for p in range(self.s.parties)}
        allocated = allocate(spec.daily_capacity, demand, self.s.dmin)
        for party, share in allocated.items():
            tally.allocated += share
            lane = self.lanes[party][cohort]
            for made, count in lane.take(share):
                tally.attempted += count
                tally.retried += count if made else 0
                self._attempt(day, party, cohort, made + 1, count, tally)
        return CohortDay(
            spec.name,
            spec.daily_capacity,
            tuple(demand[p] for p in range(self.s.parties)),
            tuple(allocated[p] for p in range(self.s.parties)),
        )

    def _attempt(
        self, day: date, party: int, cohort: int, attempt: int, count: int, tally: _Tally
    ) -> None:
        """``count`` installations make their ``attempt``-th attempt on ``day``."""
        *failures, succeeded = self.rounding.split((attempt,), count, self.rates)
        tally.commissioned += succeeded
        for kind, failed in zip(_CLASSES, failures, strict=True):
            if failed:
                self._fail(day, party, cohort, attempt, kind, failed, tally)

    def _fail(
        self,
        day: date,
        party: int,
        cohort: int,
        attempt: int,
        kind: FailureClass,
        count: int,
        tally: _Tally,
    ) -> None:
        """The real run's decision for ``count`` failures of class ``kind``."""
        decision = self.rules.after_failure(PLANNED_REASONS[kind], attempt, day)
        if decision.action is AfterFailure.EXCLUDE:
            tally.excluded += count
            if decision.reason is FailureReason.TOO_MANY_ATTEMPTS:
                self.excluded_limit += count
            else:
                self.excluded_final += count
            return
        tally.failed += count
        if decision.action is AfterFailure.RETRY:
            assert decision.retry_on is not None  # RETRY always names its day
            self._wait(decision.retry_on, party, cohort, attempt, count)
            return
        corrected, stranded = self.rounding.split(("data",), count, self.corrected_rate)
        tally.stranded += stranded
        if corrected:
            back = day + timedelta(days=self.s.data_correction_days)
            self._wait(back, party, cohort, attempt, corrected)
