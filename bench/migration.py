"""Migration end to end against the emulated head end on loopback: installations per second.

Generates a fresh fleet, serves it from an emulator process, and runs the same code as
`s1adopt migrate` (intake, Device Testing, Commissioning, reports) on a fresh database. Prints the
rates per phase and what they imply for the whole GB SMETS1 fleet (about 15 million installations).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

GB_FLEET = 15_000_000


def main(workdir: Path, installations: int, database_url: str | None) -> None:
    from bench.machine import describe
    from s1adopt.bootstrap import Application
    from s1adopt.config import Settings
    from s1adopt.emulators.fleet import generate_fleet
    from s1adopt.entrypoints.demo import start_emulator
    from s1adopt.entrypoints.migration_run import run_migration

    print(f"machine: {describe()}")
    run_dir = workdir / f"migration-{installations}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    settings = Settings(
        database_url=database_url or f"sqlite:///{run_dir / 'bench.db'}",
        key_dir=run_dir / "keys",
        report_dir=run_dir / "reports",
    )
    app = Application(settings)
    started = time.perf_counter()
    fleet = generate_fleet(
        run_dir / "fleet", installations, 0.05, 1, app.keyring.transport_public_key
    )
    print(f"fleet of {installations:,} generated in {time.perf_counter() - started:.1f} s")
    emulator, control = start_emulator(run_dir / "fleet", run_dir / "emulator.log")
    try:
        assert app.engine is not None  # schema creation is not part of the measurement
        started = time.perf_counter()
        run = run_migration(app, fleet.files, control, show_progress=False)
        elapsed = time.perf_counter() - started
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    rate = run.summary.total / elapsed
    backend = settings.database_url.split(":", 1)[0]
    print(f"database: {backend}; outcomes: {run.summary.outcomes}")
    print(
        f"migrated {run.summary.total:,} installations in {elapsed:.1f} s: {rate:,.0f} "
        f"installations/s (emulator in a second process on the same 2-core machine)"
    )
    print(f"at this rate the GB fleet of {GB_FLEET:,} takes {GB_FLEET / rate / 3600:.1f} hours")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=5_000)
    parser.add_argument("--db", default=None, help="database URL (default a fresh SQLite file)")
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    main(args.workdir, args.installations, args.db)
