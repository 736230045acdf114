"""Migration rates side by side in one run: embedded (SQLite, in process), in process on
PostgreSQL, and scale-out (PostgreSQL, RabbitMQ, N `s1adopt worker` processes); then the
latency-bound rate with WAN-like delays at a few session limits.

Every run migrates a fresh copy of the same generated fleet against its own emulator, as
`s1adopt migrate FILES --headend URL --json` does (the whole command is timed, process start
and intake included). Rows written and commits per installation come from PostgreSQL's own
counters (``pg_stat_database``); on SQLite from the statements the process executed.
PostgreSQL and RabbitMQ are started with ``scripts/postgres-up.sh`` and
``scripts/rabbitmq-up.sh`` unless ``S1ADOPT_BENCH_POSTGRES_URL`` / ``S1ADOPT_BENCH_BROKER_URL``
name them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare_migration import timed_migrate  # noqa: E402 - after the path is set


@dataclass
class Run:
    label: str
    installations: int
    seconds: float
    rows: float | None = None  # rows written per installation
    commits: float | None = None  # commits (SQL round-trip batches) per installation
    peak_sessions: str = ""

    @property
    def rate(self) -> float:
        return self.installations / self.seconds


def _service_url(env: str, script: str, *args: str) -> str:
    url = os.environ.get(env)
    if url:
        return url
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / script), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _fresh_database(admin_url: str) -> str:
    import psycopg

    name = f"s1adopt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_counters(url: str) -> tuple[int, int]:
    """(rows written, commits) of the database so far."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    time.sleep(1.0)  # backends report their counters when idle
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("SELECT pg_stat_clear_snapshot()")
        row = c.execute(
            "SELECT tup_inserted + tup_updated + tup_deleted, xact_commit "
            "FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _peaks(control: str) -> str:
    with urllib.request.urlopen(f"{control}/stats?devices=none") as response:
        stats = json.loads(response.read())
    return " ".join(
        f"{h['sessions']['peak']}/{h['sessions']['limit']}" for h in stats["headends"].values()
    )


def _one(
    label: str,
    template: Path,
    run_dir: Path,
    database: str,
    broker: str | None,
    workers: int,
    emulator_args: tuple[str, ...] = (),
    admin_url: str | None = None,
) -> Run:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(template / "fleet", run_dir / "fleet")
    shutil.copytree(template / "keys", run_dir / "keys")
    env = {
        **os.environ,
        "S1ADOPT_DATABASE_URL": database,
        "S1ADOPT_KEY_DIR": str(run_dir / "keys"),
        "S1ADOPT_REPORT_DIR": str(run_dir / "reports"),
    }
    env.pop("S1ADOPT_BROKER_URL", None)
    if broker:
        env["S1ADOPT_BROKER_URL"] = broker
        env["S1ADOPT_WORK_QUEUE"] = f"s1adopt.bench.{uuid.uuid4().hex[:8]}"
    subprocess.run(  # the schema, outside the measurement
        [sys.executable, "-m", "s1adopt", "report", "days"], env=env, capture_output=True
    )
    before = _pg_counters(database) if database.startswith("postgresql") else None
    from s1adopt.entrypoints.demo import start_emulator

    emulator, control = start_emulator(run_dir / "fleet", run_dir / "emulator.log", *emulator_args)
    pool = [
        subprocess.Popen(
            [sys.executable, "-m", "s1adopt", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(run_dir / f"worker-{i}.log", "w"),  # noqa: SIM115
        )
        for i in range(workers if broker else 0)
    ]
    try:
        time.sleep(2.0 if pool else 0.0)  # workers connected before the clock starts
        seconds, result = timed_migrate(run_dir, control, env)
        peaks = _peaks(control)
    finally:
        for worker in pool:
            worker.terminate()
        for worker in pool:
            worker.wait(timeout=60)
        emulator.terminate()
        emulator.wait(timeout=30)
    total = int(result["total"])
    run = Run(label, total, seconds, peak_sessions=peaks)
    if before is not None:
        after = _pg_counters(database)
        run.rows = (after[0] - before[0]) / total
        run.commits = (after[1] - before[1]) / total
    if admin_url and database.startswith("postgresql"):
        _drop_database(admin_url, database)
    return run


def _template(workdir: Path, installations: int, seed: int) -> Path:
    """A fleet and the keys it was made for (copied for every run)."""
    template = workdir / f"template-{installations}-{seed}"
    if (template / "fleet" / "expected.json").exists():
        return template
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    env = {**os.environ, "S1ADOPT_KEY_DIR": str(template / "keys")}
    subprocess.run(
        [
            sys.executable, "-m", "s1adopt", "fleet", "generate", "--installations",
            str(installations), "--seed", str(seed), "--out", str(template / "fleet"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )  # fmt: skip
    return template


def _table(runs: list[Run], baseline: Run, ratio: str) -> None:
    print(
        f"{'run':<38}{'inst.':>7}{'seconds':>9}{'inst./s':>9}{ratio:>11}"
        f"{'rows/inst.':>11}{'commits/inst.':>14}  peak/limit sessions"
    )
    for r in runs:
        rows = f"{r.rows:.1f}" if r.rows is not None else "-"
        commits = f"{r.commits:.2f}" if r.commits is not None else "-"
        print(
            f"{r.label:<38}{r.installations:>7,}{r.seconds:>9.1f}{r.rate:>9.0f}"
            f"{r.rate / baseline.rate:>11.2f}{rows:>11}{commits:>14}  {r.peak_sessions}"
        )


def main(
    workdir: Path,
    installations: int,
    workers: list[int],
    wan_delay: float,
    wan_limits: list[int],
) -> None:
    from bench.machine import describe

    print(f"machine: {describe()}")
    workdir = workdir / "scaleout"
    workdir.mkdir(parents=True, exist_ok=True)
    admin = _service_url("S1ADOPT_BENCH_POSTGRES_URL", "postgres-up.sh")
    broker = _service_url("S1ADOPT_BENCH_BROKER_URL", "rabbitmq-up.sh")
    template = _template(workdir, installations, 31)
    runs: list[Run] = []
    sqlite = f"sqlite:///{workdir / 'embedded' / 'bench.db'}"
    runs.append(
        _one("embedded (SQLite, 1 process)", template, workdir / "embedded", sqlite, None, 0)
    )
    database = _fresh_database(admin)
    runs.append(
        _one("in process on PostgreSQL", template, workdir / "pg", database, None, 0, (), admin)
    )
    for n in workers:
        database = _fresh_database(admin)
        runs.append(
            _one(
                f"scale-out, {n} worker{'s' if n > 1 else ''}",
                template,
                workdir / f"workers-{n}",
                database,
                broker,
                n,
                (),
                admin,
            )
        )
    _table(runs, runs[0], "x embedded")

    print(f"\nWAN-like delay of {wan_delay:g} s per answer (emulator --wan-delay), 3 head ends:")
    small = _template(workdir, 300, 32)
    wan_runs: list[Run] = []
    for limit in wan_limits:
        database = _fresh_database(admin)
        wan_runs.append(
            _one(
                f"{limit} sessions per head end, 2 workers",
                small,
                workdir / f"wan-{limit}",
                database,
                broker,
                2,
                ("--wan-delay", str(wan_delay), "--session-limit", str(limit)),
                admin,
            )
        )
    _table(wan_runs, wan_runs[0], "x first")
    # the most a session in flight gave (3 head ends, each at its limit)
    per_session = max(r.rate / (3 * limit) for r, limit in zip(wan_runs, wan_limits, strict=True))
    record_day = 31_000
    print(
        f"per session in flight: {per_session:.4f} installations/s; the record day of "
        f"{record_day:,} installations in 8 hours ({record_day / 8 / 3600:.2f}/s) needs about "
        f"{record_day / 8 / 3600 / per_session:,.0f} sessions in flight across the head ends "
        f"at {wan_delay:g} s per answer"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=3_000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--wan-delay", type=float, default=1.0)
    parser.add_argument("--wan-limits", default="32,128,512")
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    args = parser.parse_args()
    main(
        args.workdir,
        args.installations,
        [int(w) for w in args.workers.split(",")],
        args.wan_delay,
        [int(n) for n in args.wan_limits.split(",")],
    )
