"""`s1adopt migrate` of this checkout against an earlier revision, side by side in one run.

The earlier revision is checked out with ``git worktree`` into the work directory and run from
its own source tree (``PYTHONPATH``) with this virtual environment. Both migrate copies of the
same generated fleet (the migration file format is the same), each against its own fresh
emulator and database, alternating A, B, A, B so that the machine's noise falls on both.
The time is the whole command, as a user sees it (process start and intake included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _worktree(revision: str, where: Path) -> Path:
    if where.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False)
        shutil.rmtree(where, ignore_errors=True)
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(where), revision],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return where / "src"


def _emulator(fleet: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "s1adopt", "emulator", "serve", str(fleet), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=open(log, "w"),  # noqa: SIM115 - owned by the child
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("control: "):
        process.kill()
        raise RuntimeError(f"the emulator did not start; see {log}")
    return process, line.split(" ", 1)[1].strip()


def _one_run(source: Path, fleet: Path, keys: Path, run_dir: Path) -> tuple[float, dict[str, int]]:
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(fleet, run_dir / "fleet")
    shutil.copytree(keys, run_dir / "keys")
    emulator, control = _emulator(run_dir / "fleet", run_dir / "emulator.log")
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "S1ADOPT_DATABASE_URL": f"sqlite:///{run_dir / 'store.db'}",
        "S1ADOPT_KEY_DIR": str(run_dir / "keys"),
        "S1ADOPT_REPORT_DIR": str(run_dir / "reports"),
    }
    try:
        elapsed, result = timed_migrate(run_dir, control, env)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
    return elapsed, dict(result["outcomes"])


def timed_migrate(run_dir: Path, control: str, env: dict[str, str]) -> tuple[float, Any]:
    """Run ``s1adopt migrate --json`` on ``run_dir/fleet``'s files as a user would: the
    seconds the whole command took and its JSON (``RuntimeError`` when it fails)."""
    files = sorted(str(p) for p in (run_dir / "fleet" / "migration").glob("*.xml"))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "s1adopt", "migrate", *files, "--headend", control, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"migrate failed in {run_dir}: {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def main(workdir: Path, installations: int, base: str, rounds: int) -> dict[str, float]:
    """Migrate the same fleet with ``base`` and with this checkout; print and return rates."""
    from bench.machine import describe
    from s1adopt.adapters.keys.vault import Keyring
    from s1adopt.emulators.fleet import generate_fleet

    print(f"machine: {describe()}")
    workdir.mkdir(parents=True, exist_ok=True)
    old_source = _worktree(base, workdir / "base-revision")
    keys = workdir / "compare-keys"
    shutil.rmtree(keys, ignore_errors=True)
    fleet = workdir / "compare-fleet"
    shutil.rmtree(fleet, ignore_errors=True)
    generate_fleet(fleet, installations, 0.05, 1, Keyring(keys).transport_public_key)
    sides = {f"base {base[:10]}": old_source, "this checkout": ROOT / "src"}
    times: dict[str, list[float]] = {name: [] for name in sides}
    outcomes: dict[str, dict[str, int]] = {}
    for round_ in range(rounds):
        for name, source in sides.items():
            elapsed, outcomes[name] = _one_run(
                source, fleet, keys, workdir / f"compare-{round_}-{name.split()[0]}"
            )
            times[name].append(elapsed)
            print(f"  round {round_ + 1} {name}: {installations / elapsed:,.0f} installations/s")
    rates = {name: installations / statistics.median(t) for name, t in times.items()}
    for name, rate in rates.items():
        print(f"{name}: median {statistics.median(times[name]):.2f} s, {rate:,.0f} installations/s")
    first, second = rates.values()
    print(f"ratio this/base: {second / first:.2f}")
    if len({json.dumps(o, sort_keys=True) for o in outcomes.values()}) != 1:
        print(f"note: the outcomes differ between the revisions: {outcomes}")
    return rates


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--installations", type=int, default=3_000)
    parser.add_argument("--base", default="b723c10", help="the revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out")
    args = parser.parse_args()
    main(args.workdir, args.installations, args.base, args.rounds)
