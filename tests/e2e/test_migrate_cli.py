"""`s1adopt migrate` through the CLI: outcomes, SIGKILL and resume, hostile files."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import cli


def _generate(tmp: Path, installations: int, seed: int) -> tuple[Path, dict[str, Any]]:
    done = cli(
        "fleet",
        "generate",
        "--installations",
        str(installations),
        "--fault-rate",
        "0.05",
        "--seed",
        str(seed),
        "--out",
        "fleet",
        cwd=tmp,
    )
    assert done.returncode == 0, done.stderr
    fleet = tmp / "fleet"
    return fleet, json.loads((fleet / "expected.json").read_text())


def _migrate(tmp: Path, fleet: Path, url: str) -> dict[str, Any]:
    files = [str(p) for p in sorted((fleet / "migration").glob("*.xml"))]
    done = cli("migrate", *files, "--headend", url, "--json", cwd=tmp)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_migrate_json_summary_equals_expected_and_inventory_shows_the_devices(
    tmp_path: Path, emulator_for: Any
) -> None:
    fleet, expected = _generate(tmp_path, 150, 5)
    emulator = emulator_for(fleet, tmp_path)
    result = _migrate(tmp_path, fleet, emulator.url)
    assert result["total"] == expected["total"]
    assert result["outcomes"] == expected["outcomes"]
    first_ok = next(ref for ref, o in expected["installations"].items() if o == "commissioned")
    shown = cli("inventory", "show", first_ok, "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["outcome"] == "commissioned"
    assert {d["smiStatus"] for d in view["devices"]} == {"Commissioned"}
    device = view["devices"][0]["deviceId"]
    by_device = json.loads(
        cli("inventory", "show", device.replace("-", "").lower(), "--json", cwd=tmp_path).stdout
    )
    assert by_device["installation"] == first_ok
    missing = cli("inventory", "show", "00-00-00-00-00-00-00-00", cwd=tmp_path)
    assert missing.returncode == 3
    assert "not in the inventory" in missing.stderr


def test_migrate_killed_halfway_then_rerun_ends_each_installation_once_and_as_expected(
    tmp_path: Path, emulator_for: Any
) -> None:
    fleet, expected = _generate(tmp_path, 2000, 9)
    emulator = emulator_for(fleet, tmp_path)
    files = [str(p) for p in sorted((fleet / "migration").glob("*.xml"))]
    process = subprocess.Popen(
        [sys.executable, "-m", "s1adopt", "migrate", *files, "--headend", emulator.url, "--json"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "S1ADOPT_CHUNK_SIZE": "100"},
    )
    deadline = time.monotonic() + 300
    replaced = 0
    while time.monotonic() < deadline and process.poll() is None:
        replaced = emulator.stats(tmp_path)["totals"]["credential_replacements"]
        if replaced >= 1500:
            break
        time.sleep(0.05)
    assert process.poll() is None, "migrate finished before it could be killed; use a bigger fleet"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert replaced > 0

    result = _migrate(tmp_path, fleet, emulator.url)
    assert result["total"] == expected["total"]
    assert result["outcomes"] == expected["outcomes"]
    assert result["unfinished"] == 0
    stats = emulator.stats(tmp_path)
    assert max(c["credential_replacements"] for c in stats["devices"].values()) == 1
    with sqlite3.connect(tmp_path / "s1adopt.db") as db:
        states = dict(db.execute("SELECT state, count(*) FROM installation GROUP BY state"))
        pending_work = db.execute("SELECT count(*) FROM work_item").fetchone()[0]
        references = db.execute("SELECT count(DISTINCT reference) FROM installation").fetchone()[0]
    assert set(states) <= {"commissioned", "failed", "excluded"}
    assert sum(states.values()) == references == expected["total"]
    assert pending_work == 0
    # the reports of the batches agree with expected.json installation by installation
    outcomes: dict[str, str] = {}
    for batch in result["batches"]:
        with open(tmp_path / batch["report"], newline="") as handle:
            outcomes.update((row["installation"], row["outcome"]) for row in csv.DictReader(handle))
    assert outcomes == expected["installations"]


def test_a_hostile_file_is_rejected_by_the_cli_and_leaves_the_store_unchanged(
    tmp_path: Path, emulator_for: Any
) -> None:
    fleet, _ = _generate(tmp_path, 20, 2)
    emulator = emulator_for(fleet, tmp_path)
    hostile = tmp_path / "hostile.xml"
    original = next((fleet / "migration").glob("*.xml")).read_text()
    hostile.write_text(
        original.replace(
            "?>", '?><!DOCTYPE MigrationFile [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1
        )
    )
    done = cli("migrate", str(hostile), "--headend", emulator.url, "--json", cwd=tmp_path)
    assert done.returncode == 2
    assert "DTD" in done.stdout + done.stderr
    with sqlite3.connect(tmp_path / "s1adopt.db") as db:
        assert db.execute("SELECT count(*) FROM installation").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM migration_batch").fetchone()[0] == 0


def test_migrate_with_two_worker_processes_ends_as_expected(
    tmp_path: Path, emulator_for: Any
) -> None:
    fleet, expected = _generate(tmp_path, 400, 13)
    emulator = emulator_for(fleet, tmp_path)
    files = [str(p) for p in sorted((fleet / "migration").glob("*.xml"))]
    done = cli(
        "migrate", *files, "--headend", emulator.url, "--json", "--workers", "2", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcomes"] == expected["outcomes"]
    assert result["unfinished"] == 0
    stats = emulator.stats(tmp_path)
    assert max(c["credential_replacements"] for c in stats["devices"].values()) == 1
