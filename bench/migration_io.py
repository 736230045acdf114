"""What ``migrate`` asks of the store: statements, commits and rows written, per phase.

Runs the same migration as ``bench/migration.py`` (a fresh fleet served by an emulator
process, a fresh SQLite store) with a SQLAlchemy event counter on the engine, and prints per
phase (intake with authorisation and release, the work queue's drain, the reports) the SQL
round trips (an executemany counts once), the commits and the rows written (INSERT, UPDATE
and DELETE row counts), then the drain's figures per chunk and per installation, and the
rows written per table. Counts, not times: they do not depend on the machine's load.

    python bench/migration_io.py [--installations 5000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PHASES = ("intake", "drain", "reports")


def main(workdir: Path, installations: int) -> dict[str, Any]:
    """Migrate a fresh fleet and print (and return) the store's figures per phase."""
    from sqlalchemy import event

    from bench.machine import describe
    from s1adopt.bootstrap import Application
    from s1adopt.config import Settings
    from s1adopt.emulators.fleet import generate_fleet
    from s1adopt.entrypoints.demo import start_emulator
    from s1adopt.entrypoints.migration_run import run_migration

    print(f"machine: {describe()}")
    run_dir = workdir / f"migration-io-{installations}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    settings = Settings(
        database_url=f"sqlite:///{run_dir / 'bench.db'}",
        key_dir=run_dir / "keys",
        report_dir=run_dir / "reports",
    )
    app = Application(settings)
    fleet = generate_fleet(
        run_dir / "fleet", installations, 0.05, 1, app.keyring.transport_public_key
    )
    phase = [PHASES[0]]
    statements: Counter[str] = Counter()
    commits: Counter[str] = Counter()
    rows: Counter[str] = Counter()
    by_table: Counter[tuple[str, str, str]] = Counter()

    def counted(
        _conn: Any, cursor: Any, statement: str, params: Any, _ctx: Any, many: bool
    ) -> None:
        statements[phase[0]] += 1
        words = statement.split()
        verb = words[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE"):
            written = max(cursor.rowcount, 0)
            if verb == "INSERT" and " RETURNING " in statement:  # its row count reads 0
                written = len(params) if many else 1
            rows[phase[0]] += written
            table = words[1] if verb == "UPDATE" else words[2]
            by_table[(phase[0], verb, table)] += written

    def committed(_conn: Any) -> None:
        commits[phase[0]] += 1

    event.listen(app.engine, "after_cursor_execute", counted)
    event.listen(app.engine, "commit", committed)
    make_engine = app.work_engine

    def work_engine(*args: Any, **kwargs: Any) -> Any:
        engine = make_engine(*args, **kwargs)
        drain = engine.drain

        async def counted_drain(*a: Any, **k: Any) -> None:
            phase[0] = "drain"
            try:
                await drain(*a, **k)
            finally:
                phase[0] = "reports"

        engine.drain = counted_drain  # type: ignore[method-assign]
        return engine

    app.work_engine = work_engine  # type: ignore[method-assign]
    emulator, control = start_emulator(run_dir / "fleet", run_dir / "emulator.log")
    try:
        run = run_migration(app, fleet.files, control, show_progress=False)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    chunks = -(-installations // settings.chunk_size)
    print(f"outcomes: {run.summary.outcomes}")
    print(f"{'phase':<8} {'statements':>10} {'commits':>8} {'rows written':>13} {'rows/inst':>10}")
    for name in PHASES:
        print(
            f"{name:<8} {statements[name]:>10,} {commits[name]:>8,} {rows[name]:>13,} "
            f"{rows[name] / installations:>10.2f}"
        )
    print(
        f"drain per chunk of {settings.chunk_size} ({chunks} chunks): "
        f"{statements['drain'] / chunks:.1f} statements, {commits['drain'] / chunks:.1f} commits"
    )
    print("rows written per table and phase:")
    for (name, verb, table), count in sorted(by_table.items()):
        print(f"  {name:<8} {verb:<7} {table:<24} {count:>9,} {count / installations:>7.2f}")
    return {
        "statements": dict(statements),
        "commits": dict(commits),
        "rows": dict(rows),
        "chunks": chunks,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=5_000)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    main(args.workdir, args.installations)
