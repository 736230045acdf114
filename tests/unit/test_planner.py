"""The programme planner: conservation, the MSM each day, the MEHRS retries, hand arithmetic."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from s1adopt.domain.capacity import allocate
from s1adopt.domain.retry import RetryRules
from s1adopt.entrypoints.plan_cli import plan
from s1adopt.services.planner import (
    Cohort,
    PlanResult,
    PlanSettings,
    apportion,
    simulate,
    split_fleet,
)

MONDAY = date(2026, 1, 5)
ONE_COHORT = (Cohort("IOC", 1.0, 100),)


def small(**changes: object) -> PlanSettings:
    """One party, one cohort of capacity 100, no failures, every day."""
    base = PlanSettings(
        start=MONDAY,
        installations=1_000,
        parties=1,
        cohorts=ONE_COHORT,
        transient_rate=0,
        data_rate=0,
        final_rate=0,
        working_days_only=False,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def busy() -> PlanSettings:
    """Several unequal parties, three cohorts, every failure class, working days."""
    return PlanSettings(
        start=MONDAY,
        installations=200_000,
        parties=6,
        party_shares=(40, 25, 15, 10, 9, 1),
        cohorts=(Cohort("IOC", 0.26, 400), Cohort("MOC", 0.32, 500), Cohort("FOC", 0.42, 650)),
        transient_rate=0.08,
        data_rate=0.04,
        final_rate=0.02,
        data_corrected_share=0.7,
        data_correction_days=6,
    )


@pytest.fixture(scope="module")
def busy_result() -> PlanResult:
    return simulate(busy())


def attempt_days(result: PlanResult) -> list[date]:
    return [d.day for d in result.days if d.attempted]


# Conservation -----------------------------------------------------------------------------


def test_every_installation_ends_commissioned_excluded_or_stranded(busy_result: PlanResult) -> None:
    r = busy_result
    assert r.completed
    assert r.commissioned + r.excluded + r.stranded == 200_000
    assert r.unfinished == 0
    assert r.excluded_final > 0
    assert r.stranded > 0
    last = r.days[-1]
    assert last.day == r.completion_date
    assert last.pending == 0
    assert last.backlog == r.stranded == last.stranded


def test_each_days_figures_add_up(busy_result: PlanResult) -> None:
    r = busy_result
    backlog, commissioned, excluded = 200_000, 0, 0
    for d in r.days:
        assert d.attempted == d.commissioned + d.failed + d.excluded
        assert d.released == d.allocated - d.attempted >= 0
        assert 0 <= d.retried <= d.attempted
        backlog -= d.commissioned + d.excluded
        commissioned += d.commissioned
        excluded += d.excluded
        assert (d.backlog, d.cumulative_commissioned, d.cumulative_excluded) == (
            backlog,
            commissioned,
            excluded,
        )
        assert d.pending + d.stranded == d.backlog
        assert d.allocated == sum(sum(c.allocated) for c in d.cohorts)
    assert (commissioned, excluded) == (r.commissioned, r.excluded)


def test_only_working_days_are_migration_days_by_default(busy_result: PlanResult) -> None:
    assert all(d.day.weekday() < 5 for d in busy_result.days)
    assert all(b.day > a.day for a, b in pairwise(busy_result.days))


def test_the_fleet_is_split_by_largest_remainder() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert apportion(100, [0.26, 0.32, 0.42]) == [26, 32, 42]
    assert apportion(0, [1, 2]) == [0, 0]
    fleet = split_fleet(busy())
    assert sum(map(sum, fleet)) == 200_000
    assert [sum(row) for row in fleet] == [80_000, 50_000, 30_000, 20_000, 18_000, 2_000]


# Allocation -------------------------------------------------------------------------------


def test_each_day_the_capacity_is_shared_by_the_msm_with_its_dmin_floor(
    busy_result: PlanResult,
) -> None:
    for d in busy_result.days:
        for c in d.cohorts:
            wanting = [p for p, want in enumerate(c.demand) if want]
            assert sum(c.allocated) <= c.capacity
            assert all(a <= want for a, want in zip(c.allocated, c.demand, strict=True))
            if c.capacity >= len(wanting) * 100:
                assert all(c.allocated[p] >= min(100, c.demand[p]) for p in wanting)
            assert list(c.allocated) == list(
                allocate(c.capacity, dict(enumerate(c.demand))).values()
            )


def test_capacity_short_of_dmin_for_every_party_is_shared_equally() -> None:
    result = simulate(small(parties=3, installations=3_000, cohorts=(Cohort("MOC", 1, 150),)))
    first = result.days[0].cohorts[0]
    assert first.demand == (100, 100, 100)
    assert first.allocated == (50, 50, 50)


def test_default_demand_spreads_what_remains_over_the_horizon_but_asks_at_least_dmin() -> None:
    result = simulate(small(installations=10_000, cohorts=(Cohort("IOC", 1, 100_000),)))
    demands = [d.cohorts[0].demand[0] for d in result.days]
    assert demands[:3] == [500, 475, 452]  # ceil(10,000 / 20), ceil(9,500 / 20), ...
    assert all(want >= 100 for want in demands[:-1])


def test_a_fixed_demand_beyond_what_is_ready_is_released() -> None:
    rules = RetryRules(max_attempts=2, backoff_days=(2,))
    result = simulate(
        small(installations=10, daily_demand=((10,),), transient_rate=1.0, retry_rules=rules)
    )
    waiting = result.days[1]
    assert (waiting.allocated, waiting.attempted, waiting.released) == (10, 0, 10)
    assert result.excluded_after_max_attempts == 10


# Retries ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules", [RetryRules(), RetryRules(max_attempts=4, backoff_days=(2, 3)), RetryRules(1, (1,))]
)
def test_retries_wait_as_the_retry_rules_say_and_the_last_attempt_excludes(
    rules: RetryRules,
) -> None:
    result = simulate(small(installations=1, transient_rate=1.0, retry_rules=rules))
    expected = [MONDAY]
    for failed in range(1, rules.max_attempts):
        expected.append(expected[-1] + timedelta(days=rules.backoff(failed)))
    assert attempt_days(result) == expected
    assert result.excluded_after_max_attempts == 1
    assert result.completion_date == expected[-1]


def test_a_retry_due_on_a_weekend_runs_on_the_next_working_day() -> None:
    friday = date(2026, 1, 9)
    result = simulate(
        small(
            start=friday,
            installations=1,
            transient_rate=1.0,
            working_days_only=True,
            retry_rules=RetryRules(max_attempts=2, backoff_days=(1,)),
        )
    )
    assert attempt_days(result) == [friday, date(2026, 1, 12)]


def test_a_final_failure_excludes_at_the_first_attempt() -> None:
    result = simulate(
        small(
            installations=500,
            final_rate=1.0,
            demand_horizon_days=1,
            cohorts=(Cohort("F", 1, 1000),),
        )
    )
    assert (result.excluded_final, result.commissioned, len(result.days)) == (500, 0, 1)


# Hand arithmetic --------------------------------------------------------------------------


def test_a_programme_without_failures_ends_when_capacity_has_covered_the_fleet() -> None:
    # 1,000 installations at 100 a working day: ten working days from Monday 5 January.
    result = simulate(small(working_days_only=True))
    assert result.completion_date == date(2026, 1, 16)
    assert len(result.days) == 10
    assert result.commissioned == 1_000
    assert result.peak_backlog == 900


def test_transient_failures_stretch_the_programme_by_the_backoff() -> None:
    # 1,000 at once, 10% failing: 100 retried a day later, 10 two days after that, 1 four
    # days after that (day 7), which succeeds (0.1 rounds to 0).
    result = simulate(
        small(transient_rate=0.1, demand_horizon_days=1, cohorts=(Cohort("IOC", 1, 10_000),))
    )
    assert [(d.day.day, d.attempted, d.failed) for d in result.days if d.attempted] == [
        (5, 1_000, 100),
        (6, 100, 10),
        (8, 10, 1),
        (12, 1, 0),
    ]
    assert result.completion_date == date(2026, 1, 12)
    assert result.commissioned == 1_000


def test_data_failures_come_back_corrected_or_stay_stranded() -> None:
    # day 0: 100 data failures, half corrected by day 10; there 5 fail again: with the 105 so
    # far, 52.5 rounds up to 53 corrected (3 more), 2 stranded; the 3 succeed on day 20.
    result = simulate(
        small(
            data_rate=0.1,
            data_corrected_share=0.5,
            data_correction_days=10,
            demand_horizon_days=1,
            cohorts=(Cohort("IOC", 1, 10_000),),
        )
    )
    assert [(d.day - MONDAY).days for d in result.days if d.attempted] == [0, 10, 20]
    assert (result.commissioned, result.stranded, result.excluded) == (948, 52, 0)
    assert result.completion_date == MONDAY + timedelta(days=20)


def test_the_day_limit_ends_an_unfinished_programme() -> None:
    result = simulate(small(max_days=3))
    assert not result.completed
    assert result.completion_date is None
    assert (len(result.days), result.unfinished) == (3, 700)


def test_smaller_parties_finish_first() -> None:
    result = simulate(
        small(parties=2, party_shares=(9, 1), installations=10_000, cohorts=(Cohort("I", 1, 400),))
    )
    big, little = result.party_completion
    assert big is not None
    assert little is not None
    assert little < big == result.completion_date


def test_the_simulation_is_deterministic() -> None:
    assert simulate(busy()) == simulate(busy())


def test_progress_counts_every_installation_that_is_settled() -> None:
    class Counter:
        def __init__(self) -> None:
            self.total: int | None = None
            self.done = 0

        def start(self, description: str, total: int | None) -> None:
            self.total = total

        def advance(self, amount: int = 1) -> None:
            self.done += amount

    counter = Counter()
    simulate(small(data_rate=0.1, data_corrected_share=0.5), counter)
    assert counter.total == counter.done == 1_000


def test_nothing_to_migrate_is_complete_on_the_start_day() -> None:
    result = simulate(small(installations=0))
    assert (result.completion_date, result.days, result.peak_backlog) == (MONDAY, (), 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"parties": 0},
        {"installations": -1},
        {"party_shares": (1.0, 2.0)},
        {"transient_rate": 0.7, "data_rate": 0.4},
        {"final_rate": -0.1},
        {"cohorts": ()},
        {"cohorts": (Cohort("A", 1, 10), Cohort("A", 1, 10))},
        {"daily_demand": ((1, 2),)},
        {"demand_horizon_days": 0},
        {"max_days": 0},
        {"data_correction_days": 0},
    ],
)
def test_settings_that_make_no_sense_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid plan settings"):
        small(**changes)


@settings(max_examples=40, deadline=None)
@given(
    installations=st.integers(0, 3_000),
    parties=st.integers(1, 4),
    capacity=st.integers(0, 600),
    rates=st.tuples(*(st.sampled_from([0, 0.05, 0.3, 1.0]) for _ in range(3))).filter(
        lambda r: sum(r) <= 1
    ),
    corrected=st.sampled_from([0, 0.5, 1.0]),
    every_day=st.booleans(),
)
def test_conservation_holds_for_any_small_programme(
    installations: int,
    parties: int,
    capacity: int,
    rates: tuple[float, float, float],
    corrected: float,
    every_day: bool,
) -> None:
    result = simulate(
        PlanSettings(
            start=MONDAY,
            installations=installations,
            parties=parties,
            cohorts=(Cohort("IOC", 0.3, capacity), Cohort("FOC", 0.7, 250)),
            transient_rate=rates[0],
            data_rate=rates[1],
            final_rate=rates[2],
            data_corrected_share=corrected,
            working_days_only=not every_day,
            max_days=400,
        )
    )
    settled = result.commissioned + result.excluded + result.stranded
    assert settled + result.unfinished == installations
    assert result.completed == (result.unfinished == 0)
    for d in result.days:
        assert d.attempted == d.commissioned + d.failed + d.excluded
        assert all(sum(c.allocated) <= c.capacity for c in d.cohorts)


def test_the_plan_command_prints_one_json_object_with_the_figures(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("plan")(plan)
    app.command("other")(lambda: None)  # a second command, so "plan" is named as in s1adopt
    chart = tmp_path / "plan.png"
    outcome = CliRunner().invoke(
        app,
        [
            "plan",
            "--installations=2000",
            "--parties=2",
            "--start=2026-01-05",
            "--backoff=1,3",
            "--json",
            f"--chart={chart}",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    body = json.loads(outcome.stdout)
    assert body["settings"]["retry_rules"] == {"max_attempts": 5, "backoff_days": [1, 3]}
    assert body["days"] == len(body["per_day"])
    assert body["completion_date"] == body["per_day"][-1]["day"]
    assert body["commissioned"] + body["excluded"] + body["stranded"] == 2000
    assert body["peak_backlog"] == max(d["backlog"] for d in body["per_day"])
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_the_plan_command_refuses_settings_that_make_no_sense() -> None:
    app = typer.Typer()
    app.command("plan")(plan)
    app.command("other")(lambda: None)
    outcome = CliRunner().invoke(app, ["plan", "--transient-rate=0.9", "--final-rate=0.5"])
    assert outcome.exit_code == 2
    assert "add up to at most 1" in " ".join(outcome.output.split())
