"""Validation throughput: s1adopt's streaming reader and rules against a bare lxml iterparse.

Measured side by side in one run, alternating, best of ``--repeat`` runs each:
  bare     lxml iterparse of the same file, releasing elements (the floor)
  schema   MigrationFileReader: safe intake checks + XSD validation while streaming + records
  rules    schema + the Data Validation rules of every record (no database)
Also the peak Python heap (tracemalloc) of `rules` on the file and on a file ten times smaller.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.validation import validate_installation
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.formats.migration.reader import MigrationFileReader


def bare(path: Path) -> int:
    count = 0
    for _, elem in etree.iterparse(
        str(path), events=("end",), tag="{urn:s1adopt:migration:v1}Installation"
    ):
        count += 1
        elem.clear()
        while elem.getprevious() is not None:
            del elem.getparent()[0]
    return count


def schema(path: Path) -> int:
    with MigrationFileReader(path) as reader:
        return sum(1 for _ in reader)


def rules(path: Path, eligible: EligibleProducts | None = None) -> int:
    eligible = eligible or load_eligible_products()
    failures = 0
    with MigrationFileReader(path) as reader:
        for record in reader:
            if not validate_installation(record, eligible, lambda _: False).ok:
                failures += 1
    return failures


def best_of(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    best = {name: float("inf") for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def peak_heap(run: Callable[[], object]) -> int:
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(workdir: Path, installations: int, repeat: int) -> None:
    from bench.fleets import ensure_fleet
    from bench.machine import describe

    print(f"machine: {describe()}")
    big = ensure_fleet(workdir, round(installations / 0.42))  # FOC file: about 42% of the fleet
    small = ensure_fleet(workdir, max(round(installations / 4.2), 100))
    eligible = load_eligible_products()
    size = big.stat().st_size
    installations = bare(big)  # the fleet is split by cohort: this file holds one cohort's share
    print(f"file: {big} ({installations:,} installations, {size / 1e6:.1f} MB)")
    times = best_of(
        {
            "bare": lambda: bare(big),
            "schema": lambda: schema(big),
            "rules": lambda: rules(big, eligible),
        },
        repeat,
    )
    floor = times["bare"]
    print(f"{'run':8} {'seconds':>8} {'inst/s':>10} {'MB/s':>7} {'vs bare':>8}")
    for name, seconds in times.items():
        print(
            f"{name:8} {seconds:8.2f} {installations / seconds:10,.0f} "
            f"{size / 1e6 / seconds:7.1f} {seconds / floor:7.2f}x"
        )
    heap_small = peak_heap(lambda: rules(small, eligible))
    heap_big = peak_heap(lambda: rules(big, eligible))
    print(
        f"peak heap of `rules`: {heap_small / 1e6:.2f} MB on a {bare(small):,}-"
        f"installation file, {heap_big / 1e6:.2f} MB on {installations:,}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    main(args.workdir, args.installations, args.repeat)
