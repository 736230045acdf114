"""`s1adopt programme run` through the CLI, from a generated exchange, as a user would run it:
reports that add up, allocations within capacity and DMIN, unauthorised installations never
contacted, repeated SIGKILLs that change nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from tests.e2e.conftest import cli

CAPACITY = {"IOC": 400, "MOC": 400, "FOC": 400}
DMIN = 100


def _generate(tmp: Path, installations: int, seed: int, suppliers: int = 3) -> dict[str, Any]:
    done = cli(
        "fleet",
        "generate",
        "--installations",
        str(installations),
        "--suppliers",
        str(suppliers),
        "--seed",
        str(seed),
        "--out",
        "fleet",
        cwd=tmp,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads((tmp / "fleet" / "expected.json").read_text()))


def _run(tmp: Path, url: str, days: int) -> dict[str, Any]:
    done = cli(
        "programme",
        "run",
        "--exchange",
        "fleet/exchange",
        "--headend",
        url,
        "--days",
        str(days),
        "--json",
        cwd=tmp,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _reported_days(tmp: Path) -> list[dict[str, Any]]:
    done = cli("report", "days", "--json", cwd=tmp)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _outcomes(tmp: Path) -> dict[str, str | None]:
    with sqlite3.connect(tmp / "s1adopt.db") as db:
        rows = db.execute(
            "SELECT reference, state, failure_reason, electricity_only FROM installation"
        ).fetchall()
    result: dict[str, str | None] = {}
    for reference, state, reason, electricity_only in rows:
        if state == "commissioned":
            result[reference] = (
                "commissioned_electricity_only" if electricity_only else "commissioned"
            )
        elif state in ("failed", "excluded"):
            result[reference] = reason
        else:
            result[reference] = None
    return result


def _devices_by_installation(tmp: Path) -> dict[str, list[str]]:
    with sqlite3.connect(tmp / "s1adopt.db") as db:
        rows = db.execute(
            "SELECT i.reference, d.device_id FROM device d "
            "JOIN installation i ON i.id = d.installation_id"
        ).fetchall()
    found: dict[str, list[str]] = defaultdict(list)
    for reference, device in rows:
        found[reference].append(device.replace("-", ""))
    return found


def _check_programme(tmp: Path, expected: dict[str, Any], stats: dict[str, Any]) -> None:
    """Every day adds up per party; allocations respect capacity and DMIN; authorised
    installations end as expected.json says, unauthorised ones are never contacted."""
    reported = _reported_days(tmp)
    backlog: dict[str, int] = {}
    for day in sorted(reported, key=lambda d: (d["date"], d["party"])):
        party = day["party"]
        assert day["attempted"] == day["commissioned"] + day["failed"] + day["excluded"], day
        assert day["failed"] == sum(day["failed_by_reason"].values()), day
        assert day["released"] == day["allocated"] - day["scheduled"] >= 0, day
        before = backlog.get(party, 0)
        assert day["backlog"] == (
            before
            + day["authorised"]
            - day["commissioned"]
            - day["excluded"]
            - day["excluded_in_validation"]
        ), day
        backlog[party] = day["backlog"]
    with sqlite3.connect(tmp / "s1adopt.db") as db:
        allocations = db.execute(
            "SELECT day, cohort, party, demand, allocated FROM allocation"
        ).fetchall()
    by_cell: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for day, cohort, _party, demand, allocated in allocations:
        by_cell[(day, cohort)].append((demand, allocated))
    for (_day, cohort), cells in by_cell.items():
        assert sum(a for _, a in cells) <= CAPACITY[cohort]
        wanting = [c for c in cells if c[0] > 0]
        if CAPACITY[cohort] >= len(wanting) * DMIN:
            assert all(a >= min(DMIN, d) for d, a in wanting)
        assert all(a <= d for d, a in cells)
    unauthorised = set(expected["unauthorised"])
    assert unauthorised, "the fleet should leave some installations unauthorised"
    touched = {hex_id.upper() for hex_id in stats["devices"]}
    devices = _devices_by_installation(tmp)
    contacted = [r for r in unauthorised if any(d in touched for d in devices.get(r, []))]
    assert contacted == [], f"unauthorised installations contacted: {contacted[:5]}"
    outcomes = _outcomes(tmp)
    for reference, want in expected["installations"].items():
        if reference in unauthorised:
            assert outcomes[reference] in (None, want), reference  # never attempted
        else:
            assert outcomes[reference] == want, reference
    assert max(c["credential_replacements"] for c in stats["devices"].values()) == 1


def test_a_programme_of_three_suppliers_runs_to_completion_within_sixty_days(
    tmp_path: Path, emulator_for: Any
) -> None:
    expected = _generate(tmp_path, 3000, 21)
    emulator = emulator_for(tmp_path / "fleet", tmp_path)
    result = _run(tmp_path, emulator.url, 60)
    assert len(result["days"]) == 60
    assert result["totals"]["outstanding"] == 0
    assert result["totals"]["commissioned"] > 0
    last = result["days"][-1]["parties"]
    assert len(last) == 3
    assert all(p["outstanding"] == 0 for p in last.values())
    _check_programme(tmp_path, expected, emulator.stats(tmp_path))
    outbox = tmp_path / "fleet" / "exchange" / "90-B3-D5-1F-30-01-00-00" / "outbox"
    names = [p.name for p in outbox.iterdir()]
    for prefix in ("ACK_DC-", "ACK_MA_", "MR_", "DR_", "MRR_", "DMFU_", "DMMS_"):
        assert any(n.startswith(prefix) for n in names), prefix
    assert (tmp_path / "s1adopt-reports" / "programme-progress.png").stat().st_size > 10_000
    # a second run takes nothing in twice and attempts nothing again
    again = _run(tmp_path, emulator.url, 1)
    assert again["days"][0]["files"] == []
    assert again["totals"]["attempted"] == 0


def _kill_repeatedly(
    tmp: Path, args: list[str], kills: int, rng: random.Random, window: tuple[float, float]
) -> int:
    """Start ``s1adopt ARGS`` and SIGKILL it ``kills`` times at random moments; how many
    runs were killed before they ended by themselves."""
    killed = 0
    for _ in range(kills):
        process = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", *args],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "S1ADOPT_CHUNK_SIZE": "100"},
        )
        try:
            process.wait(timeout=rng.uniform(*window))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed += 1
    return killed


def test_repeated_sigkills_of_programme_run_change_nothing_in_the_outcome(
    tmp_path: Path, emulator_for: Any
) -> None:
    expected = _generate(tmp_path, 1500, 22)
    emulator = emulator_for(tmp_path / "fleet", tmp_path)
    args = ["programme", "run", "--exchange", "fleet/exchange", "--headend", emulator.url]
    rng = random.Random(6)
    killed = _kill_repeatedly(tmp_path, [*args, "--days", "12"], 8, rng, (1.5, 4.0))
    assert killed >= 4, "the runs ended before they could be killed; use a bigger fleet"
    result = _run(tmp_path, emulator.url, 12)
    assert result["totals"]["outstanding"] == 0
    _check_programme(tmp_path, expected, emulator.stats(tmp_path))
    with sqlite3.connect(tmp_path / "s1adopt.db") as db:
        attempts = dict(db.execute("SELECT attempts, count(*) FROM installation GROUP BY 1"))
        ends = db.execute("SELECT count(*) FROM attempt WHERE number > 0").fetchone()[0]
        answered = db.execute("SELECT count(*), count(DISTINCT name) FROM exchange_file").fetchone()
    assert set(attempts) <= {0, 1}, f"an attempt was repeated: {attempts}"
    assert ends == attempts.get(1, 0)
    assert answered[0] == answered[1], "a file was taken in twice"


def test_repeated_sigkills_of_migrate_change_nothing_in_the_outcome(
    tmp_path: Path, emulator_for: Any
) -> None:
    done = cli(
        "fleet",
        "generate",
        "--installations",
        "2000",
        "--seed",
        "9",
        "--out",
        "fleet",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    expected = json.loads((tmp_path / "fleet" / "expected.json").read_text())
    emulator = emulator_for(tmp_path / "fleet", tmp_path)
    files = [str(p) for p in sorted((tmp_path / "fleet" / "migration").glob("*.xml"))]
    args = ["migrate", *files, "--headend", emulator.url, "--json"]
    rng = random.Random(8)
    started = time.monotonic()
    killed = _kill_repeatedly(tmp_path, args, 8, rng, (1.5, 4.0))
    assert killed >= 5, f"only {killed} kills landed in {time.monotonic() - started:.0f} s"
    final = cli(*args, cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    result = json.loads(final.stdout)
    assert result["unfinished"] == 0
    assert result["outcomes"] == expected["outcomes"]
    outcomes = _outcomes(tmp_path)
    assert outcomes == expected["installations"]
    stats = emulator.stats(tmp_path)
    assert max(c["credential_replacements"] for c in stats["devices"].values()) == 1
    with sqlite3.connect(tmp_path / "s1adopt.db") as db:
        attempts = dict(db.execute("SELECT attempts, count(*) FROM installation GROUP BY 1"))
    assert set(attempts) <= {0, 1}, f"an attempt was repeated: {attempts}"
