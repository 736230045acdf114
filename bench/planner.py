"""The programme planner: how long it takes to simulate the whole GB SMETS1 programme.

Simulates the default GB-like programme (15 million installations, 20 parties, the three
cohorts with their default capacities and failure rates) with ``services.planner.simulate``,
the same code as `s1adopt plan`: the MSM's ``allocate`` per cohort and day and the MEHRS
``RetryRules`` per group of failures. Best of ``--repeat`` runs; the budget is "well under a
minute" on one 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

GB_FLEET = 15_000_000
GB_PARTIES = 20
BUDGET_SECONDS = 60.0
START = date(2026, 1, 5)  # a Monday: a fixed start keeps the runs comparable


def main(installations: int = GB_FLEET, parties: int = GB_PARTIES, repeat: int = 3) -> float:
    """Time the simulation, print the figures with the machine line; the best time in seconds."""
    from bench.machine import describe
    from s1adopt.services.planner import PlanSettings, simulate

    print(f"machine: {describe()}")
    settings = PlanSettings(start=START, installations=installations, parties=parties)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = simulate(settings)
        best = min(best, time.perf_counter() - started)
    done = result.completion_date
    print(
        f"programme: {installations:,} installations, {parties} parties, "
        f"{sum(c.daily_capacity for c in settings.cohorts):,} a migration day"
    )
    print(
        f"complete: {done.isoformat() if done else 'not within the day limit'} after "
        f"{len(result.days):,} migration days; commissioned {result.commissioned:,}, excluded "
        f"{result.excluded:,}, stranded {result.stranded:,}"
    )
    print(
        f"simulation: best of {repeat}: {best:.2f} s ({len(result.days) / best:,.0f} days/s, "
        f"{installations / best / 1e6:.1f} M installations/s); budget {BUDGET_SECONDS:.0f} s: "
        f"{best / BUDGET_SECONDS:.1%} of it"
    )
    return best


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=GB_FLEET)
    parser.add_argument("--parties", type=int, default=GB_PARTIES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    main(args.installations, args.parties, args.repeat)
